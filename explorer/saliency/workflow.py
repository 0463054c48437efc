"""Saliency on a dataset: the benchmark head, cached maps, trust checks, condition means.

These functions are what the Saliency page and ``python -m explorer saliency``
call; both share the on-disk cache, keyed by image hash, model, head, method,
settings and target.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.saliency.alignment import AlignedMean, aligned_mean
from explorer.saliency.explain import SaliencyResult, explain, settings_key
from explorer.saliency.geometry import DEFAULT_FIT_MODE, prepare_input
from explorer.saliency.methods import (
    Explainer,
    MethodSettings,
    ProgressCallback,
    SaliencyError,
)
from explorer.saliency.trust import (
    PerturbationCurves,
    RandomisationCheck,
    RegionShare,
    perturbation_curves,
    randomisation_check,
    region_share,
)

log = logging.getLogger(__name__)

CACHE_KIND = "saliency"
TRUST_CACHE_KIND = "saliency-trust"
TARGET_CHOICES = ("predicted", "true")
_HPO_ID = re.compile(r"HP:\d{7}")


@dataclass(frozen=True)
class DatasetExplainer:
    """The benchmark head on a model, prepared for attribution, with cache identities.

    ``model_key`` names the model weights and preprocessing; ``head_id`` is a
    hash of the head's weights and class names.
    """

    explainer: Explainer
    model_key: str
    head_id: str
    is_random: bool
    preprocess_config: Any


@dataclass(frozen=True)
class SaliencyRequest:
    """Request for one map: method, target, method settings and the fit mode."""

    method: str = "gradcam"
    target: str | None = "predicted"
    settings: MethodSettings | None = None
    fit_mode: str = DEFAULT_FIT_MODE

    def key_parts(self) -> dict[str, Any]:
        """Return the request's part of a cache key."""
        return {"method": settings_key(self.method, self.settings), "target": str(self.target), "fit": self.fit_mode}


def head_fingerprint(head: Any) -> str:
    """Hash a fitted head's weights, bias and class names."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(head.weight, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(head.bias, dtype=np.float64).tobytes())
    digest.update("\n".join(head.class_names).encode())
    return digest.hexdigest()[:32]


def build_dataset_explainer(dataset: Any, loaded: Any, embeddings: Any | None = None,
                            *, progress: Callable[..., None] | None = None) -> DatasetExplainer:
    """Fit the benchmark head on the dataset's real images and wrap it for attribution.

    Parameters
    ----------
    dataset : explorer.dataset.Dataset
    loaded : explorer.embeddings.LoadedModel
    embeddings : explorer.embeddings.EmbeddingSet, optional
        The dataset's embeddings under ``loaded``; computed (and cached) when omitted.
    """
    from explorer.classifier import EndToEndClassifier, fit_dataset_head
    from explorer.embeddings import embed_dataset

    if embeddings is None:
        embeddings = embed_dataset(dataset, loaded, progress=progress)
    manifest = dataset.manifest.set_index("image_id").loc[embeddings.image_ids].reset_index()
    # NOTE: the head is trained on every real image, so a map of a real image shows
    # a head that has seen that image. Benchmark accuracy comes from held-out folds.
    head = fit_dataset_head(manifest, embeddings.vectors)
    classifier = EndToEndClassifier(loaded, head)
    log.info("saliency head fitted on %d embeddings, %d classes", len(embeddings.image_ids), len(head.class_names))
    return DatasetExplainer(
        explainer=Explainer(classifier, head.class_names),
        model_key=loaded.info.cache_key,
        head_id=head_fingerprint(head),
        is_random=bool(loaded.is_random),
        preprocess_config=loaded.preprocess_config,
    )


def _image_row(dataset: Any, image_id: str) -> Any:
    rows = dataset.manifest.loc[dataset.manifest["image_id"].astype(str) == str(image_id)]
    if rows.empty:
        raise SaliencyError(f"image id {image_id!r} is not in the dataset at {dataset.root}; pick one from its manifest")
    return rows.iloc[0]


def image_hash(dataset: Any, image_id: str) -> str:
    """Return the sha256 of an image's file, from the manifest when recorded."""
    row = _image_row(dataset, image_id)
    recorded = row.get("sha256") if hasattr(row, "get") else None
    if isinstance(recorded, str) and recorded:
        return recorded
    from explorer.images import file_sha256

    return file_sha256(dataset.image_path(image_id))


def _cache(cache: Any | None | bool) -> Any | None:
    if cache is False:
        return None
    if cache is None or cache is True:
        from explorer.cache import ArtifactCache

        return ArtifactCache()
    return cache


def _key_parts(dataset: Any, image_id: str, bundle: DatasetExplainer, request: SaliencyRequest) -> dict[str, Any]:
    return {
        "image": image_hash(dataset, image_id),
        "model": bundle.model_key,
        "head": bundle.head_id,
        **request.key_parts(),
    }


def explain_dataset_image(dataset: Any, image_id: str, bundle: DatasetExplainer, request: SaliencyRequest,
                          *, cache: Any | None | bool = None, progress: ProgressCallback | None = None
                          ) -> SaliencyResult:
    """Compute (or read back from the cache) the map of one dataset image.

    ``cache`` is an :class:`explorer.cache.ArtifactCache`, ``None`` for the
    default one, or ``False`` to compute without caching.
    """
    from explorer.images import decode_image

    row = _image_row(dataset, image_id)

    def compute() -> SaliencyResult:
        image = decode_image(dataset.image_path(image_id))
        prepared = prepare_input(image, bundle.preprocess_config, mode=request.fit_mode)
        return explain(
            bundle.explainer,
            prepared,
            request.method,
            target=request.target,
            true_condition=str(row["condition"]),
            settings=request.settings,
            progress=progress,
        )

    store = _cache(cache)
    if store is None:
        return compute()
    return store.get_or_compute(CACHE_KIND, _key_parts(dataset, image_id, bundle, request), compute)


# ---------------------------------------------------------------- trust checks on a dataset image


@dataclass(frozen=True)
class TrustReport:
    """The trust checks of one map; a check that could not run is ``None`` with a reason."""

    randomisation: RandomisationCheck | None
    curves: PerturbationCurves | None
    regions: RegionShare | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self, *, untrained_model: bool = False) -> list[str]:
        """Return the checks as plain sentences, in display order.

        Pass ``untrained_model=True`` when the model has random weights, so that the
        randomisation check states that it cannot mean anything.
        """
        lines: list[str] = []
        if self.randomisation is not None:
            lines.append(self.randomisation.describe(untrained_model=untrained_model))
        if self.curves is not None:
            lines.extend(self.curves.describe())
        if self.regions is not None:
            lines.append(self.regions.describe())
        lines.extend(self.notes)
        return lines


def condition_features(dataset: Any, image_id: str) -> list[str]:
    """Return the HPO ids listed for an image's condition in the manifest (may be empty)."""
    row = _image_row(dataset, image_id)
    terms = row.get("hpo_terms") if "hpo_terms" in dataset.manifest.columns else None
    return _HPO_ID.findall(terms) if isinstance(terms, str) else []


def feature_regions(dataset: Any, image_id: str) -> dict[str, np.ndarray] | None:
    """Return the demo's boolean feature masks of an image, or ``None`` outside the demo."""
    try:
        from explorer.demo import load_annotation
    except ImportError:
        return None
    try:
        annotation = load_annotation(dataset.root, image_id)
    except (FileNotFoundError, KeyError, ValueError) as error:
        log.debug("no demo annotation for %s: %s", image_id, error)
        return None
    if isinstance(annotation, tuple):
        masks = annotation[1]
    else:
        masks = getattr(annotation, "masks", None) or getattr(annotation, "regions", None)
    return dict(masks) if masks else None


def trust_report(dataset: Any, image_id: str, bundle: DatasetExplainer, request: SaliencyRequest,
                 result: SaliencyResult, *, cache: Any | None | bool = None) -> TrustReport:
    """Run the randomisation check, deletion/insertion curves and, on demo images, the region share."""
    from explorer.images import decode_image

    def compute() -> TrustReport:
        image = decode_image(dataset.image_path(image_id))
        prepared = prepare_input(image, bundle.preprocess_config, mode=request.fit_mode)
        randomisation = randomisation_check(
            bundle.explainer, prepared.tensor, result.target, request.method, request.settings,
            reference=result.input_map,
        )
        curves = perturbation_curves(bundle.explainer, prepared.tensor, result.target, result.input_map)
        notes: list[str] = []
        regions = None
        masks = feature_regions(dataset, image_id)
        features = [name for name in condition_features(dataset, image_id) if masks and name in masks]
        if masks and features:
            regions = region_share(result.image_map, masks, features)
        elif masks:
            notes.append("Feature regions: this image's condition lists no drawn feature, so no region share.")
        else:
            notes.append("Feature regions: only demo images record where features are drawn.")
        return TrustReport(randomisation=randomisation, curves=curves, regions=regions, notes=tuple(notes))

    store = _cache(cache)
    if store is None:
        return compute()
    parts = {**_key_parts(dataset, image_id, bundle, request), "target_index": result.target}
    return store.get_or_compute(TRUST_CACHE_KIND, parts, compute)


# ---------------------------------------------------------------- condition means


def condition_image_ids(dataset: Any, condition: str, source: str | None = None) -> list[str]:
    """Return the ids of a condition's images (of one source when given) that have landmarks."""
    manifest = dataset.manifest
    rows = manifest["condition"].astype(str) == str(condition)
    if source is not None:
        rows &= manifest["source"].astype(str) == source
    landmarks = getattr(dataset, "landmarks", {}) or {}
    return [str(image_id) for image_id in manifest.loc[rows, "image_id"] if str(image_id) in landmarks]


def condition_mean_saliency(dataset: Any, image_ids: Sequence[str], bundle: DatasetExplainer,
                            request: SaliencyRequest, *, cache: Any | None | bool = None,
                            progress: Callable[[int, int], None] | None = None) -> AlignedMean:
    """Average the maps of images aligned by their landmarks onto a mean shape.

    Raises :class:`SaliencyError` when no image id has landmarks.
    """
    from explorer.images import decode_image

    landmarks = getattr(dataset, "landmarks", {}) or {}
    usable = [image_id for image_id in image_ids if image_id in landmarks]
    if not usable:
        raise SaliencyError(
            "no chosen image has landmarks, so maps cannot be aligned; add a landmarks sidecar to the dataset"
        )
    maps, images, points = [], [], []
    for done, image_id in enumerate(usable):
        result = explain_dataset_image(dataset, image_id, bundle, request, cache=cache)
        maps.append(result.image_map)
        images.append(decode_image(dataset.image_path(image_id)))
        points.append(np.asarray(landmarks[image_id], dtype=float))
        if progress is not None:
            progress(done + 1, len(usable))
    return aligned_mean(maps, images, points)
