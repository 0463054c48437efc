"""Memory at scale: embedding keeps one batch of images decoded, and projection makes no float64 copy."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import explorer.embeddings as embeddings
import explorer.images
from explorer.cache import ArtifactCache
from explorer.embeddings import EmbeddingStore, LoadedModel, ModelInfo, ModelSpec, PreprocessConfig, embed_images

N_IMAGES = 2000
BATCH_SIZE = 32
SIDE = 8
DIM = 4


class _MeanColourModel(torch.nn.Module):
    """Stand-in image tower: the mean colour of each image plus a constant, as a 4-d vector."""

    def encode_image(self, batch: torch.Tensor) -> torch.Tensor:
        means = batch.mean(dim=(2, 3))
        return torch.cat([means, torch.ones(len(batch), 1)], dim=1)


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def _stub_model() -> LoadedModel:
    config = PreprocessConfig(image_size=(SIDE, SIDE), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    info = ModelInfo(model_id="mean-colour:test", name="mean-colour", preprocess_config=config, is_random=True)
    return LoadedModel(model=_MeanColourModel(), preprocess=_to_tensor, info=info, spec=ModelSpec(), embed_dim=DIM)


@pytest.fixture(scope="module")
def many_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Write 2,000 distinct 8 x 8 PNG files."""
    folder = tmp_path_factory.mktemp("many")
    paths = []
    for index in range(N_IMAGES):
        colour = (index % 256, (index // 256) % 256, 7)
        path = folder / f"{index:05d}.png"
        Image.new("RGB", (SIDE, SIDE), colour).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def live_decoded(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count decoded images that are still alive, and the largest such count."""
    counts = {"live": 0, "peak": 0, "decoded": 0}
    decode = explorer.images.decode_image

    def release() -> None:
        counts["live"] -= 1

    def counting_decode(*args, **kwargs) -> Image.Image:
        image = decode(*args, **kwargs)
        counts["decoded"] += 1
        counts["live"] += 1
        counts["peak"] = max(counts["peak"], counts["live"])
        weakref.finalize(image, release)
        return image

    monkeypatch.setattr(explorer.images, "decode_image", counting_decode)
    return counts


def test_embedding_keeps_one_batch_decoded(
    many_images: list[Path], live_decoded: dict[str, int]
) -> None:
    result = embed_images(many_images, _stub_model(), cache=False, batch_size=BATCH_SIZE, num_workers=0)

    assert len(result) == N_IMAGES
    assert live_decoded["decoded"] == N_IMAGES
    assert live_decoded["peak"] <= BATCH_SIZE


def test_embedding_writes_chunks_while_running(
    many_images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "CHUNK_IMAGES", 256)
    cache = ArtifactCache(tmp_path)
    chunks_seen: list[int] = []
    store = EmbeddingStore(cache, _stub_model().info)

    def progress(done: int, total: int) -> None:
        chunks_seen.append(len(store.chunk_files()))

    result = embed_images(
        many_images, _stub_model(), cache=cache, batch_size=BATCH_SIZE, num_workers=0, progress=progress
    )

    assert len(result) == N_IMAGES
    # Chunks appear during the run, one per 256 images, not all at the end.
    assert chunks_seen[len(chunks_seen) // 2] >= 3
    assert len(store.chunk_files()) == -(-N_IMAGES // 256)


def test_store_load_filters_by_hash(tmp_path: Path) -> None:
    store = EmbeddingStore(ArtifactCache(tmp_path), _stub_model().info)
    store.write_chunk(["a", "b", "c"], np.eye(3, DIM, dtype=np.float32))
    store.write_chunk(["d", "e"], np.eye(2, DIM, dtype=np.float32))

    result = store.load({"b", "e"})

    assert sorted(result) == ["b", "e"]
    np.testing.assert_array_equal(result["e"], np.eye(2, DIM, dtype=np.float32)[1])


def test_store_load_returns_every_vector(tmp_path: Path) -> None:
    store = EmbeddingStore(ArtifactCache(tmp_path), _stub_model().info)
    store.write_chunk(["a", "b"], np.eye(2, DIM, dtype=np.float32))

    result = store.load()

    assert sorted(result) == ["a", "b"]


def test_warm_run_decodes_no_image(
    many_images: list[Path], tmp_path: Path, live_decoded: dict[str, int]
) -> None:
    cache = ArtifactCache(tmp_path)
    first = embed_images(many_images[:300], _stub_model(), cache=cache, batch_size=BATCH_SIZE, num_workers=0)
    decoded_cold = live_decoded["decoded"]

    second = embed_images(many_images[:300], _stub_model(), cache=cache, batch_size=BATCH_SIZE, num_workers=0)

    assert decoded_cold == 300
    assert live_decoded["decoded"] == 300
    np.testing.assert_array_equal(second.vectors, first.vectors)


def test_projection_fits_float32_without_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    import explorer.projection as projection

    vectors = np.random.default_rng(0).normal(size=(40, DIM)).astype(np.float32)
    embedded = embeddings.EmbeddingSet([str(index) for index in range(40)], vectors, _stub_model().info)
    fitted: list[np.ndarray] = []
    fit = projection._fit

    def recording_fit(data: np.ndarray, *args, **kwargs):  # noqa: ANN202 - a UMAP reducer
        fitted.append(data)
        return fit(data, *args, **kwargs)

    monkeypatch.setattr(projection, "_fit", recording_fit)

    result = projection.project(embedded, projection.ProjectionParams(), cache=False)

    assert len(result.coords) == 40
    assert fitted[0].dtype == np.float32
    assert np.shares_memory(fitted[0], vectors)
