"""Import, embed and project a dataset in one call, shared by the CLI and the app.

Every stage reads its result from the cache when the inputs are unchanged, and
a rerun whose images are all cached neither imports torch nor builds the model.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.embeddings import (
    DEFAULT_BATCH_SIZE,
    EmbeddingSet,
    LoadedModel,
    ModelInfo,
    ModelSpec,
    ProgressCallback,
    cached_model_info,
    embed_dataset,
    load_model,
    remember_model_info,
)
from explorer.errors import ProjectionError
from explorer.projection import MODES, Projection, ProjectionParams, project, with_mode

if TYPE_CHECKING:
    from explorer.cache import ArtifactCache
    from explorer.dataset import Dataset

log = logging.getLogger(__name__)

# Word accepted in place of a dataset folder to mean the rendered demo dataset.
DEMO_ALIAS = "demo"


@dataclass
class BuildResult:
    """Everything a build produced, with the wall time of each stage in seconds.

    ``projections`` maps a mode (``all`` or ``real``) to its map;
    ``projection_errors`` maps a mode that could not be projected to the reason.
    """

    dataset: Dataset
    model: ModelInfo
    embeddings: EmbeddingSet
    projections: dict[str, Projection] = field(default_factory=dict)
    projection_errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cache_root: Path | None = None

    @property
    def total_seconds(self) -> float:
        """Sum of the stage times."""
        return sum(self.timings.values())

    def projection(self, mode: str = "all") -> Projection:
        """Return the map of one mode.

        Raises
        ------
        ProjectionError
            When that mode was not requested or could not be projected.
        """
        if mode in self.projections:
            return self.projections[mode]
        reason = self.projection_errors.get(mode, "it was not requested")
        raise ProjectionError(f"No projection in mode {mode!r}: {reason}")


def all_modes(params: ProjectionParams = ProjectionParams()) -> tuple[ProjectionParams, ...]:
    """Return ``params`` once per projection mode."""
    return tuple(with_mode(params, mode) for mode in MODES)


def resolve_dataset_root(root: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the dataset folder, rendering the demo when ``root`` is the word ``demo``."""
    if str(root) == DEMO_ALIAS and not Path(root).exists():
        from explorer.demo import ensure_demo

        return Path(ensure_demo(cache=cache_dir))
    return Path(root)


def build(
    root_or_dataset: str | os.PathLike[str] | Dataset,
    spec: ModelSpec | LoadedModel,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    layout: str | None = None,
    projection: ProjectionParams | Sequence[ProjectionParams] | None = ProjectionParams(),
    progress: ProgressCallback | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_workers: int | None = None,
) -> BuildResult:
    """Import a dataset, embed its images and project them.

    Parameters
    ----------
    root_or_dataset : path, ``"demo"`` or Dataset
        Dataset folder, the word ``demo`` for the demo dataset, or an imported dataset.
    spec : ModelSpec or LoadedModel
        Model to embed with. A spec is only loaded when some image is not cached.
    cache_dir : path, optional
        Cache root; default :func:`explorer.settings.cache_dir`.
    layout : str, optional
        Dataset layout; detected when None.
    projection : ProjectionParams, sequence of them, or None
        Maps to compute (see :func:`all_modes`); None skips projection.
    progress : callable, optional
        ``progress(done, total)`` during embedding.
    batch_size, num_workers
        Passed to :func:`explorer.embeddings.embed_dataset`.

    Returns
    -------
    BuildResult
    """
    from explorer.cache import ArtifactCache

    cache = ArtifactCache(cache_dir)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    dataset = _import(root_or_dataset, cache_dir=cache.root, layout=layout)
    timings["import"] = time.perf_counter() - started

    started = time.perf_counter()
    model = _model(spec, cache)
    info = model.info if isinstance(model, LoadedModel) else cached_model_info(model, cache)
    timings["model"] = time.perf_counter() - started

    started = time.perf_counter()
    embeddings = embed_dataset(
        dataset, model, cache=cache, progress=progress, batch_size=batch_size, num_workers=num_workers
    )
    timings["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    projections, errors = _project_all(dataset, embeddings, projection, cache)
    timings["project"] = time.perf_counter() - started

    log.info("build finished in %.1f s: %s", sum(timings.values()), timings)
    return BuildResult(
        dataset=dataset,
        model=info or embeddings.info,
        embeddings=embeddings,
        projections=projections,
        projection_errors=errors,
        timings=timings,
        cache_root=cache.root,
    )


def _import(root_or_dataset: str | os.PathLike[str] | Dataset, *, cache_dir: Path, layout: str | None) -> Dataset:
    from explorer.dataset import Dataset, load_dataset

    if isinstance(root_or_dataset, Dataset):
        return root_or_dataset
    root = resolve_dataset_root(root_or_dataset, cache_dir=cache_dir)
    return load_dataset(root, layout=layout, cache_dir=cache_dir)


def _model(spec: ModelSpec | LoadedModel, cache: ArtifactCache) -> ModelSpec | LoadedModel:
    """Return the spec when its identity is cached (lazy loading), else the loaded model."""
    if isinstance(spec, LoadedModel):
        return spec
    if cached_model_info(spec, cache) is not None:
        return spec
    loaded = load_model(spec)
    remember_model_info(spec, loaded.info, cache)
    return loaded


def _project_all(
    dataset: Dataset,
    embeddings: EmbeddingSet,
    projection: ProjectionParams | Sequence[ProjectionParams] | None,
    cache: ArtifactCache,
) -> tuple[dict[str, Projection], dict[str, str]]:
    if projection is None:
        return {}, {}
    requested = [projection] if isinstance(projection, ProjectionParams) else list(projection)
    manifest = dataset.manifest
    sources = dict(zip(manifest["image_id"].astype(str), manifest["source"].astype(str), strict=True))

    projections: dict[str, Projection] = {}
    errors: dict[str, str] = {}
    for params in requested:
        try:
            projections[params.mode] = project(embeddings, params, sources=sources, cache=cache)
        except ProjectionError as error:
            log.warning("projection in mode %s skipped: %s", params.mode, error)
            errors[params.mode] = str(error)
    return projections, errors
