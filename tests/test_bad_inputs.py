"""Bad input as a user meets it on the command line: most cases run a real ``python -m explorer`` command.

Library-level cases live with their modules and are not repeated here:
``validate`` on an empty folder in ``test_validate_cli.py``; CSV encodings,
missing columns, row checks and symlinks in ``test_dataset.py``
(``test_manifest_csv_encodings``, ``test_manifest_missing_columns_named``,
``test_manifest_row_checks``, ``test_folders_import_rows_and_report``,
``test_ten_thousand_images_in_one_condition``), decoding and thumbnails in
``test_images.py`` (``test_thumbnail_of_one_pixel_image``,
``test_thumbnail_of_huge_jpeg_decodes_reduced_once``) and the artifact store in
``test_cache.py`` (``test_corrupt_file_is_logged_deleted_and_recomputed``).

The dataset builders here are shared with ``test_pages_bad_inputs.py``. Their
images are seeded, so the same builder always writes the same bytes and the
session cache serves the embeddings and maps of one test to the next.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from explorer.__main__ import main
from explorer.cache import read_checked
from explorer.embeddings import TINY_VIT

# Side of the noise images of the small datasets, in pixels.
IMAGE_SIDE = 32
# Condition with exactly one real image in the single-image dataset.
SINGLE_CONDITION = "Single"
SINGLE_IMAGE_ID = f"real/{SINGLE_CONDITION}/only.png"
# Size of the huge test photo, as a camera would write it.
HUGE_SIZE = (12_000, 9_000)
# JPEG decodes at 1/8 scale when a thumbnail or a probe needs at most that much.
HUGE_SIZE_AT_ONE_EIGHTH = (1_500, 1_125)
UNICODE_CONDITION = "Café-au-lait syndrome"
UNICODE_FILE = "bébé 1 顔.png"


# --- dataset builders ---------------------------------------------------------------------------


def write_noise_png(path: Path, seed: int, side: int = IMAGE_SIDE) -> Path:
    """Write a PNG of seeded noise, so each seed gives distinct, repeatable bytes."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path


def build_synthetic_only(root: Path) -> Path:
    """Write a folders dataset with two conditions of one generator and no real image."""
    for offset, condition in enumerate(("A", "B")):
        for index in range(3):
            write_noise_png(root / "synthetic" / "fastgan" / condition / f"{index}.png", 100 + 10 * offset + index)
    return root


def build_single_image_condition(root: Path) -> Path:
    """Write a folders dataset where condition ``Single`` has one real image.

    Alpha and Beta have three real images each; every condition has two
    synthetic images, so maps, benchmarks and comparisons all have work to do.
    """
    seed = 200
    for condition in ("Alpha", "Beta"):
        for index in range(3):
            write_noise_png(root / "real" / condition / f"{index}.png", seed)
            seed += 1
    write_noise_png(root / SINGLE_IMAGE_ID, seed)
    for condition in ("Alpha", "Beta", SINGLE_CONDITION):
        for index in range(2):
            seed += 1
            write_noise_png(root / "synthetic" / "gen" / condition / f"{index}.png", seed)
    return root


def build_tiny(root: Path) -> Path:
    """Write a folders dataset of two images (one real, one synthetic): too few for UMAP."""
    write_noise_png(root / "real" / "Lonely" / "only.png", 300)
    write_noise_png(root / "synthetic" / "gen" / "Lonely" / "copy.png", 301)
    return root


def build_unicode_names(root: Path) -> Path:
    """Write a folders dataset whose condition and file names hold accents, CJK and spaces."""
    write_noise_png(root / "real" / UNICODE_CONDITION / UNICODE_FILE, 400)
    write_noise_png(root / "real" / UNICODE_CONDITION / "second photo.png", 401)
    return root


def build_extreme_sizes(root: Path) -> Path:
    """Write a folders dataset with a 1x1 PNG and a 12,000 x 9,000 JPEG (left half white)."""
    folder = root / "real" / "Sizes"
    folder.mkdir(parents=True)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(folder / "dot.png")
    huge = Image.new("L", HUGE_SIZE, 128)
    huge.paste(255, (0, 0, HUGE_SIZE[0] // 2, HUGE_SIZE[1]))
    huge.save(folder / "huge.jpg", quality=50)
    return root


def write_manifest(root: Path, header: list[str], rows: list[list[str]], *, sep: str = ",",
                   newline: str = "\n", bom: bool = False) -> Path:
    """Write ``manifest.csv`` under ``root`` with the given separator, line ending and BOM."""
    text = newline.join(sep.join(row) for row in [header, *rows]) + newline
    path = root / "manifest.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


# --- shared fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_single_image_condition(tmp_path_factory.mktemp("single-image-condition"))


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_synthetic_only(tmp_path_factory.mktemp("synthetic-only"))


@pytest.fixture
def model_flags(tiny_vit_checkpoint: Path) -> list[str]:
    """Command-line flags that load the tiny ViT checkpoint with random weights."""
    return ["--model", TINY_VIT, "--pretrained", "", "--checkpoint", str(tiny_vit_checkpoint), "--weights", "random"]


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``python -m explorer ARGV`` in this process; return exit code, stdout and stderr.

    An exception that the command line does not turn into a message reaches
    the test and fails it, as a traceback would reach the user.
    """
    exit_code = main(list(argv))
    captured = capsys.readouterr()
    return exit_code, captured.out, captured.err


# --- empty folder -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["build", "{root}"],
        ["benchmark", "{root}", "--protocol", "rare"],
        ["compare", "{root}", "--out", "{root}/out"],
        ["saliency", "x.png", "--dataset", "{root}", "--out", "{root}/x.png"],
    ],
    ids=["build", "benchmark", "compare", "saliency"],
)
def test_empty_folder_every_command_exits_2(tmp_path, capsys, model_flags, command):
    root = tmp_path / "empty"
    root.mkdir()
    argv = [part.format(root=root) for part in command]

    exit_code, out, err = run_cli(capsys, *argv, *model_flags)

    assert exit_code == 2
    assert out == ""
    assert f"error: Dataset folder {root} is empty" in err
    assert "for example real/<condition>/<image>" in err
    assert not (root / "out").exists()


# --- only synthetic images ----------------------------------------------------------------------


def test_synthetic_only_validate_flags_every_condition(synthetic_root, capsys):
    exit_code, out, _ = run_cli(capsys, "validate", str(synthetic_root))

    assert exit_code == 0
    assert "Usable images: 6" in out
    assert "Synthetic conditions without real images: A, B" in out
    assert "[warning] synthetic_without_real: -: Condition 'A' has synthetic images (fastgan: 3)" in out


def test_synthetic_only_build_skips_real_map(synthetic_root, capsys, model_flags):
    exit_code, out, _ = run_cli(capsys, "build", str(synthetic_root), "--mode", "real", "--no-progress", *model_flags)

    assert exit_code == 0
    assert "embedded  6 images, dim 32, 0 failed" in out
    assert "map real  skipped: UMAP needs at least 4 usable real images to fit, got 0" in out
    assert "Add images or use mode 'all'." in out


@pytest.mark.parametrize("protocol", ["rdface", "grouped", "rare"])
def test_synthetic_only_benchmark_requests_real(synthetic_root, capsys, model_flags, protocol):
    exit_code, _, err = run_cli(capsys, "benchmark", str(synthetic_root), "--protocol", protocol, *model_flags)

    assert exit_code == 2
    assert "error: the manifest has no real images" in err
    assert "add real images of the conditions (for example real/<condition>/<image>)" in err


def test_synthetic_only_compare_requests_real(synthetic_root, capsys, model_flags, tmp_path):
    exit_code, _, err = run_cli(capsys, "compare", str(synthetic_root), "--out", str(tmp_path / "out"), *model_flags)

    assert exit_code == 2
    assert "error: the dataset has 6 synthetic images but no real image" in err
    assert "add real images of the same conditions" in err
    assert not (tmp_path / "out").exists()


def test_synthetic_only_saliency_requests_real(synthetic_root, capsys, model_flags, tmp_path):
    out_file = tmp_path / "panel.png"

    exit_code, _, err = run_cli(
        capsys, "saliency", "synthetic/fastgan/A/0.png", "--dataset", str(synthetic_root), "--out", str(out_file),
        *model_flags,
    )

    assert exit_code == 2
    assert "error: the manifest has no real images" in err
    assert "add real images" in err
    assert not out_file.exists()


# --- manifest CSV dialects and columns -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "newline", "bom"),
    [(",", "\n", True), (";", "\n", False), (",", "\r\n", False), (";", "\r\n", True)],
    ids=["bom", "semicolons", "windows-line-endings", "all-three"],
)
def test_validate_reads_manifest_dialects(tmp_path, capsys, sep, newline, bom):
    write_noise_png(tmp_path / "img" / "one.png", 1)
    write_noise_png(tmp_path / "img" / "two.png", 2)
    write_manifest(tmp_path, ["image_id", "path", "condition", "source"], [
        ["one", "img/one.png", "Kabuki syndrome", "real"],
        ["two", "img/two.png", "Kabuki syndrome", "real"],
    ], sep=sep, newline=newline, bom=bom)

    exit_code, out, _ = run_cli(capsys, "validate", str(tmp_path))

    assert exit_code == 0
    assert "Layout: manifest" in out
    assert "Usable images: 2" in out
    assert "Left out: 0; flagged: 0" in out
    # A BOM or a stray carriage return would glue itself to a column name or a label.
    assert "\ufeff" not in out
    assert "\r" not in out


def test_validate_names_missing_manifest_columns(tmp_path, capsys):
    write_noise_png(tmp_path / "one.png", 1)
    write_manifest(tmp_path, ["image_id", "file", "label"], [["one", "one.png", "KS"]], sep=";", bom=True)

    exit_code, out, _ = run_cli(capsys, "validate", str(tmp_path))

    assert exit_code == 1
    assert f"Table {tmp_path / 'manifest.csv'} is missing required column(s) path, condition" in out
    assert "found image_id, file, label" in out
    assert "Add the missing column(s) to the header." in out


def test_build_names_missing_manifest_columns(tmp_path, capsys, model_flags):
    write_noise_png(tmp_path / "one.png", 1)
    write_manifest(tmp_path, ["image_id", "path"], [["one", "one.png"]])

    exit_code, out, err = run_cli(capsys, "build", str(tmp_path), *model_flags)

    assert exit_code == 2
    assert out == ""
    assert "is missing required column(s) condition" in err


# --- paths escaping the dataset root ----------------------------------------------------------------


def test_validate_reports_paths_escaping_root(tmp_path, capsys):
    root = tmp_path / "dataset"
    write_noise_png(root / "img" / "inside.png", 1)
    outside = write_noise_png(tmp_path / "private" / "outside.png", 2)
    linked_outside = write_noise_png(tmp_path / "private" / "linked.png", 3)
    os.symlink(linked_outside, root / "img" / "link.png")
    os.symlink(tmp_path / "private", root / "img" / "folder-link")
    write_manifest(root, ["image_id", "path", "condition"], [
        ["inside", "img/inside.png", "A"],
        ["dotdot", "../private/outside.png", "A"],
        ["absolute", str(outside), "A"],
        ["link", "img/link.png", "A"],
        ["through-folder-link", "img/folder-link/linked.png", "A"],
    ])

    exit_code, out, _ = run_cli(capsys, "validate", str(root))

    assert exit_code == 0
    assert "Usable images: 1" in out
    assert "Left out: 4; flagged: 1" in out
    for relpath in ("../private/outside.png", str(outside), "img/link.png", "img/folder-link/linked.png"):
        assert f"[error] outside_root: {relpath}: Path {relpath} resolves to {tmp_path / 'private'}" in out
    assert out.count("copy the file into the dataset folder") == 4


def test_validate_reports_folder_link_escaping_root(tmp_path, capsys):
    root = tmp_path / "dataset"
    write_noise_png(root / "real" / "A" / "a.png", 1)
    write_noise_png(tmp_path / "private" / "b.png", 2)
    os.symlink(tmp_path / "private", root / "real" / "B")

    exit_code, out, _ = run_cli(capsys, "validate", str(root))

    assert exit_code == 0
    assert "Usable images: 1" in out
    assert f"[error] outside_root: real/B: Folder link real/B points outside the dataset folder {root}" in out
    assert "b.png" not in out


# --- Unicode and spaces in names ------------------------------------------------------------------


def test_build_embeds_unicode_and_space_names(tmp_path, capsys, model_flags):
    root = build_unicode_names(tmp_path / "données à voir")

    exit_code, out, _ = run_cli(capsys, "build", str(root), "--mode", "real", "--no-progress", *model_flags)

    assert exit_code == 0
    assert f"dataset   {root} (layout folders): 2 images, 1 conditions, 0 left out, 0 flagged" in out
    assert "embedded  2 images, dim 32, 0 failed" in out
    assert "map real  skipped: UMAP needs at least 4 usable real images to fit, got 2" in out


def test_validate_lists_unicode_condition(tmp_path, capsys):
    root = build_unicode_names(tmp_path / "données à voir")

    exit_code, out, _ = run_cli(capsys, "validate", str(root))

    assert exit_code == 0
    assert f"Dataset: {root}" in out
    assert UNICODE_CONDITION in out
    assert "Left out: 0; flagged: 0" in out


# --- duplicate files by content -------------------------------------------------------------------


def test_validate_reports_duplicate_content(tmp_path, capsys):
    original = write_noise_png(tmp_path / "real" / "A" / "a.png", 1)
    write_noise_png(tmp_path / "real" / "A" / "b.png", 2)
    (tmp_path / "real" / "B").mkdir()
    (tmp_path / "real" / "B" / "copy of a.png").write_bytes(original.read_bytes())

    exit_code, out, _ = run_cli(capsys, "validate", str(tmp_path))

    assert exit_code == 0
    assert "Usable images: 2" in out
    assert (
        "[error] duplicate_content: real/B/copy of a.png: real/B/copy of a.png has the same bytes as "
        "image 'real/A/a.png'; only that one is used." in out
    )


# --- a condition with a single image, on every command ------------------------------------------


def test_single_image_validate_flags_it(single_root, capsys):
    exit_code, out, _ = run_cli(capsys, "validate", str(single_root))

    assert exit_code == 0
    assert "Usable images: 13" in out
    assert f"Conditions with a single real image: {SINGLE_CONDITION}" in out
    assert (
        f"[warning] single_image_condition: {SINGLE_IMAGE_ID}: Condition '{SINGLE_CONDITION}' has one real "
        "image; it is kept, but classifier folds and per-condition statistics need at least two." in out
    )


def test_single_image_build_maps_all(single_root, capsys, model_flags):
    exit_code, out, _ = run_cli(capsys, "build", str(single_root), "--no-progress", *model_flags)

    assert exit_code == 0
    assert "embedded  13 images, dim 32, 0 failed" in out
    assert "map all   13 points in 2-D (n_neighbors 12, 0 left out)" in out
    assert "map real  13 points in 2-D (n_neighbors 6, 0 left out)" in out
    assert "skipped" not in out


@pytest.mark.parametrize(
    ("protocol", "status"),
    [("rdface", "a single subject"), ("grouped", "a single subject"), ("rare", "not evaluable: a single subject")],
)
def test_single_image_benchmark_lists_untested(single_root, capsys, model_flags, protocol, status):
    exit_code, out, err = run_cli(capsys, "benchmark", str(single_root), "--protocol", protocol, *model_flags)

    assert exit_code == 0, err
    assert "WARNING: the model has RANDOM weights" in out
    untested = out.split("Not tested (training only):", 1)[1].split("Notes:", 1)[0]
    assert f"{SINGLE_CONDITION}       1" in untested
    assert status in untested
    per_condition = out.split("Per condition", 1)[1].split("Not tested", 1)[0]
    assert "Alpha" in per_condition
    assert SINGLE_CONDITION not in per_condition


def test_single_image_compare_writes_tables(single_root, capsys, model_flags, tmp_path):
    import pandas as pd

    exit_code, out, err = run_cli(capsys, "compare", str(single_root), "--out", str(tmp_path), *model_flags)

    assert exit_code == 0, err
    assert f"Wrote 7 files to {tmp_path}" in out
    metrics = pd.read_csv(tmp_path / "metrics_long.csv")
    single_cells = metrics[metrics["condition"] == SINGLE_CONDITION]
    assert set(single_cells["n_real"]) == {1}
    assert set(single_cells["n_synthetic"]) == {2}
    shift = single_cells[single_cells["metric"] == "centroid_shift"].iloc[0]
    assert np.isfinite(shift["value"])
    assert "n=1 real, needs ≥2 for an interval" in shift["reason"]


def test_single_image_saliency_writes_panel(single_root, capsys, model_flags, tmp_path):
    out_file = tmp_path / "panel.png"

    exit_code, out, err = run_cli(
        capsys, "saliency", SINGLE_IMAGE_ID, "--dataset", str(single_root), "--method", "gradcam",
        "--target", "true", "--out", str(out_file), "--height", "128", *model_flags,
    )

    assert exit_code == 0, err
    assert f"GradCAM map for target '{SINGLE_CONDITION}'" in out
    assert f"written to {out_file}" in out
    with Image.open(out_file) as panel:
        assert panel.format == "PNG"
        assert panel.height >= 128


# --- too few images for UMAP -------------------------------------------------------------------------


def test_build_skips_maps_of_tiny_dataset(tmp_path, capsys, model_flags):
    root = build_tiny(tmp_path / "tiny")

    exit_code, out, _ = run_cli(capsys, "build", str(root), "--no-progress", *model_flags)

    assert exit_code == 0
    assert "embedded  2 images, dim 32, 0 failed" in out
    assert "map all   skipped: UMAP needs at least 4 usable images to fit, got 2 (2 images, 0 left out). Add images." in out
    assert "map real  skipped: UMAP needs at least 4 usable real images to fit, got 1" in out


# --- 10,000 images in one condition ------------------------------------------------------------------


def test_validate_ten_thousand_images(tmp_path, capsys):
    folder = tmp_path / "real" / "Large condition"
    folder.mkdir(parents=True)
    # (n_images, height, width, RGB): distinct 8x8 noise per file.
    pixels = np.random.default_rng(0).integers(0, 256, (10_000, 8, 8, 3), dtype=np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"img_{index:05d}.png")

    exit_code, out, _ = run_cli(capsys, "validate", str(tmp_path))

    assert exit_code == 0
    assert "Usable images: 10000" in out
    assert "Large condition  10000" in out
    assert "Left out: 0; flagged: 0" in out


# --- 1x1 and 12,000 x 9,000 pixel images ---------------------------------------------------------------


@pytest.fixture(scope="module")
def extreme_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_extreme_sizes(tmp_path_factory.mktemp("extreme-sizes"))


@pytest.fixture
def jpeg_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the size of every JPEG pixel decode (a load of a JPEG whose pixels are not loaded yet)."""
    sizes: list[tuple[int, int]] = []
    original_load = JpegImagePlugin.JpegImageFile.load

    def recording_load(self):
        if self._im is None:
            sizes.append(self.size)
        return original_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", recording_load)
    return sizes


def test_validate_checks_huge_jpeg_at_reduced_size(extreme_root, capsys, jpeg_decodes):
    exit_code, out, _ = run_cli(capsys, "validate", str(extreme_root))

    assert exit_code == 0
    assert "Usable images: 2" in out
    assert "Left out: 0; flagged: 0" in out
    assert jpeg_decodes == [HUGE_SIZE_AT_ONE_EIGHTH]


def test_thumbnails_of_extreme_sizes_decode_once(extreme_root, jpeg_decodes):
    from explorer.images import load_thumbnail

    huge = load_thumbnail(extreme_root / "real" / "Sizes" / "huge.jpg", 160)
    dot = load_thumbnail(extreme_root / "real" / "Sizes" / "dot.png", 160)

    assert jpeg_decodes == [HUGE_SIZE_AT_ONE_EIGHTH]
    assert huge.size == (160, 120)
    assert huge.getpixel((10, 60))[0] > 240
    assert dot.size == (1, 1)
    assert dot.getpixel((0, 0)) == (200, 30, 40)


def test_build_embeds_one_pixel_image(tmp_path, capsys, model_flags):
    folder = tmp_path / "real" / "Sizes"
    folder.mkdir(parents=True)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(folder / "dot.png")
    write_noise_png(folder / "noise.png", 500)

    exit_code, out, _ = run_cli(capsys, "build", str(tmp_path), "--mode", "real", "--no-progress", *model_flags)

    assert exit_code == 0
    assert "embedded  2 images, dim 32, 0 failed" in out


# --- corrupt cache file ----------------------------------------------------------------------------


def test_build_recomputes_corrupt_embedding_cache(tmp_path, capsys, caplog, model_flags):
    root = build_tiny(tmp_path / "tiny")
    cache_root = tmp_path / "cache"
    flags = ["build", str(root), "--cache-dir", str(cache_root), "--no-progress", *model_flags]
    assert run_cli(capsys, *flags)[0] == 0
    chunks = sorted((cache_root / "embeddings").rglob("*.rdfx"))
    assert len(chunks) == 1
    data = bytearray(chunks[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunks[0].write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="explorer.cache"):
        exit_code, out, _ = run_cli(capsys, *flags)

    assert exit_code == 0
    assert "embedded  2 images, dim 32, 0 failed" in out
    records = [record for record in caplog.records if record.name == "explorer.cache"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == (
        f"cache file {chunks[0]} is corrupt (checksum mismatch); deleting it and recomputing"
    )
    recomputed = sorted((cache_root / "embeddings").rglob("*.rdfx"))
    assert len(recomputed) == 1
    assert read_checked(recomputed[0]) is not None
