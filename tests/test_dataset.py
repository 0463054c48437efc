"""Tests for dataset layouts, importers and the validation report.

Every fixture tree is built inside the test from tiny generated images. Each
image gets its own noise pattern, so no two files share bytes by accident.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import struct
import time
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.dataset import (
    LAYOUTS,
    MANIFEST_COLUMNS,
    OPTIONAL_COLUMNS,
    REASONS,
    Dataset,
    detect_layout,
    load_dataset,
)
from explorer.errors import DatasetError, DatasetNotFoundError, LayoutError

_image_seeds = itertools.count(1)


def write_image(path: Path, image_format: str = "PNG", size: tuple[int, int] = (8, 8)) -> Path:
    """Write a small noise image that no other call of this helper repeats."""
    rng = np.random.default_rng(next(_image_seeds))
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=image_format)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
        buffer, format="JPEG", quality=95
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue()[:-200])
    return path


def write_table(path: Path, rows: list[list[str]], sep: str = ",", newline: str = "\n",
                bom: bool = False) -> Path:
    def cell(value: str) -> str:
        return f'"{value}"' if sep in value or '"' in value else value

    text = newline.join(sep.join(cell(value) for value in row) for row in rows) + newline
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
    return path


def reasons(dataset: Dataset, severity: str = "error") -> set[tuple[str, str]]:
    """Return (path or image_id, reason) pairs of the report entries of one severity."""
    return {
        (entry.path or entry.image_id, entry.reason)
        for entry in dataset.report.entries
        if entry.severity == severity
    }


# --- manifest layout --------------------------------------------------------------------------

MANIFEST_HEADER = ["image_id", "path", "condition", "condition_code", "source", "generator",
                   "subject_id", "demo_behaviour"]


def build_manifest_tree(root: Path) -> None:
    images = root / "images"
    for name in ["a.png", "a2.png", "b.png", "c.png", "s1.png", "s2.png", "fake.png",
                 "nolabel.png"]:
        write_image(images / name)
    (images / "copy.png").write_bytes((images / "a.png").read_bytes())
    (images / "notes.txt").write_text("a note, not a photo")
    write_truncated_jpeg(images / "cut.jpg")
    outside = write_image(root.parent / f"{root.name}-outside.png")
    os.symlink(outside, images / "link.png")

    write_table(root / "manifest.csv", [
        MANIFEST_HEADER,
        ["a", "images/a.png", "Kabuki syndrome", "KS", "real", "", "s1", ""],
        ["b", "images/b.png", " kabuki  SYNDROME ", "KS", "real", "", "s2", ""],
        ["c", "images/c.png", "Noonan syndrome", "NS", "real", "", "s3", ""],
        ["s1", "images/s1.png", "Noonan syndrome", "NS", "synthetic", "fastgan", "", "keep"],
        ["s2", "images/s2.png", "Orphan condition", "OC", "synthetic", "fastgan", "", "drift"],
        ["missing", "images/missing.png", "Noonan syndrome", "NS", "real", "", "", ""],
        ["a", "images/a2.png", "Kabuki syndrome", "KS", "real", "", "", ""],
        ["outside", f"../{root.name}-outside.png", "Noonan syndrome", "NS", "real", "", "", ""],
        ["link", "images/link.png", "Noonan syndrome", "NS", "real", "", "", ""],
        ["notes", "images/notes.txt", "Noonan syndrome", "NS", "real", "", "", ""],
        ["cut", "images/cut.jpg", "Noonan syndrome", "NS", "real", "", "", ""],
        ["copy", "images/copy.png", "Kabuki syndrome", "KS", "real", "", "", ""],
        ["fake", "images/fake.png", "Kabuki syndrome", "KS", "imagined", "", "", ""],
        ["nolabel", "images/nolabel.png", "", "", "real", "", "", ""],
    ])
    write_table(root / "landmarks.csv", [
        ["image_id", "scheme", "point", "x", "y"],
        ["a", "ibug68", "1", "5.5", "6"],
        ["a", "ibug68", "0", "1", "2"],
        ["b", "ibug68", "0", "1", "2"],
        ["b", "ibug68", "2", "1", "2"],
        ["ghost", "ibug68", "0", "1", "1"],
    ])


def test_manifest_import_rows_and_report(tmp_path):
    root = tmp_path / "manifest-set"
    build_manifest_tree(root)

    dataset = load_dataset(root)

    manifest = dataset.manifest
    assert dataset.layout == "manifest"
    assert manifest["image_id"].tolist() == ["a", "b", "c", "s1", "s2"]
    assert manifest["condition"].tolist() == [
        "Kabuki syndrome", "Kabuki syndrome", "Noonan syndrome", "Noonan syndrome",
        "Orphan condition",
    ]
    assert manifest["source"].tolist() == ["real", "real", "real", "synthetic", "synthetic"]
    assert manifest["generator"].tolist() == ["", "", "", "fastgan", "fastgan"]
    assert manifest["subject_id"].tolist() == ["s1", "s2", "s3", "", ""]
    assert manifest["demo_behaviour"].tolist() == ["", "", "", "keep", "drift"]
    assert list(manifest.columns[:7]) == list(MANIFEST_COLUMNS)
    assert manifest.columns[-1] == "sha256"
    assert manifest.index.tolist() == [0, 1, 2, 3, 4]
    assert reasons(dataset) == {
        ("images/missing.png", "missing_file"),
        ("images/a2.png", "duplicate_id"),
        (f"../{root.name}-outside.png", "outside_root"),
        ("images/link.png", "outside_root"),
        ("images/notes.txt", "not_an_image"),
        ("images/cut.jpg", "truncated"),
        ("images/copy.png", "duplicate_content"),
        ("images/fake.png", "invalid_source"),
        ("images/nolabel.png", "unknown_condition"),
    }
    assert reasons(dataset, "warning") == {
        ("landmarks.csv", "bad_landmarks"),
        ("c", "single_image_condition"),
        ("", "synthetic_without_real"),
        ("", "bad_landmarks"),
    }


def test_manifest_report_details(tmp_path):
    root = tmp_path / "manifest-set"
    build_manifest_tree(root)

    report = load_dataset(root).report

    # Cells are stripped when read, so only the inner spacing and case differ.
    assert report.merged_labels == {"Kabuki syndrome": ["Kabuki syndrome", "kabuki  SYNDROME"]}
    assert report.single_image_conditions == ["Noonan syndrome"]
    assert report.synthetic_only_conditions == ["Orphan condition"]
    frame = report.to_frame()
    assert list(frame.columns) == ["path", "image_id", "reason", "severity", "message"]
    assert len(frame) == len(report.entries)
    copy_message = frame.loc[frame["reason"] == "duplicate_content", "message"].item()
    assert "same bytes as image 'a'" in copy_message
    assert report.n_usable == 5
    assert set(frame["reason"]) <= set(REASONS)


def test_manifest_landmarks_sidecar(tmp_path):
    root = tmp_path / "manifest-set"
    build_manifest_tree(root)

    dataset = load_dataset(root)

    assert dataset.landmark_scheme == "ibug68"
    assert sorted(dataset.landmarks) == ["a"]
    np.testing.assert_allclose(dataset.landmarks["a"], [[1.0, 2.0], [5.5, 6.0]])


@pytest.mark.parametrize(
    ("sep", "newline", "bom"),
    [(",", "\n", True), (";", "\n", False), (",", "\r\n", False), (";", "\r\n", True), ("\t", "\n", False)],
)
def test_manifest_csv_encodings(tmp_path, sep, newline, bom):
    write_image(tmp_path / "img" / "one.png")
    write_image(tmp_path / "img" / "two.png")
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition", "source", "age"],
        ["one", "img/one.png", "Kabuki syndrome", "real", "4"],
        ["two", "img/two.png", "Kabuki syndrome", "real", "5;6"],
    ], sep=sep, newline=newline, bom=bom)

    manifest = load_dataset(tmp_path).manifest

    assert manifest["image_id"].tolist() == ["one", "two"]
    assert manifest["path"].tolist() == ["img/one.png", "img/two.png"]
    assert manifest["condition"].tolist() == ["Kabuki syndrome", "Kabuki syndrome"]
    assert manifest["age"].tolist() == ["4", "5;6"]


def test_manifest_missing_columns_named(tmp_path):
    write_table(tmp_path / "manifest.csv", [["image_id", "label"], ["one", "KS"]])

    with pytest.raises(DatasetError, match=r"missing required column\(s\) path, condition"):
        load_dataset(tmp_path)


def test_manifest_unicode_and_spaces_in_names(tmp_path):
    name = "Ünïcode ñame 顔 photo.png"
    write_image(tmp_path / "Kabuki syndrome" / name)
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition"],
        ["顔-1", f"Kabuki syndrome/{name}", "Kabuki syndrome"],
    ])

    dataset = load_dataset(tmp_path)

    assert dataset.manifest["path"].tolist() == [f"Kabuki syndrome/{name}"]
    assert dataset.image_path("顔-1") == tmp_path / "Kabuki syndrome" / name
    assert dataset.report.errors == []


def test_manifest_row_checks(tmp_path):
    write_image(tmp_path / "img" / "a.png")
    write_image(tmp_path / "img" / "b.png")
    write_image(tmp_path / "img" / "c.png")
    (tmp_path / "img" / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic")
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition", "source", "generator"],
        ["a", "img\\a.png", "A", "real", ""],
        ["", "img/b.png", "A", "real", ""],
        ["c", "img/c.png", "A", "synthetic", ""],
        ["phone", "img/phone.heic", "A", "real", ""],
        ["nopath", "", "A", "real", ""],
    ])

    dataset = load_dataset(tmp_path)

    assert dataset.manifest["path"].tolist() == ["img/a.png", "img/c.png"]
    assert dataset.manifest["generator"].tolist() == ["", "unknown"]
    assert reasons(dataset) == {
        ("img/b.png", "missing_id"),
        ("img/phone.heic", "unsupported"),
        ("nopath", "missing_file"),
    }
    assert ("img/c.png", "missing_generator") in reasons(dataset, "warning")


def test_manifest_matches_decomposed_unicode_names(tmp_path):
    composed = "Ré.png"
    write_image(tmp_path / unicodedata.normalize("NFD", composed))
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition"],
        ["r", unicodedata.normalize("NFC", composed), "A"],
    ])

    dataset = load_dataset(tmp_path)

    assert dataset.manifest["image_id"].tolist() == ["r"]
    assert dataset.image_path("r").exists()


def test_manifest_marks_too_large_images(tmp_path):
    write_image(tmp_path / "small.png", size=(10, 10))
    write_image(tmp_path / "large.png", size=(200, 100))
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition"],
        ["small", "small.png", "A"],
        ["large", "large.png", "A"],
    ])

    dataset = load_dataset(tmp_path, max_pixels=10_000)

    assert dataset.manifest["image_id"].tolist() == ["small"]
    assert reasons(dataset) == {("large.png", "too_large")}


def test_manifest_reports_stale_sha256(tmp_path):
    write_image(tmp_path / "one.png")
    write_table(tmp_path / "manifest.csv", [
        ["image_id", "path", "condition", "sha256"],
        ["one", "one.png", "A", "0" * 64],
    ])

    dataset = load_dataset(tmp_path)

    assert reasons(dataset, "warning") >= {("one.png", "sha256_mismatch")}
    assert dataset.manifest["sha256"].item() != "0" * 64


# --- plain folders ----------------------------------------------------------------------------


def test_folders_import_rows_and_report(tmp_path):
    root = tmp_path / "plain"
    write_image(root / "real" / "Kabuki syndrome" / "k 1.png")
    write_image(root / "real" / "Kabuki syndrome" / "k2.jpg", "JPEG")
    write_image(root / "real" / "Noonan" / "n1.png")
    write_image(root / "real" / "loose.png")
    write_image(root / "synthetic" / "fastgan" / "Noonan" / "f1.png")
    write_image(root / "synthetic" / "dreambooth" / "Kabuki syndrome" / "d1.png")
    (root / "real" / "Noonan" / "readme.md").write_text("notes")
    (root / "real" / ".DS_Store").write_bytes(b"\0")
    (root / "real" / "Noonan" / "._n1.png").write_bytes(b"\0")
    write_image(root / "__MACOSX" / "real" / "x.png")
    write_image(root / "synthetic" / "__MACOSX" / "fastgan" / "Noonan" / "._f1.png")
    outside = tmp_path / "elsewhere"
    write_image(outside / "o1.png")
    os.symlink(outside, root / "real" / "Linked")

    dataset = load_dataset(root)

    assert dataset.layout == "folders"
    assert dataset.manifest[["image_id", "condition", "source", "generator"]].values.tolist() == [
        ["real/Kabuki syndrome/k 1.png", "Kabuki syndrome", "real", ""],
        ["real/Kabuki syndrome/k2.jpg", "Kabuki syndrome", "real", ""],
        ["real/Noonan/n1.png", "Noonan", "real", ""],
        ["synthetic/dreambooth/Kabuki syndrome/d1.png", "Kabuki syndrome", "synthetic", "dreambooth"],
        ["synthetic/fastgan/Noonan/f1.png", "Noonan", "synthetic", "fastgan"],
    ]
    assert reasons(dataset) == {
        ("real/Linked", "outside_root"),
        ("real/loose.png", "unexpected_location"),
        ("real/Noonan/readme.md", "not_an_image"),
    }
    # .DS_Store, ._n1.png and the one file inside synthetic/__MACOSX; the
    # top-level __MACOSX folder is outside real/ and synthetic/.
    assert dataset.report.junk_skipped == 3
    assert dataset.report.single_image_conditions == ["Noonan"]


def test_folders_symlink_inside_root_is_kept(tmp_path):
    target = write_image(tmp_path / "real" / "A" / "a1.png")
    write_image(tmp_path / "real" / "A" / "a2.png")
    os.symlink(target, tmp_path / "real" / "A" / "a3.png")

    dataset = load_dataset(tmp_path)

    assert dataset.manifest["path"].tolist() == ["real/A/a1.png", "real/A/a2.png"]
    assert reasons(dataset) == {("real/A/a3.png", "duplicate_content")}


def test_synthetic_only_folder_flags_every_condition(tmp_path):
    write_image(tmp_path / "synthetic" / "fastgan" / "A" / "1.png")
    write_image(tmp_path / "synthetic" / "fastgan" / "B" / "1.png")
    write_image(tmp_path / "synthetic" / "dreambooth" / "B" / "1.png")

    dataset = load_dataset(tmp_path)

    assert len(dataset.manifest) == 3
    assert dataset.report.synthetic_only_conditions == ["A", "B"]
    assert reasons(dataset, "warning") == {("", "synthetic_without_real")}
    assert len(dataset.report.warnings) == 2
    assert dataset.report.errors == []


def test_folder_of_broken_images_has_empty_manifest(tmp_path):
    (tmp_path / "real" / "A").mkdir(parents=True)
    (tmp_path / "real" / "A" / "x.png").write_bytes(b"not a png")

    dataset = load_dataset(tmp_path)

    assert dataset.manifest.empty
    assert list(dataset.manifest.columns[:7]) == list(MANIFEST_COLUMNS)
    assert reasons(dataset) == {("real/A/x.png", "unreadable")}


def png_bytes_for_index(index: int) -> bytes:
    """Encode a 1x1 RGB PNG whose colour encodes ``index`` (fast, without Pillow)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    pixel = bytes([0, index % 256, (index // 256) % 256, 9])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


@pytest.mark.slow
def test_ten_thousand_images_in_one_condition(tmp_path):
    folder = tmp_path / "real" / "Large condition"
    folder.mkdir(parents=True)
    for index in range(10_000):
        (folder / f"img_{index:05d}.png").write_bytes(png_bytes_for_index(index))

    # CPU time of this process, so other jobs on a shared machine do not count.
    start = time.process_time()
    dataset = load_dataset(tmp_path)
    elapsed = time.process_time() - start

    assert len(dataset.manifest) == 10_000
    assert dataset.report.entries == []
    assert elapsed < 10.0


# --- RDFace real ------------------------------------------------------------------------------

DISEASE_HEADER = ["image_name", "disease_name", "disease_abbr", "sub_category", "gene_name",
                  "orphanet_code"]


def build_rdface_real(root: Path) -> None:
    write_table(root / "disease_images.csv", [
        DISEASE_HEADER,
        ["KS.1.jpg", "Kabuki syndrome", "KS", "Neurodevelopmental", "KMT2D", "2322"],
        ["KS.2.jpg", "Kabuki syndrome", "KS", "Neurodevelopmental", "KMT2D", "2322"],
        ["WS.1.png", "Williams syndrome", "WS", "Neurodevelopmental", "ELN", "904"],
        ["WS.2.png", "Williams syndrome", "WS", "Neurodevelopmental", "ELN", "904"],
        ["NS.1.jpg", "Noonan syndrome", "NS", "RASopathy", "PTPN11", "648"],
    ])
    write_image(root / "rd_images" / "KS" / "KS.1.jpg", "JPEG", size=(64, 64))
    write_image(root / "rd_images" / "KS" / "KS.2.jpg", "JPEG", size=(64, 64))
    write_image(root / "rd_images" / "WS" / "WS.1.png")
    write_truncated_jpeg(root / "rd_images" / "NS" / "NS.1.jpg")
    write_image(root / "rd_images" / "KS" / "extra.png")
    (root / "rd_images" / "KS" / ".DS_Store").write_bytes(b"\0")
    (root / "rd_images" / "KS" / "Thumbs.db").write_bytes(b"\0")

    write_table(root / "face_info.csv", [
        ["image_name", "facial_area", "right_eye", "left_eye", "nose", "mouth_right", "mouth_left"],
        ["KS.1.jpg", "[10, 12, 50, 60]", "[20.5, 30.0]", "(40, 30)", "30,40",
         "[np.float32(22.0), np.float32(50.0)]", "[38 50]"],
        ["KS.2.jpg", "[1, 2, 3, 4]", "[20, 30]", "left?", "[30, 40]", "[22, 50]", "[38, 50]"],
        ["WS.1.png", "not a box", "[2, 3]", "[6, 3]", "[4, 4]", "[3, 6]", "[5, 6]"],
    ])


def test_rdface_real_rows_and_report(tmp_path):
    build_rdface_real(tmp_path)

    dataset = load_dataset(tmp_path)

    manifest = dataset.manifest
    assert dataset.layout == "rdface-real"
    assert manifest["image_id"].tolist() == ["KS.1.jpg", "KS.2.jpg", "WS.1.png"]
    assert manifest["path"].tolist() == [
        "rd_images/KS/KS.1.jpg", "rd_images/KS/KS.2.jpg", "rd_images/WS/WS.1.png",
    ]
    assert manifest["condition"].tolist() == ["Kabuki syndrome"] * 2 + ["Williams syndrome"]
    assert manifest["condition_code"].tolist() == ["KS", "KS", "WS"]
    assert manifest["gene"].tolist() == ["KMT2D", "KMT2D", "ELN"]
    assert manifest["orphanet"].tolist() == ["2322", "2322", "904"]
    assert manifest["sub_category"].tolist() == ["Neurodevelopmental"] * 3
    assert set(manifest["source"]) == {"real"}
    assert reasons(dataset) == {
        ("rd_images/WS/WS.2.png", "missing_file"),
        ("rd_images/NS/NS.1.jpg", "truncated"),
        ("rd_images/KS/extra.png", "unlisted_file"),
    }
    assert dataset.report.junk_skipped == 2
    assert dataset.report.single_image_conditions == ["Williams syndrome"]


def test_rdface_face_info_parsing(tmp_path):
    build_rdface_real(tmp_path)

    dataset = load_dataset(tmp_path)

    assert dataset.landmark_scheme == "retinaface5"
    assert sorted(dataset.landmarks) == ["KS.1.jpg", "WS.1.png"]
    np.testing.assert_allclose(
        dataset.landmarks["KS.1.jpg"], [[20.5, 30], [40, 30], [30, 40], [22, 50], [38, 50]]
    )
    assert dataset.face_boxes == {"KS.1.jpg": (10, 12, 50, 60), "KS.2.jpg": (1, 2, 3, 4)}
    bad_cells = {
        entry.image_id: entry.message
        for entry in dataset.report.warnings
        if entry.reason == "bad_landmarks"
    }
    assert sorted(bad_cells) == ["KS.2.jpg", "WS.1.png"]
    assert "column left_eye of image KS.2.jpg contains 'left?'" in bad_cells["KS.2.jpg"]
    assert "column facial_area of image WS.1.png" in bad_cells["WS.1.png"]


def test_rdface_image_found_outside_abbr_folder(tmp_path):
    write_table(tmp_path / "disease_images.csv", [
        DISEASE_HEADER, ["KS.1.jpg", "Kabuki syndrome", "KS", "", "", ""],
    ])
    write_image(tmp_path / "rd_images" / "misc" / "KS.1.jpg", "JPEG")

    dataset = load_dataset(tmp_path)

    assert dataset.manifest["path"].tolist() == ["rd_images/misc/KS.1.jpg"]
    assert dataset.report.errors == []


def test_rdface_missing_disease_columns(tmp_path):
    write_table(tmp_path / "disease_images.csv", [["image_name", "disease"], ["a.jpg", "X"]])

    with pytest.raises(DatasetError, match="disease_name, disease_abbr"):
        load_dataset(tmp_path)


# --- RDFace synthetic -------------------------------------------------------------------------


def build_generator_trees(root: Path) -> None:
    write_image(root / "dreambooth" / "KS" / "KS_1.png")
    write_image(root / "dreambooth" / "KS" / "KS_2.png")
    write_image(root / "dreambooth" / "WS" / "WS_1.png")
    write_table(root / "dreambooth" / "filter_scores.csv", [
        ["image_name", "score", "distance", "rank", "lpips"],
        ["KS_1.png", "0.91", "1.5", "1", "0.21"],
        ["KS_2.png", "0.45", "3.25", "2", "0.4"],
        ["KS_9.png", "0.1", "9", "3", "0.9"],
    ])
    write_image(root / "fastgan" / "KS" / "KS_1.png")
    (root / "fastgan" / "KS" / "notes.txt").write_text("run settings")
    write_image(root / "fastgan" / "loose.png")
    write_image(root / "stylegan" / "misc" / "image.png")
    (root / "readme.txt").write_text("generator runs")
    (root / ".DS_Store").write_bytes(b"\0")


def test_rdface_synthetic_rows_and_scores(tmp_path):
    build_generator_trees(tmp_path)

    dataset = load_dataset(tmp_path)

    manifest = dataset.manifest
    assert dataset.layout == "rdface-synthetic"
    assert manifest["image_id"].tolist() == [
        "dreambooth/KS/KS_1.png", "dreambooth/KS/KS_2.png", "dreambooth/WS/WS_1.png",
        "fastgan/KS/KS_1.png",
    ]
    assert manifest["generator"].tolist() == ["dreambooth"] * 3 + ["fastgan"]
    assert manifest["condition"].tolist() == ["KS", "KS", "WS", "KS"]
    assert manifest["condition_code"].tolist() == ["KS", "KS", "WS", "KS"]
    assert manifest["filter_score"].tolist()[:2] == [0.91, 0.45]
    assert manifest["filter_distance"].tolist()[:2] == [1.5, 3.25]
    assert manifest["filter_rank"].tolist()[:2] == [1, 2]
    assert manifest["filter_lpips"].tolist()[:2] == [0.21, 0.4]
    assert math.isnan(manifest["filter_score"].iloc[2])
    assert math.isnan(manifest["filter_score"].iloc[3])
    assert reasons(dataset) == {
        ("fastgan/KS/notes.txt", "not_an_image"),
        ("fastgan/loose.png", "unexpected_location"),
        ("stylegan/misc/image.png", "unexpected_location"),
        ("readme.txt", "unexpected_location"),
    }
    assert dataset.report.junk_skipped == 1
    assert reasons(dataset, "warning") == {
        ("dreambooth", "score_without_image"),
        ("", "synthetic_without_real"),
    }
    assert dataset.report.synthetic_only_conditions == ["KS", "WS"]


def test_rdface_single_generator_tree(tmp_path):
    tree = tmp_path / "stylegan"
    write_image(tree / "KS" / "KS_1.png")
    write_image(tree / "KS" / "KS_2.png")

    dataset = load_dataset(tree)

    assert dataset.layout == "rdface-synthetic"
    assert dataset.manifest["image_id"].tolist() == ["stylegan/KS/KS_1.png", "stylegan/KS/KS_2.png"]
    assert set(dataset.manifest["generator"]) == {"stylegan"}


# --- RDFace combined --------------------------------------------------------------------------


def test_rdface_combined_rows_and_report(tmp_path):
    build_rdface_real(tmp_path)
    write_image(tmp_path / "synthetic" / "dreambooth" / "KS" / "KS_1.png")
    write_image(tmp_path / "synthetic" / "dreambooth" / "XX" / "XX_1.png")
    write_image(tmp_path / "stylegan" / "ws" / "ws_1.png")
    write_image(tmp_path / "synthetic" / "loose.png")

    dataset = load_dataset(tmp_path)

    manifest = dataset.manifest
    assert dataset.layout == "rdface"
    assert manifest["image_id"].tolist() == [
        "KS.1.jpg", "KS.2.jpg", "WS.1.png", "dreambooth/KS/KS_1.png", "stylegan/ws/ws_1.png",
    ]
    assert manifest["condition"].tolist()[3:] == ["Kabuki syndrome", "Williams syndrome"]
    assert manifest["condition_code"].tolist()[3:] == ["KS", "WS"]
    assert manifest["source"].tolist() == ["real"] * 3 + ["synthetic"] * 2
    assert manifest["path"].tolist()[3:] == [
        "synthetic/dreambooth/KS/KS_1.png", "stylegan/ws/ws_1.png",
    ]
    assert reasons(dataset) == {
        ("rd_images/WS/WS.2.png", "missing_file"),
        ("rd_images/NS/NS.1.jpg", "truncated"),
        ("rd_images/KS/extra.png", "unlisted_file"),
        ("synthetic/dreambooth/XX/XX_1.png", "unknown_condition"),
        ("synthetic/loose.png", "unexpected_location"),
    }
    assert dataset.report.synthetic_only_conditions == []


# --- GestaltMatcher ---------------------------------------------------------------------------


def build_gestaltmatcher(root: Path) -> None:
    write_table(root / "gmdb_metadata" / "image_list_train.csv", [
        ["image_id", "subject", "label", "age"],
        ["101", "s1", "1", "3"],
        ["102", "s1", "1", "4"],
        ["103", "s2", "2", "7"],
        ["104", "s3", "99", "1"],
        ["105", "s4", "1", "2"],
    ])
    write_table(root / "gmdb_metadata" / "gmdb_syndromes.tsv", [
        ["syndrome_id", "syndrome_name", "OMIM"],
        ["1", "Kabuki syndrome", "147920"],
        ["2", "Williams syndrome", "194050"],
    ], sep="\t")
    write_image(root / "images" / "101.jpg", "JPEG")
    write_image(root / "images" / "102_crop_square.jpg", "JPEG")
    write_image(root / "images" / "103.png")
    write_image(root / "images" / "104.png")
    write_image(root / "images" / "999.png")


def test_gestaltmatcher_rows_and_report(tmp_path):
    build_gestaltmatcher(tmp_path)

    dataset = load_dataset(tmp_path)

    manifest = dataset.manifest
    assert dataset.layout == "gestaltmatcher"
    assert manifest["image_id"].tolist() == ["101", "102", "103"]
    assert manifest["path"].tolist() == [
        "images/101.jpg", "images/102_crop_square.jpg", "images/103.png",
    ]
    assert manifest["condition"].tolist() == ["Kabuki syndrome"] * 2 + ["Williams syndrome"]
    assert manifest["condition_code"].tolist() == ["1", "1", "2"]
    assert manifest["subject_id"].tolist() == ["s1", "s1", "s2"]
    assert manifest["omim"].tolist() == ["147920", "147920", "194050"]
    assert manifest["age"].tolist() == ["3", "4", "7"]
    assert set(manifest["source_ref"]) == {"gmdb_metadata/image_list_train.csv"}
    assert reasons(dataset) == {
        ("images/104.png", "unknown_condition"),
        ("105", "missing_file"),
        ("images/999.png", "unlisted_file"),
    }


# --- detection, errors, identity --------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (build_manifest_tree, "manifest"),
        (build_rdface_real, "rdface-real"),
        (build_generator_trees, "rdface-synthetic"),
        (build_gestaltmatcher, "gestaltmatcher"),
    ],
)
def test_detect_layout(tmp_path, builder, expected):
    root = tmp_path / "set"
    builder(root)

    assert detect_layout(root) == expected


def test_layout_named_explicitly(tmp_path):
    write_image(tmp_path / "real" / "A" / "a.png")
    write_table(tmp_path / "manifest.csv", [["image_id", "path", "condition"], ["x", "real/A/a.png", "B"]])

    result = load_dataset(tmp_path, layout="folders")

    assert result.layout == "folders"
    assert result.manifest["condition"].tolist() == ["A"]


def test_unknown_layout_lists_valid_names(tmp_path):
    write_image(tmp_path / "real" / "A" / "a.png")

    with pytest.raises(LayoutError, match="valid layouts are manifest, rdface, rdface-real"):
        load_dataset(tmp_path, layout="imagenet")


def test_undetectable_layout_lists_valid_names(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")

    with pytest.raises(LayoutError, match="Cannot detect the layout") as caught:
        detect_layout(tmp_path)

    for name in LAYOUTS:
        assert name in str(caught.value)


def test_empty_folder_raises(tmp_path):
    with pytest.raises(DatasetError, match="is empty"):
        load_dataset(tmp_path)


def test_folder_of_os_junk_counts_as_empty(tmp_path):
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "__MACOSX").mkdir()

    with pytest.raises(DatasetError, match="is empty"):
        load_dataset(tmp_path)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "absent")


def test_fingerprint_tracks_content_and_labels(tmp_path):
    write_image(tmp_path / "real" / "A" / "a.png")
    write_image(tmp_path / "real" / "A" / "b.png")

    first = load_dataset(tmp_path).fingerprint
    again = load_dataset(tmp_path).fingerprint
    (tmp_path / "real" / "A").rename(tmp_path / "real" / "C")
    relabelled = load_dataset(tmp_path).fingerprint

    assert first == again
    assert relabelled != first


def test_image_path_unknown_id(tmp_path):
    write_image(tmp_path / "real" / "A" / "a.png")
    dataset = load_dataset(tmp_path)

    with pytest.raises(KeyError, match="not in the manifest"):
        dataset.image_path("nope")


def test_optional_columns_follow_scheme():
    assert MANIFEST_COLUMNS == (
        "image_id", "path", "condition", "condition_code", "source", "generator", "subject_id",
    )
    assert "hpo_terms" in OPTIONAL_COLUMNS
    assert "omim" in OPTIONAL_COLUMNS
