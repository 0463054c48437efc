"""``python -m explorer saliency`` on a small folder dataset made in the test."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.__main__ import main
from explorer.saliency import METHODS
from explorer.saliency.overlays import CAPTION_HEIGHT, TITLE_FONT_SIZE


def make_folder_dataset(root: Path) -> Path:
    """Two conditions with three generated 48 x 64 images each, in the plain-folders layout."""
    rng = np.random.default_rng(0)
    for condition, colour in (("alpha", (200, 80, 60)), ("beta", (60, 90, 200))):
        folder = root / "real" / condition
        folder.mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 60, (64, 48, 3)) + np.asarray(colour)
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{condition}_{index}.png")
    return root


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder_dataset(tmp_path_factory.mktemp("folder-dataset"))


def model_flags(checkpoint: Path) -> list[str]:
    return ["--model", "explorer-tiny-vit", "--pretrained", "", "--checkpoint", str(checkpoint)]


@pytest.mark.parametrize("method", ["gradcam", "ig"])
def test_cli_writes_panel_png(folder_dataset: Path, tiny_vit_checkpoint: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture, method: str) -> None:
    image = folder_dataset / "real" / "alpha" / "alpha_0.png"
    out = tmp_path / f"{method}.png"

    status = main(["saliency", str(image), "--dataset", str(folder_dataset), "--method", method,
                   "--target", "beta", "--out", str(out), "--height", "128", *model_flags(tiny_vit_checkpoint)])

    assert status == 0
    result = Image.open(io.BytesIO(out.read_bytes()))
    assert result.format == "PNG"
    # Tiles of 128 pixels under their captions, with the title strip above them.
    assert result.height > 128 + CAPTION_HEIGHT + TITLE_FONT_SIZE
    assert result.width > 3 * 96
    assert not result.getexif()
    out = capsys.readouterr().out
    assert "target 'beta'" in out
    assert out.startswith(f"{METHODS[method].label} map")


def test_cli_accepts_image_id_with_true_target(folder_dataset: Path, tiny_vit_checkpoint: Path,
                                               tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from explorer.dataset import load_dataset

    image_id = str(load_dataset(folder_dataset).manifest["image_id"].iloc[0])
    out = tmp_path / "by-id.png"

    status = main(["saliency", image_id, "--dataset", str(folder_dataset), "--method", "saliency",
                   "--target", "true", "--out", str(out), *model_flags(tiny_vit_checkpoint)])

    assert status == 0
    assert out.is_file()
    assert "written to" in capsys.readouterr().out


def test_cli_rejects_unknown_image(folder_dataset: Path, tiny_vit_checkpoint: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    status = main(["saliency", "no-such-image", "--dataset", str(folder_dataset),
                   "--out", str(tmp_path / "x.png"), *model_flags(tiny_vit_checkpoint)])

    assert status == 2
    assert "'no-such-image' is neither an image id" in capsys.readouterr().err


def test_cli_rejects_non_png_output(folder_dataset: Path, tiny_vit_checkpoint: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    status = main(["saliency", "x", "--dataset", str(folder_dataset),
                   "--out", str(tmp_path / "x.jpg"), *model_flags(tiny_vit_checkpoint)])

    assert status == 2
    assert "must end in .png" in capsys.readouterr().err
