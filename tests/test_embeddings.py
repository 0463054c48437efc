"""Model loading and batched embedding with the tiny test checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import explorer.embeddings as embeddings
from explorer.cache import ArtifactCache
from explorer.embeddings import (
    TINY_VIT,
    EmbeddingStore,
    ModelSpec,
    embed_images,
    load_model,
)
from explorer.errors import ModelLoadError, WeightsNotFoundError
from explorer.images import save_png

N_IMAGES = 12


def make_images(folder: Path, count: int = N_IMAGES, seed: int = 0) -> list[Path]:
    """Write ``count`` distinct random 40x48 PNG images and return their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8)
        paths.append(save_png(Image.fromarray(pixels), folder / f"image_{index:02d}.png"))
    return paths


@pytest.fixture(scope="module")
def tiny_model(tiny_model_spec: ModelSpec) -> embeddings.LoadedModel:
    return load_model(tiny_model_spec)


@pytest.fixture()
def image_paths(tmp_path: Path) -> list[Path]:
    return make_images(tmp_path / "images")


class CountingEncoder:
    """Wrap a model's ``encode_image`` and count the calls."""

    def __init__(self, loaded: embeddings.LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = loaded.model.encode_image

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(loaded.model, "encode_image", counted)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def test_load_model_by_checkpoint_path(tiny_model_spec, tiny_vit_checkpoint):
    result = load_model(tiny_model_spec)

    assert result.is_random is False
    assert result.info.weights_path == tiny_vit_checkpoint
    assert result.model_id.startswith(f"{TINY_VIT}:checkpoint-")
    assert result.preprocess_config.image_size == (64, 64)
    assert result.embed_dim == 32
    assert result.model.training is False


def test_load_model_checkpoint_weights_are_used(tiny_model_spec, tiny_vit_checkpoint):
    import torch

    expected = torch.load(tiny_vit_checkpoint, weights_only=True)
    result = load_model(tiny_model_spec).model.state_dict()

    assert torch.equal(result["visual.conv1.weight"], expected["visual.conv1.weight"])


def test_load_model_resnet_checkpoint(tiny_resnet_spec):
    result = load_model(tiny_resnet_spec)

    assert result.embed_dim == 32
    assert result.preprocess_config.image_size == (64, 64)


def test_load_model_rejects_wrong_tag():
    with pytest.raises(ModelLoadError, match="'not-a-tag'.*Valid tags: openai"):
        load_model(ModelSpec(name="ViT-B-32", pretrained="not-a-tag"))


def test_load_model_rejects_unknown_name():
    with pytest.raises(ModelLoadError, match="'ViT-B-33'.*ViT-B-32"):
        load_model(ModelSpec(name="ViT-B-33", pretrained="openai"))


def test_load_model_rejects_directory(tmp_path):
    spec = ModelSpec(name=TINY_VIT, pretrained=None, checkpoint=tmp_path)

    with pytest.raises(ModelLoadError, match=f"{tmp_path} is a directory"):
        load_model(spec)


def test_load_model_rejects_missing_file(tmp_path):
    missing = tmp_path / "nowhere.pt"

    with pytest.raises(WeightsNotFoundError, match=f"{missing} does not exist"):
        load_model(ModelSpec(name=TINY_VIT, pretrained=None, checkpoint=missing))


def test_load_model_rejects_non_checkpoint_file(tmp_path):
    bogus = tmp_path / "notes.pt"
    bogus.write_text("not weights")

    with pytest.raises(ModelLoadError, match=f"{bogus}"):
        load_model(ModelSpec(name=TINY_VIT, pretrained=None, checkpoint=bogus))


def test_load_model_offline_without_weights(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(embeddings, "OPEN_CLIP_URL_CACHE", tmp_path / "clip")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with pytest.raises(WeightsNotFoundError) as raised:
        load_model(ModelSpec(name="ViT-B-32", pretrained="openai"))

    message = str(raised.value)
    assert "'ViT-B-32'" in message
    assert "--checkpoint" in message
    assert "RDFACE_EXPLORER_CHECKPOINT" in message
    assert "--weights random" in message


def test_load_model_unreachable_host_fails_fast(tmp_path, monkeypatch):
    import huggingface_hub.constants
    import open_clip

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(embeddings, "OPEN_CLIP_URL_CACHE", tmp_path / "clip")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    contacted = []

    def refuse_connection(address, timeout=None):
        contacted.append(address)
        raise OSError("Name or service not known")

    def fail_download(*args, **kwargs):
        raise AssertionError("the download must not start when the host is unreachable")

    monkeypatch.setattr(embeddings.socket, "create_connection", refuse_connection)
    monkeypatch.setattr(open_clip, "download_pretrained", fail_download)

    with pytest.raises(WeightsNotFoundError) as raised:
        load_model(ModelSpec(name="ViT-B-32", pretrained="openai"))

    message = str(raised.value)
    assert contacted == [("huggingface.co", 443)]
    assert "cannot connect to huggingface.co" in message
    assert "--checkpoint" in message


def test_checkpoint_of_known_tag_gets_tag_preprocessing(tiny_vit_checkpoint, monkeypatch):
    import open_clip.pretrained

    tag_config = {
        "url": "",
        "hf_hub": "",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.25, 0.25, 0.25),
        "interpolation": "bilinear",
        "resize_mode": "squash",
    }
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY_VIT, {"demo_tag": tag_config})
    spec = ModelSpec(name=TINY_VIT, pretrained="demo_tag", checkpoint=tiny_vit_checkpoint)

    result = load_model(spec).preprocess_config

    assert result.mean == (0.5, 0.5, 0.5)
    assert result.std == (0.25, 0.25, 0.25)
    assert result.interpolation == "bilinear"
    assert result.resize_mode == "squash"


def test_checkpoint_with_invalid_tag_lists_valid_tags(tiny_vit_checkpoint, monkeypatch):
    import open_clip.pretrained

    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY_VIT, {"demo_tag": {"url": "", "hf_hub": ""}})
    spec = ModelSpec(name=TINY_VIT, pretrained="other_tag", checkpoint=tiny_vit_checkpoint)

    with pytest.raises(ModelLoadError, match="'other_tag'.*Valid tags: demo_tag"):
        load_model(spec)


def test_random_weights_are_reproducible():
    import torch

    spec = ModelSpec(name=TINY_VIT, pretrained=None, random_weights=True)

    first = load_model(spec)
    second = load_model(spec)

    assert first.is_random is True
    assert "random-seed" in first.model_id
    assert "RANDOM" in first.info.description
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


def test_random_and_checkpoint_ids_differ(tiny_model_spec):
    random_spec = ModelSpec(name=TINY_VIT, pretrained=None, random_weights=True)

    assert load_model(random_spec).info.cache_key != load_model(tiny_model_spec).info.cache_key


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------


def test_embed_shape_and_unit_norm(tiny_model, image_paths):
    result = embed_images(image_paths, tiny_model, cache=False, batch_size=5)

    assert result.vectors.shape == (N_IMAGES, 32)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert result.image_ids == [str(index) for index in range(N_IMAGES)]
    assert result.failures == []
    assert result.model_id == tiny_model.model_id


def test_embed_two_runs_identical(tiny_model, image_paths):
    first = embed_images(image_paths, tiny_model, cache=False, batch_size=4)
    second = embed_images(image_paths, tiny_model, cache=False, batch_size=4)

    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert first.key == second.key


def test_embed_worker_processes_match_main_process(tiny_model, image_paths):
    expected = embed_images(image_paths, tiny_model, cache=False, batch_size=4, num_workers=0)

    result = embed_images(image_paths, tiny_model, cache=False, batch_size=4, num_workers=2)

    np.testing.assert_allclose(result.vectors, expected.vectors, atol=1e-6)
    assert result.image_ids == expected.image_ids


def test_embed_cache_hit_calls_model_zero_times(tiny_model, image_paths, tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path / "cache")
    first = embed_images(image_paths, tiny_model, cache=cache, batch_size=4)
    counter = CountingEncoder(tiny_model, monkeypatch)

    result = embed_images(image_paths, tiny_model, cache=cache, batch_size=4)

    assert counter.calls == 0
    np.testing.assert_array_equal(result.vectors, first.vectors)


def test_embed_cache_hit_by_spec_never_loads_model(tiny_model_spec, image_paths, tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path / "cache")
    first = embed_images(image_paths, tiny_model_spec, cache=cache)

    def fail(*args, **kwargs):
        raise AssertionError("the model was loaded although every vector is cached")

    monkeypatch.setattr(embeddings, "load_model", fail)
    result = embed_images(image_paths, tiny_model_spec, cache=cache)

    np.testing.assert_array_equal(result.vectors, first.vectors)


def test_embed_cache_key_includes_preprocessing(tiny_model, image_paths, tmp_path, monkeypatch):
    from dataclasses import replace

    cache = ArtifactCache(tmp_path / "cache")
    embed_images(image_paths, tiny_model, cache=cache)
    other_info = replace(tiny_model.info, preprocess_config=replace(tiny_model.preprocess_config, resize_mode="squash"))
    monkeypatch.setattr(tiny_model, "info", other_info)
    counter = CountingEncoder(tiny_model, monkeypatch)

    embed_images(image_paths, tiny_model, cache=cache)

    assert counter.calls > 0


def test_embed_reports_failed_images_by_id(tiny_model, image_paths, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    sources = [*image_paths[:3], broken, image_paths[3]]
    ids = ["a", "b", "c", "broken", "d"]

    result = embed_images(sources, tiny_model, image_ids=ids, cache=False)

    assert result.image_ids == ["a", "b", "c", "d"]
    assert result.vectors.shape == (4, 32)
    assert [image_id for image_id, _ in result.failures] == ["broken"]
    assert "broken.png" in result.failures[0][1]
    assert np.all(np.linalg.norm(result.vectors, axis=1) > 0.99)


def test_embed_accepts_bytes_and_duplicates(tiny_model, image_paths):
    data = image_paths[0].read_bytes()
    counter_free = embed_images([data, data, image_paths[1]], tiny_model, image_ids=["x", "y", "z"], cache=False)

    np.testing.assert_array_equal(counter_free.vector("x"), counter_free.vector("y"))
    assert counter_free.image_ids == ["x", "y", "z"]


def test_embed_progress_reaches_total(tiny_model, image_paths):
    calls: list[tuple[int, int]] = []

    embed_images(image_paths, tiny_model, cache=False, batch_size=5, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(5, N_IMAGES), (10, N_IMAGES), (12, N_IMAGES)]


class StopAtBatch(Exception):
    pass


def test_embed_resumes_after_interruption(tiny_model, image_paths, tmp_path, monkeypatch):
    expected = embed_images(image_paths, tiny_model, cache=ArtifactCache(tmp_path / "clean"), batch_size=4)
    cache = ArtifactCache(tmp_path / "interrupted")

    def stop_after_second_batch(done: int, total: int) -> None:
        if done >= 8:
            raise StopAtBatch

    with pytest.raises(StopAtBatch):
        embed_images(image_paths, tiny_model, cache=cache, batch_size=4, progress=stop_after_second_batch)
    stored = EmbeddingStore(cache, tiny_model.info).load()
    counter = CountingEncoder(tiny_model, monkeypatch)
    result = embed_images(image_paths, tiny_model, cache=cache, batch_size=4)

    assert len(stored) == 8
    assert counter.calls == 1
    np.testing.assert_array_equal(result.vectors, expected.vectors)


def test_embed_corrupt_chunk_is_recomputed(tiny_model, image_paths, tmp_path, caplog, monkeypatch):
    cache = ArtifactCache(tmp_path / "cache")
    expected = embed_images(image_paths, tiny_model, cache=cache)
    (chunk,) = EmbeddingStore(cache, tiny_model.info).chunk_files()
    data = bytearray(chunk.read_bytes())
    data[-10] ^= 0xFF
    chunk.write_bytes(bytes(data))
    counter = CountingEncoder(tiny_model, monkeypatch)

    with caplog.at_level(logging.WARNING, logger="explorer.cache"):
        result = embed_images(image_paths, tiny_model, cache=cache)

    assert "corrupt" in caplog.text
    assert str(chunk) in caplog.text
    assert not chunk.exists()
    assert counter.calls > 0
    np.testing.assert_array_equal(result.vectors, expected.vectors)


def test_embed_rejects_mismatched_ids(tiny_model, image_paths):
    with pytest.raises(ValueError, match="2 image ids for 12 images"):
        embed_images(image_paths, tiny_model, image_ids=["a", "b"], cache=False)


# --------------------------------------------------------------------------
# Weights from a local Hugging Face cache (built by the test, never downloaded)
# --------------------------------------------------------------------------


def fake_hub_repo(hub_cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Lay out ``files`` as one cached snapshot of ``repo_id`` and return the snapshot folder."""
    commit = "0" * 40
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch) -> Path:
    import huggingface_hub.constants

    folder = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


def test_tag_weights_found_in_hub_cache(hub_cache, tiny_vit_checkpoint, monkeypatch):
    import open_clip.pretrained

    fake_hub_repo(hub_cache, "local/tiny-tag", {"open_clip_pytorch_model.bin": tiny_vit_checkpoint.read_bytes()})
    tag_config = {"url": "", "hf_hub": "local/tiny-tag/", "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY_VIT, {"cached_tag": tag_config})

    result = load_model(ModelSpec(name=TINY_VIT, pretrained="cached_tag"))

    assert result.model_id == f"{TINY_VIT}:cached_tag"
    assert result.info.weights_path.name == "open_clip_pytorch_model.bin"
    assert "local--tiny-tag" in str(result.info.weights_path)
    assert result.preprocess_config.mean == (0.5, 0.5, 0.5)


def test_hf_hub_id_loads_from_hub_cache(hub_cache, tiny_vit_checkpoint):
    import json

    config_path = Path(embeddings.MODEL_CONFIG_DIR) / f"{TINY_VIT}.json"
    hub_config = {
        "model_cfg": json.loads(config_path.read_text()),
        "preprocess_cfg": {"mean": [0.4, 0.4, 0.4], "std": [0.3, 0.3, 0.3]},
    }
    fake_hub_repo(
        hub_cache,
        "local/tiny-hub",
        {
            "open_clip_config.json": json.dumps(hub_config).encode(),
            "open_clip_pytorch_model.bin": tiny_vit_checkpoint.read_bytes(),
        },
    )

    result = load_model(ModelSpec(name="hf-hub:local/tiny-hub", pretrained=None))

    assert result.model_id.startswith("hf-hub:local/tiny-hub:")
    assert result.is_random is False
    assert result.preprocess_config.mean == (0.4, 0.4, 0.4)
    assert result.preprocess_config.image_size == (64, 64)
    assert result.embed_dim == 32


def test_hf_hub_id_missing_offline(hub_cache):
    with pytest.raises(WeightsNotFoundError, match="'hf-hub:local/absent'.*--checkpoint"):
        load_model(ModelSpec(name="hf-hub:local/absent", pretrained=None))
