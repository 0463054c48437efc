"""UMAP projection of embeddings to 2-D or 3-D, with guards for tiny and invalid sets.

There are two modes. ``all`` fits UMAP on every image. ``real`` fits on the
real images only and places synthetic ones with ``transform``, so synthetic
images cannot move the map of the real data. Results are cached by the embedding set's
content hash and the parameters.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from explorer.errors import ProjectionError

if TYPE_CHECKING:
    from explorer.cache import ArtifactCache
    from explorer.embeddings import EmbeddingSet

log = logging.getLogger(__name__)

# UMAP needs a neighbour graph and a spectral layout: with fewer points the
# layout is degenerate, so projection refuses them.
MIN_POINTS = 4
# Vectors with an L2 norm at or below this are treated as zero (no direction for cosine).
ZERO_NORM = 1e-12
# Below this many fitted points the spectral initialisation is unreliable and
# a random initialisation (seeded) is used instead.
MIN_POINTS_FOR_SPECTRAL = 16
MODES = ("all", "real")
PROJECTION_KIND = "projection"


@dataclass(frozen=True)
class ProjectionParams:
    """UMAP settings.

    Parameters
    ----------
    n_components : int, default 2
        2 or 3 output dimensions.
    n_neighbors : int, default 15
        Neighbourhood size; clamped to the number of fitted points minus one.
    min_dist : float, default 0.1
        Minimum distance between embedded points, in 0..1.
    metric : str, default "cosine"
        Distance between embedding vectors.
    seed : int, default 0
        Random state; the same seed gives the same coordinates.
    mode : {"all", "real"}, default "all"
        Fit on every image, or on real images with synthetic ones placed by ``transform``.
    """

    n_components: int = 2
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    seed: int = 0
    mode: Literal["all", "real"] = "all"

    def __post_init__(self) -> None:
        if self.n_components not in (2, 3):
            raise ProjectionError(f"n_components must be 2 or 3, got {self.n_components}.")
        if self.n_neighbors < 2:
            raise ProjectionError(f"n_neighbors must be at least 2, got {self.n_neighbors}.")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ProjectionError(f"min_dist must be between 0 and 1, got {self.min_dist}.")
        if self.mode not in MODES:
            raise ProjectionError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}.")


@dataclass
class Projection:
    """Coordinates of the projected images.

    ``coords`` has columns ``image_id``, ``x``, ``y`` (and ``z`` in 3-D), one row
    per projected image, every value finite. ``excluded`` lists
    ``(image_id, reason)`` for images left out. ``n_neighbors`` is the value
    actually used after clamping.
    """

    coords: pd.DataFrame
    params: ProjectionParams
    excluded: list[tuple[str, str]] = field(default_factory=list)
    n_neighbors: int = 0
    n_fitted: int = 0
    embedding_key: str = ""

    @property
    def image_ids(self) -> list[str]:
        """Ids of the projected images, in row order."""
        return self.coords["image_id"].tolist()


def validate_vectors(image_ids: Sequence[str], vectors: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Return a boolean mask of usable rows and the reasons for the others.

    A row is unusable when it contains NaN or infinity, or when its L2 norm is zero.
    """
    finite = np.isfinite(vectors).all(axis=1)
    norms = np.linalg.norm(np.where(np.isfinite(vectors), vectors, 0.0), axis=1)
    usable = finite & (norms > ZERO_NORM)
    excluded = []
    for row in np.flatnonzero(~usable):
        reason = "vector contains NaN or infinite values" if not finite[row] else "vector is all zeros"
        excluded.append((str(image_ids[row]), reason))
    return usable, excluded


def project(
    embeddings: EmbeddingSet,
    params: ProjectionParams = ProjectionParams(),
    *,
    sources: Mapping[str, str] | Sequence[str] | None = None,
    cache: ArtifactCache | None | bool = None,
) -> Projection:
    """Project an embedding set with UMAP.

    Parameters
    ----------
    embeddings : EmbeddingSet
        Vectors to project; rows that are zero or not finite are left out and reported.
    params : ProjectionParams
        UMAP settings and mode.
    sources : mapping or sequence of str, optional
        ``"real"`` or ``"synthetic"`` per image (a mapping by image id or a
        sequence in row order). Required for ``mode="real"``.
    cache : ArtifactCache, None or False, default None
        Store for the result; None uses the default cache folder, False disables it.

    Returns
    -------
    Projection

    Raises
    ------
    ProjectionError
        Fewer than :data:`MIN_POINTS` usable points to fit, or ``mode="real"``
        without sources.
    """
    source_list = _source_list(embeddings.image_ids, sources, params.mode)
    if cache is False:
        return _project(embeddings, params, source_list)

    from explorer.cache import ArtifactCache

    store = cache if isinstance(cache, ArtifactCache) else ArtifactCache()
    key_parts = {
        "embeddings": embeddings.key,
        "params": asdict(params),
        "sources": _hash_strings(source_list) if params.mode == "real" else None,
    }
    stored = store.get(PROJECTION_KIND, key_parts, serialize="npz")
    if stored is not None:
        log.info("projection cache hit (%s, mode %s)", embeddings.key[:12], params.mode)
        return _from_arrays(stored, params, embeddings.key)
    result = _project(embeddings, params, source_list)
    store.put(PROJECTION_KIND, key_parts, _to_arrays(result), serialize="npz")
    return result


def _source_list(
    image_ids: Sequence[str], sources: Mapping[str, str] | Sequence[str] | None, mode: str
) -> list[str] | None:
    if sources is None:
        if mode == "real":
            raise ProjectionError(
                "mode='real' fits on real images and needs the source of each image; pass sources=."
            )
        return None
    if isinstance(sources, Mapping):
        return [str(sources.get(image_id, "")) for image_id in image_ids]
    listed = [str(value) for value in sources]
    if len(listed) != len(image_ids):
        raise ProjectionError(f"Got {len(listed)} sources for {len(image_ids)} images; pass one per image.")
    return listed


def _hash_strings(values: list[str] | None) -> str | None:
    if values is None:
        return None
    import hashlib

    return hashlib.sha256("\n".join(values).encode("utf-8")).hexdigest()


def _project(embeddings: EmbeddingSet, params: ProjectionParams, sources: list[str] | None) -> Projection:
    ids = [str(image_id) for image_id in embeddings.image_ids]
    # UMAP converts its input to float32, so a float64 copy would only double the memory.
    vectors = np.asarray(embeddings.vectors, dtype=np.float32)
    usable, excluded = validate_vectors(ids, vectors)
    if excluded:
        log.warning("%d vectors left out of the projection (zero or not finite)", len(excluded))

    fit_mask = usable.copy()
    if params.mode == "real":
        is_real = np.array([source == "real" for source in sources], dtype=bool)
        fit_mask &= is_real
    n_fit = int(fit_mask.sum())
    if n_fit < MIN_POINTS:
        counted = "usable real images" if params.mode == "real" else "usable images"
        raise ProjectionError(
            f"UMAP needs at least {MIN_POINTS} {counted} to fit, got {n_fit} "
            f"({len(ids)} images, {len(excluded)} left out). Add images"
            + (" or use mode 'all'." if params.mode == "real" else ".")
        )

    n_neighbors = params.n_neighbors
    if n_neighbors > n_fit - 1:
        n_neighbors = n_fit - 1
        warnings.warn(
            f"n_neighbors={params.n_neighbors} is more than the {n_fit} fitted points allow; "
            f"using {n_neighbors}. The map of so few points shows little structure.",
            UserWarning,
            stacklevel=3,
        )

    place_mask = usable & ~fit_mask
    coordinates = np.full((len(ids), params.n_components), np.nan)
    # Indexing with a mask copies the array, so the common case of fitting every row passes it as is.
    reducer = _fit(vectors if fit_mask.all() else vectors[fit_mask], params, n_neighbors)
    coordinates[fit_mask] = reducer.embedding_
    if place_mask.any():
        # Synthetic images are placed among the real ones without moving them.
        coordinates[place_mask] = reducer.transform(vectors[place_mask])

    finite = np.isfinite(coordinates).all(axis=1)
    for row in np.flatnonzero(usable & ~finite):
        excluded.append((ids[row], "UMAP returned non-finite coordinates"))
    keep = usable & finite
    columns = ["x", "y", "z"][: params.n_components]
    coords = pd.DataFrame(coordinates[keep].astype(np.float32), columns=columns)
    coords.insert(0, "image_id", [ids[row] for row in np.flatnonzero(keep)])
    log.info("projected %d images (%d fitted, mode %s)", len(coords), n_fit, params.mode)
    return Projection(
        coords=coords,
        params=params,
        excluded=excluded,
        n_neighbors=n_neighbors,
        n_fitted=n_fit,
        embedding_key=embeddings.key,
    )


def _fit(vectors: np.ndarray, params: ProjectionParams, n_neighbors: int) -> Any:
    try:
        import umap
    except ImportError as error:
        raise ImportError("The projection needs umap-learn: pip install umap-learn") from error

    init = "spectral" if len(vectors) >= MIN_POINTS_FOR_SPECTRAL else "random"
    reducer = umap.UMAP(
        n_components=params.n_components,
        n_neighbors=n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.seed,
        init=init,
        transform_seed=params.seed,
    )
    with warnings.catch_warnings():
        # random_state makes UMAP single-threaded and it warns about that, which is intended here.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
        reducer.fit(vectors)
    return reducer


def _to_arrays(result: Projection) -> dict[str, np.ndarray]:
    columns = ["x", "y", "z"][: result.params.n_components]
    meta = {
        "excluded": result.excluded,
        "n_neighbors": result.n_neighbors,
        "n_fitted": result.n_fitted,
    }
    return {
        "image_id": np.array(result.coords["image_id"].tolist(), dtype="U"),
        "coordinates": result.coords[columns].to_numpy(np.float32),
        "meta": np.array(json.dumps(meta)),
    }


def _from_arrays(arrays: dict[str, np.ndarray], params: ProjectionParams, key: str) -> Projection:
    columns = ["x", "y", "z"][: params.n_components]
    coords = pd.DataFrame(arrays["coordinates"].astype(np.float32), columns=columns)
    coords.insert(0, "image_id", arrays["image_id"].tolist())
    meta = json.loads(str(arrays["meta"]))
    return Projection(
        coords=coords,
        params=params,
        excluded=[(str(image_id), str(reason)) for image_id, reason in meta["excluded"]],
        n_neighbors=int(meta["n_neighbors"]),
        n_fitted=int(meta["n_fitted"]),
        embedding_key=key,
    )


def with_mode(params: ProjectionParams, mode: str) -> ProjectionParams:
    """Return a copy of ``params`` with another mode."""
    return replace(params, mode=mode)
