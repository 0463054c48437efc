"""Building blocks shared by the layout importers.

An importer turns one folder layout into a :class:`RawImport`: candidate
manifest rows (plain dicts, paths relative to the dataset root) plus report
entries for what it could already tell was wrong. The checks common to every
layout (files present, decodable, inside the root, unique) run afterwards in
:mod:`explorer.dataset`.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.errors import DatasetError, DatasetNotFoundError
from explorer.images import is_os_junk

log = logging.getLogger(__name__)

# File name extensions of images. The content still decides the format. The
# extension only separates a broken image from a stray non-image file when a file
# fails to open.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff",
        ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".jp2", ".j2k", ".ico",
        ".heic", ".heif", ".avif", ".svg", ".dng", ".cr2", ".nef", ".arw", ".psd",
    }
)
# Image formats Pillow 13 cannot read without plugins: reported as "unsupported".
UNSUPPORTED_IMAGE_EXTENSIONS = frozenset(
    {".heic", ".heif", ".svg", ".dng", ".cr2", ".nef", ".arw"}
)
TABLE_EXTENSIONS = frozenset({".csv", ".tsv"})

# Candidate field separators of a CSV, tried on the header line.
CSV_SEPARATORS = (",", ";", "\t", "|")

# The five RetinaFace landmarks, in the order stored in Dataset.landmarks for the
# 'retinaface5' scheme. "right" is the subject's right, which appears on the
# left of a frontal photo.
RETINAFACE5_POINTS = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# Wrappers such as "np.float32(" or "float(" around numbers in printed arrays.
_CALL_PREFIX = re.compile(r"[A-Za-z_][\w.]*\(")
_POINT_PUNCTUATION = set("[](), ;\t")


@dataclass
class ReportEntry:
    """One problem found while importing a dataset.

    ``severity`` is ``"error"`` when the row or file was left out of the
    manifest, ``"warning"`` when it was kept but deserves a look.
    """

    path: str
    image_id: str
    reason: str
    message: str
    severity: str = "error"


@dataclass
class RawImport:
    """Output of one importer before the shared checks run."""

    rows: list[dict[str, object]] = field(default_factory=list)
    entries: list[ReportEntry] = field(default_factory=list)
    junk_skipped: int = 0
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)
    landmark_scheme: str | None = None
    face_boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def error(self, path: str, image_id: str, reason: str, message: str) -> None:
        """Record a row or file that is left out."""
        self.entries.append(ReportEntry(path, image_id, reason, message, "error"))

    def warning(self, path: str, image_id: str, reason: str, message: str) -> None:
        """Record a row or file that is kept but flagged."""
        self.entries.append(ReportEntry(path, image_id, reason, message, "warning"))


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or TSV file into a frame of stripped strings.

    Accepts a UTF-8 byte-order mark, Windows line endings and ``,``, ``;``,
    tab or ``|`` as separator (chosen from the header line). Empty cells
    become ``""``.

    Raises
    ------
    DatasetError
        When the file is not UTF-8 text, is empty or cannot be parsed.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise DatasetNotFoundError(
            f"Table {path} not found. If the folder has another layout, leave out --layout so that "
            "the layout is detected, or name the layout the folder has."
        ) from error
    except OSError as error:
        raise DatasetError(f"Table {path} cannot be read ({error}); check its permissions.") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"Table {path} is not UTF-8 text ({error}); save it as UTF-8 CSV and retry."
        ) from error
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header = next((line for line in text.split("\n") if line.strip()), "")
    if not header:
        raise DatasetError(f"Table {path} is empty; it needs a header row and one row per image.")

    separator = max(CSV_SEPARATORS, key=header.count)
    if header.count(separator) == 0:
        separator = ","
    if path.suffix.lower() == ".tsv" and "\t" in header:
        separator = "\t"
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DatasetError(f"Table {path} cannot be parsed as CSV: {error}") from error

    frame.columns = [str(column).strip() for column in frame.columns]
    return frame.apply(lambda column: column.str.strip())


def read_table_header(path: Path) -> list[str]:
    """Return the stripped column names of a CSV/TSV file, or [] when unreadable."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = handle.readline().strip("\r\n")
    except OSError:
        return []
    separator = max(CSV_SEPARATORS, key=header.count)
    return [name.strip().strip('"') for name in header.split(separator)]


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], path: Path) -> None:
    """Raise DatasetError naming every required column missing from a table."""
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise DatasetError(
            f"Table {path} is missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(frame.columns) or 'none'}. Add the missing column(s) to the header."
        )


@dataclass
class WalkResult:
    """Files found under a folder: relative POSIX paths, plus what was skipped."""

    files: list[str] = field(default_factory=list)
    junk_skipped: int = 0
    outside_links: list[str] = field(default_factory=list)


def walk_files(root: Path, start: Path) -> WalkResult:
    """List files under ``start`` relative to ``root``, skipping OS junk.

    Symbolic links to folders are followed only when their target lies
    inside ``root`` (each real folder visited once); links pointing outside
    are returned in ``outside_links``. Links to files are listed like files,
    and the shared checks later reject the ones resolving outside the root.
    """
    result = WalkResult()
    root_real = os.path.realpath(root)
    visited: set[str] = set()
    pending = [start]
    while pending:
        folder = pending.pop()
        real = os.path.realpath(folder)
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            log.warning("Cannot list folder %s: %s", folder, error)
            continue
        subfolders = []
        for entry in entries:
            relpath = Path(entry.path).relative_to(root).as_posix()
            if is_os_junk(relpath):
                result.junk_skipped += _count_junk(entry)
                continue
            if entry.is_dir(follow_symlinks=True):
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _is_inside(target, root_real):
                        result.outside_links.append(relpath)
                        continue
                subfolders.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                result.files.append(relpath)
        pending.extend(reversed(subfolders))
    return result


def _count_junk(entry: os.DirEntry) -> int:
    """Count the files in a junk entry (a whole ``__MACOSX`` folder counts all its files)."""
    if not entry.is_dir(follow_symlinks=False):
        return 1
    return sum(len(files) for _, _, files in os.walk(entry.path))


def _is_inside(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def parse_point_list(text: str, count: int) -> list[float] | None:
    """Parse ``count`` numbers written as ``[x, y]``, ``(x, y)``, ``x,y`` or a printed array.

    Returns None when the cell contains anything else (words, NaN, a wrong
    number of values), so the caller can report the cell.

    Examples
    --------
    >>> parse_point_list("[12.5, 30]", 2)
    [12.5, 30.0]
    >>> parse_point_list("(np.float32(1.0), np.float32(2.5))", 2)
    [1.0, 2.5]
    >>> parse_point_list("12;", 2) is None
    True
    """
    if not isinstance(text, str) or not text.strip():
        return None
    unwrapped = _CALL_PREFIX.sub("(", text)
    numbers = _NUMBER.findall(unwrapped)
    leftover = _NUMBER.sub(" ", unwrapped)
    if len(numbers) != count or not set(leftover) <= _POINT_PUNCTUATION:
        return None
    return [float(number) for number in numbers]
