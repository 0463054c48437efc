"""Importer for a folder described by ``manifest.csv``.

The folder contains ``manifest.csv`` in the explorer's own column scheme (paths
relative to the folder) and, optionally, ``landmarks.csv`` in long format with
columns ``image_id, scheme, point, x, y``: one row per landmark, ``point`` the
0-based index within its scheme, ``x, y`` pixels in the decoded image.
Columns beyond the scheme are kept as they are.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from explorer.importers.base import RawImport, read_table, require_columns

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.csv"
LANDMARKS_FILE = "landmarks.csv"

REQUIRED_MANIFEST_COLUMNS = ("image_id", "path", "condition")
LANDMARK_COLUMNS = ("image_id", "scheme", "point", "x", "y")

# Defaults for scheme columns a manifest may leave out.
COLUMN_DEFAULTS = {"condition_code": "", "source": "real", "generator": "", "subject_id": ""}


def import_manifest(root: Path) -> RawImport:
    """Read ``manifest.csv`` (and ``landmarks.csv`` when present) under ``root``."""
    raw = RawImport()
    path = root / MANIFEST_FILE
    frame = read_table(path)
    require_columns(frame, REQUIRED_MANIFEST_COLUMNS, path)
    for column, default in COLUMN_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default

    raw.rows = frame.to_dict(orient="records")
    for row in raw.rows:
        row["source_ref"] = row.get("source_ref") or ""

    landmarks_path = root / LANDMARKS_FILE
    if landmarks_path.is_file():
        _read_landmarks(landmarks_path, raw)
    return raw


def _read_landmarks(path: Path, raw: RawImport) -> None:
    """Fill ``raw.landmarks`` from a long-format landmark table."""
    frame = read_table(path)
    require_columns(frame, LANDMARK_COLUMNS, path)
    if frame.empty:
        return

    schemes = Counter(frame["scheme"])
    scheme = schemes.most_common(1)[0][0]
    if len(schemes) > 1:
        others = ", ".join(sorted(name for name in schemes if name != scheme))
        raw.warning(
            path.name, "", "bad_landmarks",
            f"{path.name} mixes landmark schemes; kept {scheme!r} and ignored rows of {others}.",
        )
        frame = frame[frame["scheme"] == scheme]
    raw.landmark_scheme = scheme

    for image_id, group in frame.groupby("image_id", sort=False):
        try:
            points = group["point"].astype(int).to_numpy()
            coordinates = group[["x", "y"]].astype(float).to_numpy()
        except ValueError as error:
            raw.warning(
                path.name, str(image_id), "bad_landmarks",
                f"{path.name} has a non-numeric point, x or y for image {image_id}: {error}.",
            )
            continue
        expected = np.arange(len(points))
        order = np.argsort(points)
        if not np.array_equal(points[order], expected) or not np.isfinite(coordinates).all():
            raw.warning(
                path.name, str(image_id), "bad_landmarks",
                f"{path.name} lists points {sorted(points.tolist())[:5]}... for image {image_id}; "
                f"expected each index 0..{len(points) - 1} once with finite x, y. "
                "Its landmarks are ignored.",
            )
            continue
        # (n_points, 2) pixel x, y ordered by point index
        raw.landmarks[str(image_id)] = coordinates[order]
    log.info("Read %d landmark sets (%s) from %s", len(raw.landmarks), scheme, path)


def manifest_present(root: Path) -> bool:
    """Return whether ``root`` contains a manifest file."""
    return (root / MANIFEST_FILE).is_file()

