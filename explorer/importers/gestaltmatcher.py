"""Importer for GestaltMatcher database (GMDB) exports.

Expected folder::

    <any>.csv|tsv       one or more image lists with columns image_id, subject, label
                        (for example train/test splits); other columns are kept
    <any>.csv|tsv       a syndrome table with syndrome_id, syndrome_name and,
                        when present, OMIM
    ...                 image files anywhere in the tree, named <image_id>.<ext>
                        or <image_id>_<suffix>.<ext> (for example 123_crop_square.jpg)

Tables are looked for in the root folder and one folder below it, and are
recognised by their header. ``label`` refers to ``syndrome_id``. When an
image id matches several files, the one named exactly ``<image_id>.<ext>``
wins, else the first by name; the others are reported as ``unlisted_file``.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from explorer.errors import DatasetError
from explorer.importers.base import (
    TABLE_EXTENSIONS,
    RawImport,
    read_table,
    read_table_header,
    walk_files,
)

log = logging.getLogger(__name__)

IMAGE_LIST_COLUMNS = ("image_id", "subject", "label")
SYNDROME_COLUMNS = ("syndrome_id", "syndrome_name")
OMIM_COLUMNS = ("OMIM", "omim", "omim_id")


def find_tables(root: Path) -> tuple[list[Path], list[Path]]:
    """Return (image lists, syndrome tables) in ``root`` and one level below, sorted."""
    candidates = []
    for folder in [root, *sorted(child for child in root.iterdir() if child.is_dir())]:
        try:
            candidates.extend(
                sorted(path for path in folder.iterdir()
                       if path.is_file() and path.suffix.lower() in TABLE_EXTENSIONS)
            )
        except OSError:
            continue
    image_lists, syndrome_tables = [], []
    for path in candidates:
        header = set(read_table_header(path))
        if set(IMAGE_LIST_COLUMNS) <= header:
            image_lists.append(path)
        elif set(SYNDROME_COLUMNS) <= header:
            syndrome_tables.append(path)
    return image_lists, syndrome_tables


def import_gestaltmatcher(root: Path) -> RawImport:
    """Import GMDB image lists, resolving labels through the syndrome table."""
    raw = RawImport()
    image_lists, syndrome_tables = find_tables(root)
    if not image_lists:
        raise DatasetError(
            f"No GestaltMatcher image list found in {root}: expected a CSV or TSV with columns "
            f"{', '.join(IMAGE_LIST_COLUMNS)} in the folder or one folder below."
        )
    table_paths = {path.relative_to(root).as_posix() for path in [*image_lists, *syndrome_tables]}
    syndromes = _read_syndromes(root, syndrome_tables, raw)

    walk = walk_files(root, root)
    raw.junk_skipped += walk.junk_skipped
    for relpath in walk.outside_links:
        raw.error(relpath, "", "outside_root",
                  f"Folder link {relpath} points outside the dataset folder; its files are not used.")
    files = [
        relpath for relpath in walk.files
        if relpath not in table_paths and PurePosixPath(relpath).suffix.lower() not in TABLE_EXTENSIONS
    ]
    exact, prefixed = _index_files(files)

    used: set[str] = set()
    for list_path in image_lists:
        frame = read_table(list_path)
        list_name = list_path.relative_to(root).as_posix()
        extra_columns = [name for name in frame.columns if name not in IMAGE_LIST_COLUMNS]
        for record in frame.to_dict(orient="records"):
            row = _image_row(record, list_name, extra_columns, syndromes, exact, prefixed, raw, used)
            if row is not None:
                raw.rows.append(row)

    for relpath in files:
        if relpath not in used:
            raw.error(relpath, "", "unlisted_file",
                      f"{relpath} matches no image_id of the image lists; it is not used.")
    return raw


def _read_syndromes(root: Path, tables: list[Path], raw: RawImport) -> dict[str, tuple[str, str]]:
    """Return syndrome_id -> (syndrome name, OMIM) from every syndrome table."""
    syndromes: dict[str, tuple[str, str]] = {}
    for path in tables:
        frame = read_table(path)
        omim_column = next((name for name in OMIM_COLUMNS if name in frame.columns), None)
        for record in frame.to_dict(orient="records"):
            omim = record[omim_column] if omim_column else ""
            syndromes.setdefault(record["syndrome_id"], (record["syndrome_name"], omim))
    if not tables:
        raw.warning("", "", "unknown_condition",
                    f"No syndrome table (columns {', '.join(SYNDROME_COLUMNS)}) found in {root}; "
                    "conditions are shown by their label number.")
    return syndromes


def _index_files(files: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Index files by exact stem and by the part of the stem before the first '_'."""
    exact: dict[str, str] = {}
    prefixed: dict[str, str] = {}
    for relpath in sorted(files):
        stem = PurePosixPath(relpath).stem
        exact.setdefault(stem, relpath)
        prefixed.setdefault(stem.split("_", 1)[0], relpath)
    return exact, prefixed


def _image_row(
    record: dict[str, str],
    list_name: str,
    extra_columns: list[str],
    syndromes: dict[str, tuple[str, str]],
    exact: dict[str, str],
    prefixed: dict[str, str],
    raw: RawImport,
    used: set[str],
) -> dict[str, object] | None:
    """Build the manifest row of one image list record; add its file to ``used``."""
    image_id, label = record["image_id"], record["label"]
    relpath = exact.get(image_id) or prefixed.get(image_id)
    if relpath is None:
        raw.error("", image_id, "missing_file",
                  f"No file named {image_id}.<ext> or {image_id}_<suffix>.<ext> for image_id "
                  f"{image_id} of {list_name}.")
        return None
    used.add(relpath)
    if syndromes and label not in syndromes:
        raw.error(relpath, image_id, "unknown_condition",
                  f"Label {label!r} of image {image_id} in {list_name} is not a syndrome_id of "
                  "the syndrome table.")
        return None
    name, omim = syndromes.get(label, (f"syndrome {label}" if label else "", ""))
    row: dict[str, object] = {
        "image_id": image_id,
        "path": relpath,
        "condition": name,
        "condition_code": label,
        "source": "real",
        "generator": "",
        "subject_id": record["subject"],
        "omim": omim,
        "source_ref": list_name,
    }
    for column in extra_columns:
        row.setdefault(column, record[column])
    return row


def gestaltmatcher_present(root: Path) -> bool:
    """Return whether ``root`` contains a GestaltMatcher image list."""
    return bool(find_tables(root)[0])
