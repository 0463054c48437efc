"""Importer for plain folders: ``real/<condition>/*`` and ``synthetic/<generator>/<condition>/*``.

The folder name is the condition label (spaces and Unicode allowed). Image
ids are the file paths relative to the dataset root, so they are unique and
stable. Files at any other depth are reported as ``unexpected_location``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from explorer.importers.base import RawImport, walk_files

REAL_FOLDER = "real"
SYNTHETIC_FOLDER = "synthetic"


def import_folders(root: Path) -> RawImport:
    """List every file under ``real/`` and ``synthetic/`` as a candidate row."""
    raw = RawImport()
    for top, depth in ((REAL_FOLDER, 2), (SYNTHETIC_FOLDER, 3)):
        if not (root / top).is_dir():
            continue
        walk = walk_files(root, root / top)
        raw.junk_skipped += walk.junk_skipped
        for relpath in walk.outside_links:
            raw.error(
                relpath, "", "outside_root",
                f"Folder link {relpath} points outside the dataset folder {root}; its files are not used.",
            )
        for relpath in walk.files:
            parts = PurePosixPath(relpath).parts
            if len(parts) != depth + 1:
                expected = (
                    "real/<condition>/<image>" if top == REAL_FOLDER
                    else "synthetic/<generator>/<condition>/<image>"
                )
                raw.error(
                    relpath, relpath, "unexpected_location",
                    f"{relpath} is not at {expected}; move it into a condition folder.",
                )
                continue
            raw.rows.append(
                {
                    "image_id": relpath,
                    "path": relpath,
                    "condition": parts[-2],
                    "condition_code": "",
                    "source": top,
                    "generator": parts[1] if top == SYNTHETIC_FOLDER else "",
                    "subject_id": "",
                }
            )
    return raw


def folders_present(root: Path) -> bool:
    """Return whether ``root`` has a ``real/`` or ``synthetic/`` folder."""
    return (root / REAL_FOLDER).is_dir() or (root / SYNTHETIC_FOLDER).is_dir()
