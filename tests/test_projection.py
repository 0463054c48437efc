"""UMAP projection guards, modes, seeds and caching."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.cache import ArtifactCache
from explorer.embeddings import EmbeddingSet, ModelInfo, PreprocessConfig
from explorer.errors import ProjectionError
from explorer.projection import ProjectionParams, project

INFO = ModelInfo(
    model_id="test:vectors",
    name="test",
    preprocess_config=PreprocessConfig(image_size=(64, 64), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    is_random=True,
)


def embedding_set(n: int, dim: int = 16, seed: int = 0) -> EmbeddingSet:
    """Return ``n`` random unit vectors in two loose clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, dim))
    vectors = centres[np.arange(n) % 2] + 0.3 * rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return EmbeddingSet([f"img{i}" for i in range(n)], vectors.astype(np.float32), INFO)


def test_umap_rejects_three_points():
    with pytest.raises(ProjectionError, match="at least 4 usable images.*got 3"):
        project(embedding_set(3), cache=False)


def test_umap_six_points_clamps_neighbors_with_warning():
    with pytest.warns(UserWarning, match="n_neighbors=15.*using 5"):
        result = project(embedding_set(6), ProjectionParams(n_neighbors=15), cache=False)

    assert result.n_neighbors == 5
    assert result.coords.shape == (6, 3)
    assert list(result.coords.columns) == ["image_id", "x", "y"]
    assert np.isfinite(result.coords[["x", "y"]].to_numpy()).all()


def test_zero_and_nan_rows_excluded_and_reported():
    embeddings = embedding_set(30)
    embeddings.vectors[4] = 0.0
    embeddings.vectors[7, 3] = np.nan
    embeddings.vectors[9, 0] = np.inf

    result = project(embeddings, cache=False)

    assert dict(result.excluded) == {
        "img4": "vector is all zeros",
        "img7": "vector contains NaN or infinite values",
        "img9": "vector contains NaN or infinite values",
    }
    assert len(result.coords) == 27
    assert not {"img4", "img7", "img9"} & set(result.image_ids)
    assert np.isfinite(result.coords[["x", "y"]].to_numpy()).all()


def test_exclusions_count_toward_minimum():
    embeddings = embedding_set(5)
    embeddings.vectors[0] = 0.0
    embeddings.vectors[1] = np.nan

    with pytest.raises(ProjectionError, match="got 3 .*2 left out"):
        project(embeddings, cache=False)


def test_same_seed_same_coordinates():
    embeddings = embedding_set(30)

    first = project(embeddings, ProjectionParams(seed=3), cache=False)
    second = project(embeddings, ProjectionParams(seed=3), cache=False)

    np.testing.assert_array_equal(first.coords[["x", "y"]].to_numpy(), second.coords[["x", "y"]].to_numpy())


def test_transform_mode_places_synthetic_points():
    embeddings = embedding_set(30)
    sources = ["real" if i < 20 else "synthetic" for i in range(30)]

    result = project(embeddings, ProjectionParams(mode="real"), sources=sources, cache=False)

    assert result.n_fitted == 20
    assert result.image_ids == embeddings.image_ids
    assert np.isfinite(result.coords[["x", "y"]].to_numpy()).all()


def test_transform_mode_keeps_real_map_fixed():
    embeddings = embedding_set(30)
    real_only = embeddings.subset(embeddings.image_ids[:20])
    sources = ["real" if i < 20 else "synthetic" for i in range(30)]

    with_synthetic = project(embeddings, ProjectionParams(mode="real"), sources=sources, cache=False)
    alone = project(real_only, ProjectionParams(mode="all"), cache=False)

    np.testing.assert_allclose(
        with_synthetic.coords[["x", "y"]].to_numpy()[:20], alone.coords[["x", "y"]].to_numpy(), atol=1e-5
    )


def test_real_mode_needs_sources():
    with pytest.raises(ProjectionError, match="sources"):
        project(embedding_set(10), ProjectionParams(mode="real"), cache=False)


def test_real_mode_needs_four_real_images():
    sources = ["real"] * 3 + ["synthetic"] * 7

    with pytest.raises(ProjectionError, match="at least 4 usable real images"):
        project(embedding_set(10), ProjectionParams(mode="real"), sources=sources, cache=False)


def test_three_components():
    result = project(embedding_set(20), ProjectionParams(n_components=3), cache=False)

    assert list(result.coords.columns) == ["image_id", "x", "y", "z"]
    assert np.isfinite(result.coords[["x", "y", "z"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_components", 4, "n_components must be 2 or 3"),
        ("n_neighbors", 1, "n_neighbors must be at least 2"),
        ("min_dist", 1.5, "min_dist must be between 0 and 1"),
        ("mode", "synthetic", "mode must be one of all, real"),
    ],
)
def test_params_reject_invalid_values(field, value, message):
    with pytest.raises(ProjectionError, match=message):
        ProjectionParams(**{field: value})


def test_projection_cached_by_embeddings_and_params(tmp_path, monkeypatch):
    import explorer.projection as projection

    cache = ArtifactCache(tmp_path)
    embeddings = embedding_set(20)
    first = project(embeddings, cache=cache)
    monkeypatch.setattr(projection, "_fit", lambda *args: pytest.fail("UMAP ran on a cache hit"))

    result = project(embeddings, cache=cache)

    np.testing.assert_array_equal(result.coords[["x", "y"]].to_numpy(), first.coords[["x", "y"]].to_numpy())
    assert result.image_ids == first.image_ids
    with pytest.raises(pytest.fail.Exception, match="UMAP ran"):
        project(embeddings, ProjectionParams(seed=1), cache=cache)
