"""Importers for the RDFace layouts: real images, generator trees, and both together.

Real part (``rdface-real``)::

    disease_images.csv        image_name, disease_name, disease_abbr, sub_category,
                              gene_name, orphanet_code (extra columns are kept)
    rd_images/<abbr>/<image_name>
    face_info.csv             optional: image_name, facial_area, right_eye, left_eye,
                              nose, mouth_right, mouth_left

A listed image not found at ``rd_images/<abbr>/<image_name>`` is looked up by
file name anywhere under ``rd_images/``. Files under ``rd_images/`` that no
row lists are reported as ``unlisted_file``. Real image ids are the
``image_name`` values. ``subject_id`` stays empty because RDFace does not
publish person ids.

Face cells hold RetinaFace output as printed by Python: ``[x1, y1, x2, y2]``
for ``facial_area`` and ``[x, y]`` per landmark. ``(x, y)``, ``x,y`` and
printed numpy scalars (``np.float32(1.5)``) are accepted as well. A
``landmarks`` column holding a dict of the five points is read when the
per-point columns are absent.

NOTE: face cells are taken as pixel coordinates of the upright image, which
holds when the detector read the photo with EXIF orientation applied (OpenCV's
``imread`` does by default). For a photo stored rotated and read without it,
the points would not line up.

Synthetic part (``rdface-synthetic``): one tree per generator, each with one
folder per condition code holding ``<abbr>_<n>.png``::

    <generator>/<abbr>/<abbr>_<n>.png
    <generator>/.../*.csv     optional score tables: image_name, score, distance,
                              rank, lpips

A folder whose own sub-folders are condition folders is a single generator
named after that folder. Score table columns are merged into the manifest with
a ``filter_`` prefix (``filter_score``, ``filter_distance``, ``filter_rank``,
``filter_lpips``), matched by file name within the generator. Synthetic ids
are ``<generator>/<abbr>/<file name>``.

Combined (``rdface``): the real part at the root, and generator trees either
under ``synthetic/<generator>/`` or as top-level folders beside ``rd_images``.
Synthetic condition codes are matched, ignoring case, to ``disease_abbr``
values and take their ``disease_name``; other codes are ``unknown_condition``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from explorer.images import is_os_junk
from explorer.importers.base import (
    RETINAFACE5_POINTS,
    TABLE_EXTENSIONS,
    RawImport,
    parse_point_list,
    read_table,
    read_table_header,
    require_columns,
    walk_files,
)

log = logging.getLogger(__name__)

DISEASE_TABLE = "disease_images.csv"
IMAGE_FOLDER = "rd_images"
FACE_TABLE = "face_info.csv"
SYNTHETIC_FOLDER = "synthetic"

REQUIRED_DISEASE_COLUMNS = ("image_name", "disease_name", "disease_abbr")
# disease_images.csv column -> manifest column
RENAMED_DISEASE_COLUMNS = {
    "gene_name": "gene",
    "orphanet_code": "orphanet",
    "sub_category": "sub_category",
}
FACE_ID_COLUMNS = ("image_name", "image", "image_id", "file_name", "filename")
FACE_BOX_COLUMN = "facial_area"
FACE_LANDMARKS_COLUMN = "landmarks"
SCORE_ID_COLUMN = "image_name"
SCORE_COLUMNS = ("score", "distance", "rank", "lpips")
SCORE_PREFIX = "filter_"

_SYNTHETIC_STEM = re.compile(r"^(?P<code>.+)_(?P<index>\d+)$")


# --- real part ----------------------------------------------------------------------------------


def import_rdface_real(root: Path) -> RawImport:
    """Import ``disease_images.csv`` and ``rd_images/`` (plus ``face_info.csv``)."""
    raw = RawImport()
    _import_real_part(root, raw)
    return raw


def _import_real_part(root: Path, raw: RawImport) -> dict[str, tuple[str, str]]:
    """Add the real rows to ``raw``; return condition code (casefolded) -> (code, name)."""
    table_path = root / DISEASE_TABLE
    frame = read_table(table_path)
    require_columns(frame, REQUIRED_DISEASE_COLUMNS, table_path)

    walk = walk_files(root, root / IMAGE_FOLDER) if (root / IMAGE_FOLDER).is_dir() else None
    files = walk.files if walk else []
    by_name: dict[str, list[str]] = {}
    for relpath in files:
        by_name.setdefault(PurePosixPath(relpath).name, []).append(relpath)
    if walk:
        raw.junk_skipped += walk.junk_skipped
        for relpath in walk.outside_links:
            raw.error(relpath, "", "outside_root",
                      f"Folder link {relpath} points outside the dataset folder; its files are not used.")

    codes: dict[str, tuple[str, str]] = {}
    listed: set[str] = set()
    extra_columns = [
        column for column in frame.columns
        if column not in REQUIRED_DISEASE_COLUMNS and column not in RENAMED_DISEASE_COLUMNS
    ]
    for record in frame.to_dict(orient="records"):
        name, code, label = record["image_name"], record["disease_abbr"], record["disease_name"]
        relpath = _locate_real_image(root, name, code, by_name)
        listed.add(relpath)
        if code and label:
            codes.setdefault(code.casefold(), (code, label))
        row = {
            "image_id": name,
            "path": relpath,
            "condition": label or code,
            "condition_code": code,
            "source": "real",
            "generator": "",
            "subject_id": "",
            "source_ref": DISEASE_TABLE,
        }
        for column, target in RENAMED_DISEASE_COLUMNS.items():
            if column in frame.columns:
                row[target] = record[column]
        for column in extra_columns:
            row.setdefault(column, record[column])
        raw.rows.append(row)

    for relpath in files:
        if relpath not in listed:
            raw.error(relpath, "", "unlisted_file",
                      f"{relpath} is not listed in {DISEASE_TABLE}; add a row for it to use it.")

    if (root / FACE_TABLE).is_file():
        _read_face_info(root / FACE_TABLE, raw)
    return codes


def _locate_real_image(root: Path, name: str, code: str, by_name: dict[str, list[str]]) -> str:
    expected = f"{IMAGE_FOLDER}/{code}/{name}" if code else f"{IMAGE_FOLDER}/{name}"
    if not name or (root / expected).is_file():
        return expected
    candidates = by_name.get(PurePosixPath(name).name, [])
    if len(candidates) == 1:
        log.info("Found %s at %s instead of %s", name, candidates[0], expected)
        return candidates[0]
    # Missing, or ambiguous: the shared checks report the expected path as missing.
    return expected


def _read_face_info(path: Path, raw: RawImport) -> None:
    """Fill face boxes and 'retinaface5' landmarks from ``face_info.csv``."""
    frame = read_table(path)
    id_column = next((name for name in FACE_ID_COLUMNS if name in frame.columns), None)
    if id_column is None:
        raw.warning(path.name, "", "bad_landmarks",
                    f"{path.name} has no image name column ({', '.join(FACE_ID_COLUMNS)}); "
                    "its face boxes and landmarks are ignored.")
        return

    point_columns = all(name in frame.columns for name in RETINAFACE5_POINTS)
    for record in frame.to_dict(orient="records"):
        image_id = PurePosixPath(record[id_column]).name
        if image_id in raw.face_boxes or image_id in raw.landmarks:
            raw.warning(path.name, image_id, "bad_landmarks",
                        f"{path.name} lists image {image_id} more than once; the first face is used.")
            continue

        if FACE_BOX_COLUMN in frame.columns:
            box = parse_point_list(record[FACE_BOX_COLUMN], 4)
            if box is None:
                _report_bad_cell(raw, path, image_id, FACE_BOX_COLUMN, record[FACE_BOX_COLUMN])
            else:
                raw.face_boxes[image_id] = (box[0], box[1], box[2], box[3])

        if point_columns:
            cells = {name: record[name] for name in RETINAFACE5_POINTS}
        elif FACE_LANDMARKS_COLUMN in frame.columns:
            cells = _split_landmark_dict(record[FACE_LANDMARKS_COLUMN])
        else:
            continue
        points = []
        for name in RETINAFACE5_POINTS:
            point = parse_point_list(cells.get(name, ""), 2)
            if point is None:
                _report_bad_cell(raw, path, image_id, name, cells.get(name, ""))
                break
            points.append(point)
        else:
            # (5, 2) pixel x, y in RETINAFACE5_POINTS order
            raw.landmarks[image_id] = np.asarray(points, dtype=float)
    if raw.landmarks:
        raw.landmark_scheme = "retinaface5"


def _split_landmark_dict(text: str) -> dict[str, str]:
    """Cut a printed dict of RetinaFace points into one cell per point name."""
    cells = {}
    for name in RETINAFACE5_POINTS:
        match = re.search(rf"['\"]?{name}['\"]?\s*:\s*([\[(][^\])]*[\])])", text or "")
        if match:
            cells[name] = match.group(1)
    return cells


def _report_bad_cell(raw: RawImport, path: Path, image_id: str, column: str, value: str) -> None:
    expected = "[x1, y1, x2, y2]" if column == FACE_BOX_COLUMN else "[x, y]"
    raw.warning(path.name, image_id, "bad_landmarks",
                f"{path.name}: column {column} of image {image_id} contains {value!r}, expected "
                f"{expected}; the image is kept without it.")


# --- synthetic part -----------------------------------------------------------------------------


def is_condition_folder(folder: Path) -> bool:
    """Return whether a folder contains at least one ``<folder name>_<n>.<ext>`` file."""
    prefix = folder.name.casefold()
    try:
        for entry in folder.iterdir():
            match = _SYNTHETIC_STEM.match(entry.stem)
            if match and match["code"].casefold() == prefix and entry.is_file():
                return True
    except OSError:
        return False
    return False


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(child for child in folder.iterdir() if child.is_dir())
    except OSError:
        return []


def find_generator_trees(folder: Path) -> list[tuple[str, Path]]:
    """Find generator trees at or under ``folder``: (generator name, tree path) pairs."""
    children = _subfolders(folder)
    if any(is_condition_folder(child) for child in children):
        return [(folder.name, folder)]
    return [
        (child.name, child)
        for child in children
        if any(is_condition_folder(grandchild) for grandchild in _subfolders(child))
    ]


def import_rdface_synthetic(root: Path) -> RawImport:
    """Import generator trees at ``root``; condition labels are the folder codes."""
    raw = RawImport()
    trees = find_generator_trees(root)
    for generator, tree in trees:
        _import_generator_tree(root, tree, generator, raw, codes=None)
    _report_files_outside_trees(root, root, trees, raw)
    return raw


def _report_files_outside_trees(
    root: Path, folder: Path, trees: list[tuple[str, Path]], raw: RawImport
) -> None:
    """Report every file under ``folder`` that lies in none of the generator trees.

    Trees are ``folder`` itself or its direct sub-folders, as found by
    :func:`find_generator_trees`.
    """
    tree_paths = {tree for _, tree in trees}
    if folder in tree_paths:
        return
    stray_files = []
    for child in sorted(folder.iterdir()):
        if child in tree_paths:
            continue
        if child.is_dir():
            walk = walk_files(root, child)
            raw.junk_skipped += walk.junk_skipped
            stray_files.extend(walk.files)
        elif is_os_junk(child.name):
            raw.junk_skipped += 1
        else:
            stray_files.append(child.relative_to(root).as_posix())
    for relpath in stray_files:
        raw.error(relpath, "", "unexpected_location",
                  f"{relpath} is in no generator tree (expected <generator>/<abbr>/<abbr>_<n>.png, "
                  "with at least one file per condition folder named that way).")


def combined_generator_trees(root: Path) -> list[tuple[str, Path]]:
    """Find the generator trees of a combined RDFace folder."""
    trees = []
    if (root / SYNTHETIC_FOLDER).is_dir():
        trees.extend(find_generator_trees(root / SYNTHETIC_FOLDER))
    for child in _subfolders(root):
        if child.name in (IMAGE_FOLDER, SYNTHETIC_FOLDER):
            continue
        if any(is_condition_folder(grandchild) for grandchild in _subfolders(child)):
            trees.append((child.name, child))
    return trees


def import_rdface(root: Path) -> RawImport:
    """Import the real part and every generator tree beside it."""
    raw = RawImport()
    codes = _import_real_part(root, raw)
    trees = combined_generator_trees(root)
    names = [name for name, _ in trees]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        log.warning("Generator name(s) %s appear in more than one tree", duplicated)
    for generator, tree in trees:
        _import_generator_tree(root, tree, generator, raw, codes=codes)
    if (root / SYNTHETIC_FOLDER).is_dir():
        _report_files_outside_trees(root, root / SYNTHETIC_FOLDER, trees, raw)
    return raw


def _import_generator_tree(
    root: Path,
    tree: Path,
    generator: str,
    raw: RawImport,
    *,
    codes: dict[str, tuple[str, str]] | None,
) -> None:
    """Add the rows of one generator tree; ``codes`` None means labels are the folder codes."""
    walk = walk_files(root, tree)
    raw.junk_skipped += walk.junk_skipped
    for relpath in walk.outside_links:
        raw.error(relpath, "", "outside_root",
                  f"Folder link {relpath} points outside the dataset folder; its files are not used.")

    tree_prefix = tree.relative_to(root).parts
    scores: dict[str, dict[str, object]] = {}
    images = []
    for relpath in walk.files:
        if PurePosixPath(relpath).suffix.lower() in TABLE_EXTENSIONS:
            if not _read_score_table(root / relpath, relpath, generator, scores, raw):
                raw.error(relpath, "", "not_an_image",
                          f"{relpath} is a table but not a score table (needs {SCORE_ID_COLUMN} and "
                          f"one of {', '.join(SCORE_COLUMNS)}); it is not used.")
            continue
        images.append(relpath)

    matched: set[str] = set()
    for relpath in images:
        parts = PurePosixPath(relpath).parts[len(tree_prefix):]
        if len(parts) != 2:
            raw.error(relpath, "", "unexpected_location",
                      f"{relpath} is not in a condition folder of generator {generator!r} "
                      "(expected <generator>/<abbr>/<abbr>_<n>.png).")
            continue
        folder_code, file_name = parts
        image_id = f"{generator}/{folder_code}/{file_name}"
        if codes is None:
            code, label = folder_code, folder_code
        elif folder_code.casefold() in codes:
            code, label = codes[folder_code.casefold()]
        else:
            raw.error(relpath, image_id, "unknown_condition",
                      f"Condition code {folder_code!r} of generator {generator!r} is not a "
                      f"disease_abbr in {DISEASE_TABLE}; rename the folder or add the condition.")
            continue
        row: dict[str, object] = {
            "image_id": image_id,
            "path": relpath,
            "condition": label,
            "condition_code": code,
            "source": "synthetic",
            "generator": generator,
            "subject_id": "",
            "source_ref": "/".join(tree_prefix),
        }
        if file_name in scores:
            row.update(scores[file_name])
            matched.add(file_name)
        raw.rows.append(row)

    unmatched = sorted(set(scores) - matched)
    if unmatched:
        listed = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        raw.warning("/".join(tree_prefix), "", "score_without_image",
                    f"{len(unmatched)} score row(s) of generator {generator!r} name no usable "
                    f"image in its tree: {listed}.")


def _read_score_table(
    path: Path, relpath: str, generator: str, scores: dict[str, dict[str, object]], raw: RawImport
) -> bool:
    """Merge one score table into ``scores`` (file name -> filter_* values); False if not one."""
    header = read_table_header(path)
    if SCORE_ID_COLUMN not in header or not any(name in header for name in SCORE_COLUMNS):
        return False
    frame = read_table(path)
    value_columns = [name for name in frame.columns if name != SCORE_ID_COLUMN]
    converted = {}
    for name in value_columns:
        numeric = pd.to_numeric(frame[name].replace("", np.nan), errors="coerce")
        # Keep text columns as text; a numeric column with blanks becomes NaN there.
        converted[name] = numeric if numeric.notna().sum() == (frame[name] != "").sum() else frame[name]
    for index, image_name in enumerate(frame[SCORE_ID_COLUMN]):
        key = PurePosixPath(image_name.replace("\\", "/")).name
        if key in scores:
            log.info("Score for %s of generator %s appears twice; %s wins", key, generator, relpath)
        scores[key] = {f"{SCORE_PREFIX}{name}": converted[name].iloc[index] for name in value_columns}
    log.info("Read %d scores for generator %s from %s", len(frame), generator, relpath)
    return True


def disease_table_present(root: Path) -> bool:
    """Return whether ``root`` contains ``disease_images.csv``."""
    return (root / DISEASE_TABLE).is_file()

