"""The build pipeline and ``python -m explorer build`` on a small folder dataset."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import explorer.embeddings as embeddings
import explorer.pipeline as pipeline
import explorer.projection as projection
from explorer.__main__ import main
from explorer.cache import NPZ, ArtifactCache, read_checked
from explorer.embeddings import TINY_VIT, EmbeddingStore
from explorer.images import save_png
from explorer.pipeline import all_modes, build
from explorer.projection import ProjectionParams

CONDITIONS = ("alpha", "beta", "gamma")
REAL_PER_CONDITION = 3
SYNTHETIC_PER_CONDITION = 2
N_IMAGES = len(CONDITIONS) * (REAL_PER_CONDITION + SYNTHETIC_PER_CONDITION)
SMALL_MAP = ProjectionParams(n_neighbors=5)


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'folders' layout dataset of random 48x48 PNG images, 9 real and 6 synthetic."""
    root = tmp_path_factory.mktemp("folder-dataset")
    rng = np.random.default_rng(7)
    for condition in CONDITIONS:
        for index in range(REAL_PER_CONDITION):
            pixels = rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
            save_png(Image.fromarray(pixels), root / "real" / condition / f"{condition}_{index}.png")
        for index in range(SYNTHETIC_PER_CONDITION):
            pixels = rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
            save_png(Image.fromarray(pixels), root / "synthetic" / "gen" / condition / f"{condition}_{index}.png")
    return root


def stored_rows(cache_root: Path, info: embeddings.ModelInfo) -> int:
    """Return how many vectors the embedding chunks hold, duplicates included."""
    store = EmbeddingStore(ArtifactCache(cache_root), info)
    return sum(len(NPZ.loads(read_checked(path))["sha256"]) for path in store.chunk_files())


def test_build_embeds_and_projects_both_modes(folder_dataset, tiny_model_spec, tmp_path):
    result = build(folder_dataset, tiny_model_spec, cache_dir=tmp_path, projection=all_modes(SMALL_MAP))

    assert result.embeddings.vectors.shape == (N_IMAGES, 32)
    assert set(result.projections) == {"all", "real"}
    assert result.projection("real").n_fitted == len(CONDITIONS) * REAL_PER_CONDITION
    assert len(result.projection("all").coords) == N_IMAGES
    assert set(result.timings) == {"import", "model", "embed", "project"}
    assert result.model.model_id == result.embeddings.model_id
    assert result.cache_root == tmp_path


def test_build_rerun_is_cached(folder_dataset, tiny_model_spec, tmp_path, monkeypatch):
    first = build(folder_dataset, tiny_model_spec, cache_dir=tmp_path, projection=SMALL_MAP)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed on an unchanged rerun")

    monkeypatch.setattr(embeddings, "load_model", fail)
    monkeypatch.setattr(pipeline, "load_model", fail)
    monkeypatch.setattr(projection, "_fit", fail)
    result = build(folder_dataset, tiny_model_spec, cache_dir=tmp_path, projection=SMALL_MAP)

    np.testing.assert_array_equal(result.embeddings.vectors, first.embeddings.vectors)
    np.testing.assert_array_equal(
        result.projection().coords[["x", "y"]].to_numpy(), first.projection().coords[["x", "y"]].to_numpy()
    )


def test_build_reports_projection_errors_per_mode(tmp_path, tiny_model_spec):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for index in range(5):
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        save_png(Image.fromarray(pixels), root / "synthetic" / "gen" / "alpha" / f"s{index}.png")

    with pytest.warns(UserWarning, match="using 4"):
        result = build(root, tiny_model_spec, cache_dir=tmp_path / "cache", projection=all_modes(SMALL_MAP))

    assert set(result.projections) == {"all"}
    assert "at least 4 usable real images" in result.projection_errors["real"]
    with pytest.raises(Exception, match="mode 'real'"):
        result.projection("real")


def test_build_command_prints_summary(folder_dataset, tiny_vit_checkpoint, tmp_path, capsys):
    argv = [
        "build", str(folder_dataset),
        "--model", TINY_VIT,
        "--checkpoint", str(tiny_vit_checkpoint),
        "--cache-dir", str(tmp_path),
        "--n-neighbors", "5",
    ]

    first_status = main(argv)
    first = capsys.readouterr().out
    second_status = main(argv)
    second = capsys.readouterr().out

    assert first_status == 0
    assert second_status == 0
    assert f"{N_IMAGES} images" in first
    assert f"embedded  {N_IMAGES} images, dim 32, 0 failed" in first
    assert "map all" in first
    assert "map real" in first
    for stage in ("import", "model", "embed", "project", "total"):
        assert stage in first
    assert f"embedded  {N_IMAGES} images" in second


def test_build_command_rejects_missing_checkpoint(folder_dataset, tmp_path, capsys):
    missing = tmp_path / "missing.pt"

    status = main(["build", str(folder_dataset), "--model", TINY_VIT, "--checkpoint", str(missing)])

    assert status == 2
    assert str(missing) in capsys.readouterr().err


BUILD_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from explorer.embeddings import ModelSpec
    from explorer.pipeline import build

    root, checkpoint, cache = sys.argv[1:4]
    spec = ModelSpec(name="explorer-tiny-vit", pretrained=None, checkpoint=Path(checkpoint))
    result = build(root, spec, cache_dir=cache, projection=None, batch_size=4)
    print(len(result.embeddings), float(result.embeddings.vectors.sum()))
    """
)


def test_two_builds_in_parallel_processes(folder_dataset, tiny_model_spec, tmp_path):
    cache_root = tmp_path / "cache"
    command = [sys.executable, "-c", BUILD_WORKER, str(folder_dataset), str(tiny_model_spec.checkpoint), str(cache_root)]
    repo = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}

    processes = [
        subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [process.communicate(timeout=180) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], [err for _, err in results]
    assert results[0][0] == results[1][0]
    assert results[0][0].split()[0] == str(N_IMAGES)
    info = embeddings.load_model(tiny_model_spec).info
    assert stored_rows(cache_root, info) == N_IMAGES
