"""open_clip model loading and batched image embedding.

Loading resolves a :class:`ModelSpec` to weights in this order: an explicit
checkpoint file, then the local Hugging Face cache (and open_clip's own URL
download folder), then a download with progress. Offline with none of them,
it raises one :class:`~explorer.errors.WeightsNotFoundError` that explains
how to supply a checkpoint. Random weights are built only when the spec
requests them.

Embedding decodes images in ``torch.utils.data.DataLoader`` workers with
:func:`explorer.images.decode_image`, runs the image tower in batches and
returns L2-normalised float32 vectors of shape ``(n_images, dim)``. Vectors are
cached per image content hash, model and preprocessing, so an interrupted run
resumes and a repeated run does not call the model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from explorer.errors import ImageDecodeError, ModelLoadError, WeightsNotFoundError
from explorer.settings import ENV_CHECKPOINT, ENV_WEIGHTS

if TYPE_CHECKING:
    import torch

    from explorer.cache import ArtifactCache
    from explorer.dataset import Dataset

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "openai"

# Tiny architectures shipped in explorer/model_configs for tests and quick trials.
# They have no pretrained tags, only random weights or a local checkpoint.
TINY_VIT = "explorer-tiny-vit"
TINY_RESNET = "explorer-tiny-resnet"
MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"

# torch seed for untrained (random) weights, so that two runs build the same model.
RANDOM_WEIGHTS_SEED = 0

HF_HUB_PREFIX = "hf-hub:"
HF_CONFIG_NAME = "open_clip_config.json"
# Weights file names open_clip looks for in a Hugging Face repository, preferred first.
HF_WEIGHTS_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# Folder where open_clip stores weights downloaded from a plain URL (the OpenAI files).
OPEN_CLIP_URL_CACHE = Path("~/.cache/clip")
# Seconds to wait for a connection to the weights host before calling it unreachable.
DOWNLOAD_PROBE_TIMEOUT_S = 5.0

# Batching defaults. Batch size trades memory for throughput and 64 keeps a
# ViT-B-32 batch under 1 GB on CPU; fewer than two batches of work do not pay
# for starting worker processes.
DEFAULT_BATCH_SIZE = 64
MAX_DEFAULT_WORKERS = 4
MIN_IMAGES_FOR_WORKERS = 2 * DEFAULT_BATCH_SIZE

# A chunk of embeddings is written to the cache after this many new images or
# this many seconds, whichever comes first, and whenever a run stops.
CHUNK_IMAGES = 512
CHUNK_SECONDS = 30.0

ProgressCallback = Callable[[int, int], Any]


@dataclass(frozen=True)
class ModelSpec:
    """Model choice: an open_clip model and the source of its weights.

    ``name`` is an open_clip architecture (``ViT-B-32``) or an ``hf-hub:`` id.
    ``checkpoint``, when set, is a local weights file that takes precedence
    over a download. ``random_weights`` builds the architecture untrained. It
    is only used when requested, and every view that shows results states it.
    """

    name: str = DEFAULT_MODEL
    pretrained: str | None = DEFAULT_PRETRAINED
    checkpoint: Path | None = None
    random_weights: bool = False


@dataclass(frozen=True)
class PreprocessConfig:
    """Image preprocessing a model runs with, recorded with its embeddings.

    ``image_size`` is the model input in pixels as (height, width). ``mean``
    and ``std`` normalise RGB values in 0..1. ``resize_mode`` is open_clip's
    ``shortest`` (resize then centre crop), ``longest`` (resize then pad) or
    ``squash``. ``interpolation`` is ``bicubic`` or ``bilinear``.
    """

    image_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_mode: str = "shortest"
    interpolation: str = "bicubic"
    fill_color: int = 0

    @classmethod
    def from_open_clip(cls, config: dict[str, Any]) -> PreprocessConfig:
        """Build from open_clip's ``model.visual.preprocess_cfg`` dictionary."""
        size = config["size"]
        image_size = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
        return cls(
            image_size=image_size,
            mean=tuple(float(v) for v in config["mean"]),
            std=tuple(float(v) for v in config["std"]),
            resize_mode=str(config.get("resize_mode", "shortest")),
            interpolation=str(config.get("interpolation", "bicubic")),
            fill_color=int(config.get("fill_color", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-compatible values."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a loaded model, enough to key caches and label results.

    ``model_id`` names the architecture and the exact weights (tag, checkpoint
    hash or random seed); ``cache_key`` adds the preprocessing.
    """

    model_id: str
    name: str
    preprocess_config: PreprocessConfig
    is_random: bool
    weights_path: Path | None = None

    @property
    def cache_key(self) -> str:
        """Hash of the model id and preprocessing, used to key cached embeddings."""
        payload = json.dumps(
            {"model_id": self.model_id, "preprocess": self.preprocess_config.to_dict()}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    @property
    def description(self) -> str:
        """One line for banners and summaries, saying when weights are random."""
        if self.is_random:
            return f"{self.model_id} (RANDOM weights: results carry no meaning)"
        return self.model_id


@dataclass
class LoadedModel:
    """An open_clip model ready to embed images on ``device``.

    ``preprocess`` maps a PIL RGB image to a ``(3, height, width)`` float tensor.
    """

    model: torch.nn.Module
    preprocess: Callable[[Any], torch.Tensor]
    info: ModelInfo
    spec: ModelSpec
    device: str = "cpu"
    embed_dim: int = 0

    @property
    def model_id(self) -> str:
        """Architecture and weights id (see :class:`ModelInfo`)."""
        return self.info.model_id

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """Preprocessing the model runs with."""
        return self.info.preprocess_config

    @property
    def is_random(self) -> bool:
        """Whether the weights are untrained."""
        return self.info.is_random


# --------------------------------------------------------------------------
# Model loading
# --------------------------------------------------------------------------


def register_model_configs() -> None:
    """Register the explorer's tiny architectures with open_clip (once per process)."""
    _register_model_configs_once()


@functools.lru_cache(maxsize=1)
def _register_model_configs_once() -> None:
    import open_clip

    open_clip.add_model_config(MODEL_CONFIG_DIR)


def load_model(spec: ModelSpec, device: str = "cpu") -> LoadedModel:
    """Load the model a spec names, in evaluation mode on ``device``.

    Parameters
    ----------
    spec : ModelSpec
        Architecture and weight source.
    device : str, default "cpu"
        torch device for the model.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelLoadError
        Unknown model name or pretrained tag, a checkpoint path that is a
        directory or does not fit the architecture.
    WeightsNotFoundError
        A missing checkpoint file, or no weights available offline.
    """
    register_model_configs()
    started = time.perf_counter()
    if spec.name.startswith(HF_HUB_PREFIX):
        model, info = _load_hf_hub(spec, device)
    else:
        model, info = _load_builtin(spec, device)
    model.eval()

    from open_clip.transform import PreprocessCfg, image_transform_v2

    preprocess = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    embed_dim = int(getattr(model, "embed_dim", 0) or _output_dim(model))
    log.info("loaded %s in %.1f s", info.description, time.perf_counter() - started)
    return LoadedModel(model=model, preprocess=preprocess, info=info, spec=spec, device=device, embed_dim=embed_dim)


def _output_dim(model: torch.nn.Module) -> int:
    visual = model.visual
    return int(getattr(visual, "output_dim", 0))


def _validate_name(name: str) -> None:
    import open_clip

    known = open_clip.list_models()
    if name in known:
        return
    import difflib

    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    raise ModelLoadError(
        f"Unknown open_clip model {name!r}.{hint} See open_clip.list_models() for every "
        f"architecture, or use an 'hf-hub:ORG/REPO' id."
    )


def _valid_tags(name: str) -> list[str]:
    import open_clip

    return [tag for model_name, tag in open_clip.list_pretrained() if model_name == name]


def _tag_config(name: str, tag: str | None, *, strict: bool) -> dict[str, Any]:
    """Return open_clip's pretrained config of a name/tag pair, or {} when there is none.

    With ``strict`` an unknown tag raises. Otherwise an unknown tag is ignored
    when it is the default tag or the architecture has no tags at all, because
    the command-line default then does not apply.
    """
    import open_clip

    if not tag:
        return {}
    valid = _valid_tags(name)
    config = open_clip.get_pretrained_cfg(name, tag) if valid else {}
    if config:
        return config
    if not strict and (not valid or tag == DEFAULT_PRETRAINED):
        log.info("pretrained tag %r does not apply to %s; using the checkpoint as is", tag, name)
        return {}
    listed = ", ".join(valid) if valid else "none (this architecture has no pretrained weights)"
    raise ModelLoadError(
        f"Unknown pretrained tag {tag!r} for model {name!r}. Valid tags: {listed}. "
        f"Pass one with --pretrained, a weights file with --checkpoint, or --weights random."
    )


def _forced_settings(tag_config: dict[str, Any]) -> dict[str, Any]:
    """Return create_model arguments that give a tag's preprocessing and activation."""
    preprocess = {
        key: tag_config[key] for key in ("mean", "std", "interpolation", "resize_mode") if key in tag_config
    }
    return {
        "force_quick_gelu": bool(tag_config.get("quick_gelu", False)),
        "force_preprocess_cfg": preprocess or None,
    }


def _load_builtin(spec: ModelSpec, device: str) -> tuple[torch.nn.Module, ModelInfo]:
    _validate_name(spec.name)

    if spec.random_weights:
        tag_config = _tag_config(spec.name, spec.pretrained, strict=False)
        forced = _forced_settings(tag_config)
        model = _create_random(spec.name, device, forced)
        suffix = "-quickgelu" if forced["force_quick_gelu"] else ""
        model_id = f"{spec.name}:random-seed{RANDOM_WEIGHTS_SEED}{suffix}"
        log.warning("built %s with RANDOM weights (torch seed %d)", spec.name, RANDOM_WEIGHTS_SEED)
        return model, _info(model, model_id, spec.name, is_random=True, weights_path=None)

    if spec.checkpoint is not None:
        checkpoint = _checked_checkpoint(spec.checkpoint)
        tag_config = _tag_config(spec.name, spec.pretrained, strict=False)
        forced = _forced_settings(tag_config)
        model = _create_from_file(spec.name, checkpoint, device, forced)
        suffix = "-quickgelu" if forced["force_quick_gelu"] else ""
        model_id = f"{spec.name}:checkpoint-{file_digest(checkpoint)[:16]}{suffix}"
        log.info("weights file chosen: %s (explicit checkpoint)", checkpoint)
        return model, _info(model, model_id, spec.name, is_random=False, weights_path=checkpoint)

    if not spec.pretrained:
        raise ModelLoadError(
            f"No weights given for model {spec.name!r}. Pass a pretrained tag with --pretrained "
            f"(valid: {', '.join(_valid_tags(spec.name)) or 'none'}), a weights file with "
            f"--checkpoint, or --weights random."
        )
    tag_config = _tag_config(spec.name, spec.pretrained, strict=True)
    weights = _resolve_tag_weights(spec.name, spec.pretrained, tag_config)
    model = _create_from_file(spec.name, weights, device, _forced_settings(tag_config))
    tag = spec.pretrained.lower().replace("-", "_")
    return model, _info(model, f"{spec.name}:{tag}", spec.name, is_random=False, weights_path=weights)


def _create_random(name: str, device: str, forced: dict[str, Any]) -> torch.nn.Module:
    import open_clip
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        return open_clip.create_model(name, pretrained=None, device=device, **forced)


def _create_from_file(name: str, weights: Path, device: str, forced: dict[str, Any]) -> torch.nn.Module:
    import open_clip

    try:
        return open_clip.create_model(name, pretrained=str(weights), device=device, **forced)
    except (RuntimeError, KeyError, ValueError, OSError) as error:
        raise ModelLoadError(
            f"Weights file {weights} could not be loaded into model {name!r}: {error}. "
            f"Check that the file is an open_clip or OpenAI CLIP checkpoint of this architecture."
        ) from error
    except Exception as error:  # torch.load raises pickle errors for non-checkpoint files
        raise ModelLoadError(
            f"Weights file {weights} is not a readable checkpoint ({type(error).__name__}: {error})."
        ) from error


def _checked_checkpoint(path: Path | str) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise ModelLoadError(
            f"Checkpoint {path} is a directory; pass the weights file inside it "
            f"(for example open_clip_pytorch_model.bin or a .pt/.safetensors file)."
        )
    if not path.is_file():
        raise WeightsNotFoundError(
            f"Checkpoint file {path} does not exist. Check the --checkpoint path "
            f"(or the {ENV_CHECKPOINT} environment variable)."
        )
    return path


def _info(
    model: torch.nn.Module, model_id: str, name: str, *, is_random: bool, weights_path: Path | None
) -> ModelInfo:
    config = PreprocessConfig.from_open_clip(model.visual.preprocess_cfg)
    return ModelInfo(
        model_id=model_id, name=name, preprocess_config=config, is_random=is_random, weights_path=weights_path
    )


# --------------------------------------------------------------------------
# Weight resolution: local cache first, then a download
# --------------------------------------------------------------------------


def hub_offline() -> bool:
    """Return whether Hugging Face Hub access is switched off (``HF_HUB_OFFLINE``)."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _hf_cached_file(repo_id: str, filenames: Sequence[str]) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def _split_hf_hub(hf_hub: str) -> tuple[str, list[str]]:
    """Return the repository and candidate file names of an open_clip hub source.

    open_clip writes hub sources as ``org/repo/`` (default file names) or
    ``org/repo/file.bin`` (where a ``.safetensors`` twin is preferred).
    """
    if hf_hub.endswith("/"):
        return hf_hub.rstrip("/"), list(HF_WEIGHTS_NAMES)
    repo_id, filename = os.path.split(hf_hub)
    names = [filename]
    if filename.endswith((".bin", ".pth")):
        names.insert(0, filename[:-4] + ".safetensors")
    return repo_id, names


def _resolve_tag_weights(name: str, tag: str, tag_config: dict[str, Any]) -> Path:
    """Find the weights of a name/tag pair locally, else download them with progress."""
    hf_hub = tag_config.get("hf_hub", "")
    url = tag_config.get("url", "")

    if hf_hub:
        repo_id, filenames = _split_hf_hub(hf_hub)
        cached = _hf_cached_file(repo_id, filenames)
        if cached is not None:
            log.info("weights file chosen: %s (Hugging Face cache)", cached)
            return cached
    if url:
        url_cached = OPEN_CLIP_URL_CACHE.expanduser() / os.path.basename(url)
        if url_cached.is_file():
            log.info("weights file chosen: %s (open_clip download folder)", url_cached)
            return url_cached

    described = f"model {name!r} with pretrained tag {tag!r}"
    if hub_offline():
        raise WeightsNotFoundError(_no_weights_message(described, "HF_HUB_OFFLINE is set"))
    host = _download_host(hf_hub, url)
    unreachable = _unreachable_reason(host)
    if unreachable is not None:
        raise WeightsNotFoundError(_no_weights_message(described, unreachable))
    import open_clip

    log.warning("downloading weights for %s (progress below)", described)
    try:
        downloaded = open_clip.download_pretrained(tag_config)
    except Exception as error:  # network and hub errors come in many types
        raise WeightsNotFoundError(_no_weights_message(described, f"download failed: {error}")) from error
    if not downloaded:
        raise WeightsNotFoundError(_no_weights_message(described, "open_clip has no download source for it"))
    log.info("weights file chosen: %s (downloaded)", downloaded)
    return Path(downloaded)


def _download_host(hf_hub: str, url: str) -> str:
    """Return the host name a download of these weights would contact."""
    if hf_hub:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        return urllib.parse.urlparse(endpoint).hostname or "huggingface.co"
    return urllib.parse.urlparse(url).hostname or ""


def _unreachable_reason(host: str) -> str | None:
    """Return why ``host`` cannot be reached on port 443, or None when a connection opens.

    One short connection attempt replaces the Hugging Face client's retries,
    which take about a minute to fail on a machine without network access.
    """
    if not host:
        return None
    try:
        with socket.create_connection((host, 443), timeout=DOWNLOAD_PROBE_TIMEOUT_S):
            return None
    except OSError as error:
        return f"cannot connect to {host} ({error})"


def _no_weights_message(described: str, reason: str) -> str:
    return (
        f"No weights found for {described}: they are not in the local Hugging Face cache and cannot be "
        f"downloaded ({reason}). Supply a weights file with --checkpoint PATH or the environment "
        f"variable {ENV_CHECKPOINT}, copy the Hugging Face cache from a connected machine, or run "
        f"with --weights random ({ENV_WEIGHTS}=random) to try the tool with untrained weights."
    )


def _load_hf_hub(spec: ModelSpec, device: str) -> tuple[torch.nn.Module, ModelInfo]:
    import open_clip

    repo_id = spec.name[len(HF_HUB_PREFIX) :].strip("/")
    if not repo_id:
        raise ModelLoadError(f"Model id {spec.name!r} names no repository; use 'hf-hub:ORG/REPO'.")

    config_file = _hf_cached_file(repo_id, [HF_CONFIG_NAME])
    weights = _checked_checkpoint(spec.checkpoint) if spec.checkpoint is not None else None
    if weights is None and not spec.random_weights:
        weights = _hf_cached_file(repo_id, HF_WEIGHTS_NAMES)
    if config_file is None or (weights is None and not spec.random_weights):
        described = f"model {spec.name!r}"
        if hub_offline():
            raise WeightsNotFoundError(_no_weights_message(described, "HF_HUB_OFFLINE is set"))
        unreachable = _unreachable_reason(_download_host(repo_id, ""))
        if unreachable is not None:
            raise WeightsNotFoundError(_no_weights_message(described, unreachable))
        log.warning("downloading %s from the Hugging Face Hub (progress below)", repo_id)
        try:
            config_file = Path(open_clip.pretrained.download_pretrained_from_hf(repo_id, filename=HF_CONFIG_NAME))
            if weights is None and not spec.random_weights:
                weights = Path(open_clip.pretrained.download_pretrained_from_hf(repo_id))
        except Exception as error:  # network and hub errors come in many types
            raise WeightsNotFoundError(_no_weights_message(described, f"download failed: {error}")) from error

    # Build the architecture from the repository's config, then load the chosen weights.
    try:
        hub_config = json.loads(config_file.read_text(encoding="utf-8"))
        model_config = hub_config["model_cfg"]
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"Config {config_file} of {spec.name!r} is not a valid open_clip config: {error}") from error
    preprocess = hub_config.get("preprocess_cfg", {})
    forced = {"force_preprocess_cfg": {k: v for k, v in preprocess.items() if k != "size"} or None}

    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        model = open_clip.create_model(
            _register_hub_config(repo_id, model_config), pretrained=None, device=device, **forced
        )
    if spec.random_weights:
        model_id = f"{spec.name}:random-seed{RANDOM_WEIGHTS_SEED}"
        return model, _info(model, model_id, spec.name, is_random=True, weights_path=None)
    try:
        open_clip.load_checkpoint(model, str(weights))
    except Exception as error:  # state-dict mismatches and unreadable files
        raise ModelLoadError(f"Weights file {weights} could not be loaded into {spec.name!r}: {error}") from error
    log.info("weights file chosen: %s", weights)
    model_id = f"{spec.name}:{file_digest(weights)[:16]}"
    return model, _info(model, model_id, spec.name, is_random=False, weights_path=weights)


def _register_hub_config(repo_id: str, model_config: dict[str, Any]) -> str:
    """Register a hub repository's architecture with open_clip and return its local name."""
    import tempfile

    import open_clip

    local_name = "hub-" + repo_id.replace("/", "--")
    folder = Path(tempfile.mkdtemp(prefix="explorer-hub-config-"))
    config_path = folder / f"{local_name}.json"
    config_path.write_text(json.dumps(model_config), encoding="utf-8")
    open_clip.add_model_config(config_path)
    return local_name


@functools.lru_cache(maxsize=64)
def _file_digest_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """Return the sha256 of a file, remembered per (path, size, mtime) within a process."""
    stat = path.stat()
    return _file_digest_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def cached_model_info(spec: ModelSpec, cache: ArtifactCache) -> ModelInfo | None:
    """Return the stored identity of the model a spec names, or None if it was never loaded.

    The identity (model id and preprocessing) is stored per spec, keyed also by
    the checkpoint's size and modification time, so an unchanged rerun can read
    cached embeddings without importing torch or building the model.
    """
    from explorer.cache import JSON

    stored = cache.get("model-info", _spec_key_parts(spec), serialize=JSON)
    return _info_from_dict(stored) if stored is not None else None


def resolve_model_info(spec: ModelSpec, cache: ArtifactCache | None = None) -> ModelInfo:
    """Return the identity of the model a spec names, loading the model only when it is not stored."""
    from explorer.cache import ArtifactCache

    cache = cache if cache is not None else ArtifactCache()
    info = cached_model_info(spec, cache)
    if info is not None:
        return info
    info = load_model(spec).info
    remember_model_info(spec, info, cache)
    return info


def remember_model_info(spec: ModelSpec, info: ModelInfo, cache: ArtifactCache) -> None:
    """Store the identity of a loaded model for :func:`resolve_model_info`."""
    from explorer.cache import JSON

    cache.put("model-info", _spec_key_parts(spec), _info_to_dict(info), serialize=JSON)


def _spec_key_parts(spec: ModelSpec) -> dict[str, Any]:
    # NOTE: an hf-hub model or a pretrained tag is keyed by name only, so a newer
    # download of the same repository keeps the stored id until the cache is cleared.
    parts: dict[str, Any] = {
        "name": spec.name,
        "pretrained": spec.pretrained,
        "random": spec.random_weights,
        "seed": RANDOM_WEIGHTS_SEED,
        "checkpoint": None,
    }
    if spec.checkpoint is not None and not spec.random_weights:
        path = Path(spec.checkpoint).expanduser()
        stat = path.stat() if path.is_file() else None
        parts["checkpoint"] = [str(path.resolve()), stat.st_size if stat else None, stat.st_mtime_ns if stat else None]
    return parts


def _info_to_dict(info: ModelInfo) -> dict[str, Any]:
    return {
        "model_id": info.model_id,
        "name": info.name,
        "preprocess": info.preprocess_config.to_dict(),
        "is_random": info.is_random,
        "weights_path": str(info.weights_path) if info.weights_path else None,
    }


def _info_from_dict(data: dict[str, Any]) -> ModelInfo:
    preprocess = data["preprocess"]
    config = PreprocessConfig(
        image_size=tuple(preprocess["image_size"]),
        mean=tuple(preprocess["mean"]),
        std=tuple(preprocess["std"]),
        resize_mode=preprocess["resize_mode"],
        interpolation=preprocess["interpolation"],
        fill_color=preprocess["fill_color"],
    )
    weights = data.get("weights_path")
    return ModelInfo(
        model_id=data["model_id"],
        name=data["name"],
        preprocess_config=config,
        is_random=bool(data["is_random"]),
        weights_path=Path(weights) if weights else None,
    )


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------


@dataclass
class EmbeddingSet:
    """Image embeddings of one model, in the order of ``image_ids``.

    ``vectors`` is float32 of shape ``(n_images, dim)`` with unit L2 norm per
    row. Images that could not be embedded are not in it; they are listed in
    ``failures`` as ``(image_id, message)``.
    """

    image_ids: list[str]
    vectors: np.ndarray
    info: ModelInfo
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def model_id(self) -> str:
        """Architecture and weights id of the model that made the vectors."""
        return self.info.model_id

    @property
    def is_random(self) -> bool:
        """Whether the vectors come from untrained weights."""
        return self.info.is_random

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """Preprocessing the images went through."""
        return self.info.preprocess_config

    @functools.cached_property
    def key(self) -> str:
        """Content hash of the ids, the vectors and the model cache key."""
        digest = hashlib.sha256(self.info.cache_key.encode())
        digest.update("\n".join(self.image_ids).encode("utf-8"))
        digest.update(np.ascontiguousarray(self.vectors, dtype=np.float32).tobytes())
        return digest.hexdigest()

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Row of each image id in ``vectors``."""
        return {image_id: row for row, image_id in enumerate(self.image_ids)}

    def vector(self, image_id: str) -> np.ndarray:
        """Return the ``(dim,)`` vector of one image."""
        return self.vectors[self.index[image_id]]

    def subset(self, image_ids: Sequence[str]) -> EmbeddingSet:
        """Return the rows of the given ids, in that order (ids must be present)."""
        rows = [self.index[image_id] for image_id in image_ids]
        return EmbeddingSet(list(image_ids), self.vectors[rows], self.info, [])


class _Item(NamedTuple):
    # A named tuple, because building 100,000 frozen dataclasses takes a few tenths of a second.
    image_id: str
    sha256: str
    source: Path | str | bytes


class _DecodeDataset:
    """Map-style dataset for the DataLoader: decode and preprocess one image per index.

    A failed image yields ``(index, None, message)`` instead of raising, so one
    bad file does not stop the batch.
    """

    def __init__(self, sources: Sequence[Path | str | bytes], preprocess: Callable[[Any], Any]) -> None:
        self.sources = list(sources)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[int, Any, str]:
        from explorer.images import decode_image

        try:
            image = decode_image(self.sources[index])
        except ImageDecodeError as error:
            return index, None, f"{error.reason}: {error}"
        try:
            return index, self.preprocess(image), ""
        except Exception as error:  # a transform failure is reported like a decode failure
            return index, None, f"preprocessing failed: {type(error).__name__}: {error}"


def _collate(samples: list[tuple[int, Any, str]]) -> tuple[list[int], Any, list[tuple[int, str]]]:
    import torch

    indices = [index for index, tensor, _ in samples if tensor is not None]
    tensors = [tensor for _, tensor, _ in samples if tensor is not None]
    failures = [(index, message) for index, tensor, message in samples if tensor is None]
    batch = torch.stack(tensors) if tensors else None
    return indices, batch, failures


def _worker_init(_worker_id: int) -> None:
    import torch

    # Workers only decode; one thread each leaves the cores to the forward pass.
    torch.set_num_threads(1)


def default_num_workers(n_images: int) -> int:
    """Return the DataLoader worker count for ``n_images`` images on this machine."""
    if n_images < MIN_IMAGES_FOR_WORKERS:
        return 0
    cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores - 1))


def embed_images(
    sources: Sequence[Path | str | bytes],
    model: LoadedModel | ModelSpec,
    *,
    image_ids: Sequence[str] | None = None,
    hashes: Sequence[str] | None = None,
    cache: ArtifactCache | None | bool = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> EmbeddingSet:
    """Embed images given as paths or bytes.

    Parameters
    ----------
    sources : sequence of path or bytes
        Images, decoded with :func:`explorer.images.decode_image`.
    model : LoadedModel or ModelSpec
        A loaded model, or a spec whose model is loaded only when some image
        is not in the cache yet.
    image_ids : sequence of str, optional
        Ids reported in the result; default ``"0"``, ``"1"``, ...
    hashes : sequence of str, optional
        sha256 of each image's bytes; computed when omitted.
    cache : ArtifactCache, None or False, default None
        Where vectors are stored per image hash and model. None uses the
        default cache folder and False disables caching.
    batch_size : int, default 64
        Images per forward pass.
    num_workers : int, optional
        DataLoader decode processes; default 0 for small jobs, else up to
        ``cpu_count - 1`` (at most 4).
    progress : callable, optional
        Called as ``progress(done, total)`` in images after the cache lookup
        and after each batch. An exception it raises stops the run, and the
        batches already embedded stay in the cache. A hard kill (SIGKILL)
        loses at most the last :data:`CHUNK_IMAGES` images or
        :data:`CHUNK_SECONDS` of work.

    Returns
    -------
    EmbeddingSet
    """
    ids = [str(i) for i in range(len(sources))] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != len(sources):
        raise ValueError(f"Got {len(ids)} image ids for {len(sources)} images; pass one id per image.")
    if len(set(ids)) != len(ids):
        raise ValueError("Image ids must be unique.")
    if hashes is None:
        hashes = [_source_sha256(source) for source in sources]
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    items = [_Item(image_id, sha, source) for image_id, sha, source in zip(ids, hashes, sources, strict=True)]
    return _embed_items(items, model, cache=cache, batch_size=batch_size, num_workers=num_workers, progress=progress)


def embed_dataset(
    dataset: Dataset,
    model: LoadedModel | ModelSpec,
    *,
    cache: ArtifactCache | None | bool = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> EmbeddingSet:
    """Embed every image of a dataset, in manifest order (see :func:`embed_images`)."""
    manifest = dataset.manifest
    ids = manifest["image_id"].astype(str).tolist()
    # Plain strings, because building a Path per image takes 0.5 to 1 s per 100,000 images
    # and a run whose vectors are all cached opens no file.
    root = str(dataset.root)
    sources = [os.path.join(root, path) for path in manifest["path"].astype(str).tolist()]
    hashes = manifest["sha256"].astype(str).tolist() if "sha256" in manifest.columns else None
    return embed_images(
        sources,
        model,
        image_ids=ids,
        hashes=hashes,
        cache=cache,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
    )


def _source_sha256(source: Path | str | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    from explorer.images import file_sha256

    try:
        return file_sha256(source)
    except OSError:
        # An unreadable file gets a key of its own; decoding reports why it failed.
        return "unreadable:" + hashlib.sha256(str(source).encode()).hexdigest()


def _embed_items(
    items: list[_Item],
    model: LoadedModel | ModelSpec,
    *,
    cache: ArtifactCache | None | bool,
    batch_size: int,
    num_workers: int | None,
    progress: ProgressCallback | None,
) -> EmbeddingSet:
    from explorer.cache import ArtifactCache

    store_cache: ArtifactCache | None
    if cache is False:
        store_cache = None
    elif cache is None or cache is True:
        store_cache = ArtifactCache()
    else:
        store_cache = cache

    if isinstance(model, LoadedModel):
        info = model.info
        loaded: LoadedModel | None = model
    else:
        spec = model
        info = cached_model_info(spec, store_cache) if store_cache is not None else None
        loaded = None
        if info is None:
            # Load once and keep the model: the batches below need it anyway.
            loaded = load_model(spec)
            info = loaded.info
            if store_cache is not None:
                remember_model_info(spec, info, store_cache)

    def get_model() -> LoadedModel:
        # Loaded on the first batch that needs it, so a run whose images are all
        # cached (or all fail to decode) never builds the model.
        nonlocal loaded
        if loaded is None:
            loaded = load_model(spec)
            if store_cache is not None:
                remember_model_info(spec, loaded.info, store_cache)
            if loaded.info.cache_key != info.cache_key:
                raise ModelLoadError(
                    f"Model {spec.name!r} now loads as {loaded.info.model_id}, but the cache recorded "
                    f"{info.model_id} for it; run again to use the new weights."
                )
        return loaded

    def get_preprocess() -> Callable[[Any], Any]:
        # Built only when some image must be decoded, because it imports open_clip and torch.
        return loaded.preprocess if loaded is not None else build_preprocess(info.preprocess_config)

    if store_cache is None:
        vectors, failures = _compute(items, get_model, get_preprocess(), None, batch_size, num_workers, progress, done=0)
        return _assemble(items, vectors, failures, info)

    store = EmbeddingStore(store_cache, info)
    # The lock covers lookup and computation, so a second process waits and then
    # finds every vector instead of embedding the same images again.
    # NOTE: runs of one model on different datasets also wait for each other.
    with store.lock():
        found = store.load({item.sha256 for item in items})
        missing = [item for item in items if item.sha256 not in found]
        log.info(
            "embedding cache for %s: %d of %d images found, %d to compute",
            info.model_id,
            len(items) - len(missing),
            len(items),
            len(missing),
        )
        failures: dict[str, str] = {}
        if missing:
            computed, failures = _compute(
                missing,
                get_model,
                get_preprocess(),
                store,
                batch_size,
                num_workers,
                progress,
                done=len(items) - len(missing),
            )
            found.update(computed)
        elif progress is not None:
            progress(len(items), len(items))
    return _assemble(items, found, failures, info)


def build_preprocess(config: PreprocessConfig) -> Callable[[Any], Any]:
    """Return open_clip's inference transform (PIL image -> tensor) for a preprocessing config."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    open_clip_config = PreprocessCfg(
        size=config.image_size,
        mean=config.mean,
        std=config.std,
        interpolation=config.interpolation,
        resize_mode=config.resize_mode,
        fill_color=config.fill_color,
    )
    return image_transform_v2(open_clip_config, is_train=False)


def _assemble(
    items: list[_Item], vectors: dict[str, np.ndarray], failures: dict[str, str], info: ModelInfo
) -> EmbeddingSet:
    ids: list[str] = []
    rows: list[np.ndarray] = []
    failed: list[tuple[str, str]] = []
    for item in items:
        if item.sha256 in vectors:
            ids.append(item.image_id)
            rows.append(vectors[item.sha256])
        else:
            failed.append((item.image_id, failures.get(item.sha256, "not embedded")))
    dim = len(rows[0]) if rows else 0
    matrix = np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, dim), np.float32)
    if failed:
        log.warning("%d of %d images could not be embedded and are left out", len(failed), len(items))
    return EmbeddingSet(image_ids=ids, vectors=matrix, info=info, failures=failed)


def _compute(
    items: list[_Item],
    get_model: Callable[[], LoadedModel],
    preprocess: Callable[[Any], Any],
    store: EmbeddingStore | None,
    batch_size: int,
    num_workers: int | None,
    progress: ProgressCallback | None,
    *,
    done: int,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Embed the unique images among ``items``; return vectors and failures by sha256."""
    import torch
    from torch.utils.data import DataLoader

    # Identical files are embedded once; progress still counts every item.
    unique: dict[str, _Item] = {}
    copies: dict[str, int] = {}
    for item in items:
        unique.setdefault(item.sha256, item)
        copies[item.sha256] = copies.get(item.sha256, 0) + 1
    work = list(unique.values())
    total = done + len(items)
    workers = default_num_workers(len(work)) if num_workers is None else num_workers

    loader = DataLoader(
        _DecodeDataset([item.source for item in work], preprocess),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init if workers > 0 else None,
    )
    log.info("embedding %d images (batch %d, %d workers)", len(work), batch_size, workers)

    vectors: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    pending = _PendingChunk(store)
    try:
        with torch.inference_mode():
            for indices, batch, batch_failures in loader:
                for index, message in batch_failures:
                    failures[work[index].sha256] = message
                if batch is not None:
                    # (batch, 3, height, width) model input -> (batch, dim) unit vectors
                    loaded = get_model()
                    output = loaded.model.encode_image(batch.to(loaded.device)).float().cpu().numpy()
                    for index, row in zip(indices, _normalise_rows(output), strict=True):
                        sha = work[index].sha256
                        if row is None:
                            failures[sha] = "model output is zero or not finite"
                        else:
                            vectors[sha] = row
                            pending.add(sha, row)
                pending.flush_if_due()
                done += sum(copies[work[index].sha256] for index in indices)
                done += sum(copies[work[index].sha256] for index, _ in batch_failures)
                if progress is not None:
                    progress(done, total)
    finally:
        pending.flush()
    for sha, message in failures.items():
        log.info("image %s not embedded: %s", unique[sha].image_id, message)
    return vectors, failures


def _normalise_rows(output: np.ndarray) -> list[np.ndarray | None]:
    """Return each row scaled to unit L2 norm, or None for a zero or non-finite row."""
    rows: list[np.ndarray | None] = []
    for row in output.astype(np.float32):
        norm = float(np.linalg.norm(row))
        if not np.isfinite(row).all() or not np.isfinite(norm) or norm == 0.0:
            rows.append(None)
        else:
            rows.append((row / norm).astype(np.float32))
    return rows


class _PendingChunk:
    """Vectors embedded since the last write, flushed to the store in chunks."""

    def __init__(self, store: EmbeddingStore | None) -> None:
        self.store = store
        self.hashes: list[str] = []
        self.rows: list[np.ndarray] = []
        self.started = time.monotonic()

    def add(self, sha: str, row: np.ndarray) -> None:
        self.hashes.append(sha)
        self.rows.append(row)

    def flush_if_due(self) -> None:
        if len(self.hashes) >= CHUNK_IMAGES or time.monotonic() - self.started >= CHUNK_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.store is not None and self.hashes:
            self.store.write_chunk(self.hashes, np.stack(self.rows))
        self.hashes, self.rows = [], []
        self.started = time.monotonic()


class EmbeddingStore:
    """Embedding chunks of one model (id and preprocessing) in the artifact cache.

    Each chunk is a checksummed ``.rdfx`` file holding the sha256 of each image
    and its vector. Chunks are only ever added; a corrupt chunk is deleted on
    read and its images are computed again.
    """

    def __init__(self, cache: ArtifactCache, info: ModelInfo) -> None:
        self.info = info
        self.folder = cache.root / "embeddings" / info.cache_key

    def lock(self):  # noqa: ANN201 - a context manager
        """Return an inter-process lock held while a run reads and extends the store."""
        from explorer.cache import file_lock

        return file_lock(self.folder / "store.lock")

    def chunk_files(self) -> list[Path]:
        """Return the chunk files, oldest first."""
        from explorer.cache import FILE_SUFFIX

        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*{FILE_SUFFIX}"))

    def load(self, hashes: set[str] | None = None) -> dict[str, np.ndarray]:
        """Return stored vectors by image sha256, all of them or only those in ``hashes``."""
        from explorer.cache import NPZ, read_checked

        found: dict[str, np.ndarray] = {}
        for path in self.chunk_files():
            payload = read_checked(path)
            if payload is None:
                continue
            try:
                arrays = NPZ.loads(payload)
                chunk_hashes, vectors = arrays["sha256"], arrays["vectors"]
            except (ValueError, KeyError, OSError) as error:
                log.warning("embedding chunk %s cannot be parsed (%s); deleting it", path, error)
                path.unlink(missing_ok=True)
                continue
            for sha, row in zip(chunk_hashes.tolist(), vectors, strict=True):
                if hashes is None or sha in hashes:
                    found[sha] = row
        return found

    def write_chunk(self, hashes: Sequence[str], vectors: np.ndarray) -> Path:
        """Write one chunk atomically and return its path."""
        import uuid

        from explorer.cache import FILE_SUFFIX, NPZ, write_checked

        self._write_info()
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{FILE_SUFFIX}"
        path = self.folder / name
        payload = NPZ.dumps({"sha256": np.array(list(hashes), dtype="U"), "vectors": vectors.astype(np.float32)})
        write_checked(path, payload)
        log.debug("wrote embedding chunk %s (%d images)", path.name, len(hashes))
        return path

    def _write_info(self) -> None:
        info_file = self.folder / "model.json"
        if not info_file.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            info_file.write_text(json.dumps(_info_to_dict(self.info), indent=2), encoding="utf-8")


def tqdm_progress(description: str = "embedding") -> ProgressCallback:
    """Return a ``progress(done, total)`` callback that draws a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=description, unit="img", leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update
