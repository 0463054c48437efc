"""Dataset manifest, layout importers and the validation report.

Any supported dataset folder becomes one :class:`Dataset`: a manifest table
with one row per usable image, plus a :class:`ValidationReport` that lists
every row or file left out and why. Nothing is dropped silently.

Manifest columns (:data:`MANIFEST_COLUMNS`): ``image_id`` (unique), ``path``
(POSIX, relative to the dataset root), ``condition`` (label shown to users),
``condition_code``, ``source`` (``real`` or ``synthetic``), ``generator``
(empty for real rows), ``subject_id`` (empty when unknown). Optional columns
(:data:`OPTIONAL_COLUMNS`) appear when a layout provides them, ``sha256`` (the
file's content hash) is always added, and extra columns of a manifest CSV are
kept.

Layouts (:data:`LAYOUTS`), detected from the folder or named with ``layout=``:

``manifest``
    ``manifest.csv`` in the column scheme above, optional ``landmarks.csv``
    (long format ``image_id, scheme, point, x, y``).
``rdface-real``
    ``disease_images.csv`` (``image_name, disease_name, disease_abbr,
    sub_category, gene_name, orphanet_code``), images under
    ``rd_images/<disease_abbr>/<image_name>``, optional ``face_info.csv``
    with RetinaFace boxes and five landmarks.
``rdface-synthetic``
    One tree per generator, ``<generator>/<abbr>/<abbr>_<n>.png``; a folder
    whose sub-folders are condition folders is itself one generator, named
    after the folder. Score tables (``image_name, score, distance, rank,
    lpips``) anywhere in a generator tree become ``filter_*`` columns.
``rdface``
    The real layout plus generator trees beside it, either under
    ``synthetic/<generator>/`` or as a top-level folder next to ``rd_images``.
    Synthetic condition codes must appear in ``disease_images.csv``.
``gestaltmatcher``
    GestaltMatcher database export: image lists with ``image_id, subject,
    label``, a syndrome table with ``syndrome_id, syndrome_name`` (and
    ``OMIM``), and image files anywhere in the tree named ``<image_id>.<ext>``
    or ``<image_id>_<suffix>.<ext>``.
``folders``
    ``real/<condition>/*`` and ``synthetic/<generator>/<condition>/*``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.errors import DatasetError, DatasetNotFoundError, ImageDecodeError, LayoutError
from explorer.cache import ArtifactCache
from explorer.file_checks import FileCheckMemo
from explorer.images import MAX_IMAGE_PIXELS, file_sha256, is_os_junk, probe_image
from explorer.importers.base import (
    IMAGE_EXTENSIONS,
    RETINAFACE5_POINTS,
    UNSUPPORTED_IMAGE_EXTENSIONS,
    RawImport,
    ReportEntry,
)
from explorer.importers import layouts as _layouts

log = logging.getLogger(__name__)

__all__ = [
    "HASH_COLUMN",
    "LAYOUTS",
    "MANIFEST_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REASONS",
    "RETINAFACE5_POINTS",
    "Dataset",
    "ReportEntry",
    "ValidationReport",
    "detect_layout",
    "load_dataset",
]

MANIFEST_COLUMNS = (
    "image_id",
    "path",
    "condition",
    "condition_code",
    "source",
    "generator",
    "subject_id",
)
OPTIONAL_COLUMNS = (
    "gene",
    "orphanet",
    "omim",
    "hpo_terms",
    "sub_category",
    "age",
    "sex",
    "license",
    "source_ref",
)
HASH_COLUMN = "sha256"
SOURCES = ("real", "synthetic")
LAYOUTS = _layouts.LAYOUTS

# Reason codes of report entries, with the heading used by format_text.
REASONS = {
    "missing_file": "file not found",
    "outside_root": "path resolves outside the dataset root",
    "not_an_image": "not an image file",
    "unsupported": "unsupported image format",
    "unreadable": "unreadable image",
    "truncated": "truncated image file",
    "too_large": "image above the pixel limit",
    "missing_id": "row without image_id",
    "duplicate_id": "duplicate image_id",
    "duplicate_content": "same bytes as another image",
    "unknown_condition": "unknown or missing condition",
    "invalid_source": "source is neither real nor synthetic",
    "unlisted_file": "file not listed in the dataset tables",
    "unexpected_location": "file outside the layout's folders",
    "synthetic_without_real": "synthetic condition without real images",
    "single_image_condition": "condition with a single real image",
    "missing_generator": "synthetic row without generator",
    "bad_landmarks": "landmark or face box cell not understood",
    "score_without_image": "score table row without image",
    "sha256_mismatch": "file changed since the manifest was written",
}


@dataclass(eq=False)
class ValidationReport:
    """Everything an import left out or flagged.

    Attributes
    ----------
    entries : list of ReportEntry
        One entry per problem, with ``path``, ``image_id``, ``reason`` (a key of
        :data:`REASONS`), ``message`` and ``severity`` (``error``: left out,
        ``warning``: kept).
    junk_skipped : int
        OS clutter files skipped (``.DS_Store``, ``Thumbs.db``, ``__MACOSX/``, ``._*``).
    merged_labels : dict of str to list of str
        Condition label shown -> the spellings merged into it (only labels
        that had more than one spelling).
    single_image_conditions : list of str
        Conditions with exactly one real image.
    synthetic_only_conditions : list of str
        Conditions with synthetic images but no real image.
    counts : pandas.DataFrame
        Usable images per ``source, generator, condition``.
    """

    entries: list[ReportEntry] = field(default_factory=list)
    junk_skipped: int = 0
    merged_labels: dict[str, list[str]] = field(default_factory=dict)
    single_image_conditions: list[str] = field(default_factory=list)
    synthetic_only_conditions: list[str] = field(default_factory=list)
    counts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["source", "generator", "condition", "images"])
    )

    @property
    def errors(self) -> list[ReportEntry]:
        """Entries whose row or file was left out of the manifest."""
        return [entry for entry in self.entries if entry.severity == "error"]

    @property
    def warnings(self) -> list[ReportEntry]:
        """Entries whose row was kept but flagged."""
        return [entry for entry in self.entries if entry.severity == "warning"]

    @property
    def n_usable(self) -> int:
        """Number of usable images."""
        return int(self.counts["images"].sum()) if len(self.counts) else 0

    def reasons(self) -> Counter:
        """Count entries by reason code."""
        return Counter(entry.reason for entry in self.entries)

    def to_frame(self) -> pd.DataFrame:
        """Return the entries as a table with columns path, image_id, reason, severity, message."""
        columns = ["path", "image_id", "reason", "severity", "message"]
        rows = [
            {name: getattr(entry, name) for name in columns} for entry in self.entries
        ]
        return pd.DataFrame(rows, columns=columns)

    def format_text(self) -> str:
        """Render the report as plain text: counts, merged labels and every entry."""
        lines = [f"Usable images: {self.n_usable}"]
        if len(self.counts):
            by_source = self.counts.groupby(["source", "generator"], sort=True)["images"].sum()
            for (source, generator), images in by_source.items():
                label = f"{source} ({generator})" if generator else source
                lines.append(f"  {label}: {images}")
            lines.append("Images per condition:")
            table = self.counts.pivot_table(
                index="condition", columns=["source", "generator"], values="images",
                aggfunc="sum", fill_value=0,
            )
            table.columns = [f"{s}/{g}" if g else s for s, g in table.columns]
            lines.extend("  " + line for line in table.to_string().splitlines())
        lines.append(f"OS junk files skipped: {self.junk_skipped}")
        if self.merged_labels:
            lines.append("Merged condition labels:")
            for label, variants in sorted(self.merged_labels.items()):
                lines.append(f"  {label!r} <- " + ", ".join(repr(v) for v in variants))
        if self.single_image_conditions:
            lines.append(
                "Conditions with a single real image: " + ", ".join(self.single_image_conditions)
            )
        if self.synthetic_only_conditions:
            lines.append(
                "Synthetic conditions without real images: "
                + ", ".join(self.synthetic_only_conditions)
            )
        errors, warnings = self.errors, self.warnings
        lines.append(f"Left out: {len(errors)}; flagged: {len(warnings)}")
        for entry in errors + warnings:
            where = entry.path or entry.image_id or "-"
            lines.append(f"  [{entry.severity}] {entry.reason}: {where}: {entry.message}")
        return "\n".join(lines)


@dataclass(eq=False)
class Dataset:
    """A validated dataset: manifest, report and optional face geometry.

    Attributes
    ----------
    root : Path
        Dataset folder (absolute).
    layout : str
        Name of the layout it was imported with, one of :data:`LAYOUTS`.
    manifest : pandas.DataFrame
        Usable rows only, index ``0..n-1``, ``image_id`` unique.
    report : ValidationReport
        What was left out or flagged.
    landmarks : dict of str to numpy.ndarray
        image_id -> ``(n_points, 2)`` float pixel x, y in the decoded image.
    landmark_scheme : str or None
        ``'retinaface5'`` (order in ``RETINAFACE5_POINTS``), ``'ibug68'`` or None.
    face_boxes : dict of str to tuple
        image_id -> ``(x1, y1, x2, y2)`` face box in pixels.
    """

    root: Path
    layout: str
    manifest: pd.DataFrame
    report: ValidationReport
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)
    landmark_scheme: str | None = None
    face_boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    @cached_property
    def _paths_by_id(self) -> dict[str, str]:
        return dict(zip(self.manifest["image_id"], self.manifest["path"]))

    def image_path(self, image_id: str) -> Path:
        """Return the absolute file path of an image.

        Raises
        ------
        KeyError
            When ``image_id`` is not in the manifest.
        """
        try:
            return self.root / self._paths_by_id[image_id]
        except KeyError:
            raise KeyError(f"Image id {image_id!r} is not in the manifest of {self.root}.") from None

    @cached_property
    def fingerprint(self) -> str:
        """Content hash over the sorted image ids, file hashes and labels."""
        digest = hashlib.sha256()
        columns = ["image_id", HASH_COLUMN, "condition", "source", "generator"]
        for values in sorted(self.manifest[columns].itertuples(index=False, name=None)):
            digest.update("\t".join(map(str, values)).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    @property
    def conditions(self) -> list[str]:
        """Condition labels present in the manifest, sorted."""
        return sorted(self.manifest["condition"].unique())


def detect_layout(root: str | os.PathLike) -> str:
    """Name the layout of a dataset folder.

    Raises
    ------
    DatasetNotFoundError
        When ``root`` is not an existing folder.
    DatasetError
        When the folder is empty.
    LayoutError
        When no known layout matches; the message lists the layouts and the
        files each one expects.
    """
    root = _check_root(root)
    return _layouts.detect(root)


def load_dataset(
    root: str | os.PathLike,
    layout: str | None = None,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    cache_dir: str | os.PathLike | None | bool = None,
) -> Dataset:
    """Import and validate a dataset folder.

    Parameters
    ----------
    root : path
        Dataset folder.
    layout : str, optional
        One of :data:`LAYOUTS`; detected from the folder when None.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Images above this width x height are reported as ``too_large``.
    cache_dir : path, None or False
        Where the hash and header check of each file is remembered, so an
        unchanged file is not read again on the next import. None uses the
        default cache folder; False checks every file and stores nothing.

    Returns
    -------
    Dataset
        Manifest of usable images and a report of everything left out.

    Raises
    ------
    DatasetNotFoundError
        When ``root`` does not exist.
    LayoutError
        When ``layout`` is unknown or none can be detected.
    DatasetError
        When the folder is empty or a required table is missing or malformed.
    """
    root = _check_root(root)
    if layout is None:
        layout = _layouts.detect(root)
    elif layout not in LAYOUTS:
        raise LayoutError(
            f"Unknown dataset layout {layout!r}; valid layouts are {', '.join(LAYOUTS)}."
        )

    raw = _layouts.IMPORTERS[layout](root)
    cache = None if cache_dir is False else ArtifactCache(cache_dir)
    memo = FileCheckMemo(Path(os.path.realpath(root)), max_pixels, cache)
    dataset = _validate(root, layout, raw, max_pixels=max_pixels, memo=memo)
    memo.save()
    report = dataset.report
    log.info(
        "Imported %s (%s): %d usable images, %d left out, %d flagged, %d junk files skipped",
        root, layout, len(dataset.manifest), len(report.errors), len(report.warnings),
        report.junk_skipped,
    )
    return dataset


def _check_root(root: str | os.PathLike) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"Dataset folder {path} does not exist; check the path.")
    if not path.is_dir():
        raise DatasetError(f"Dataset path {path} is a file; pass the folder that contains it.")
    path = path.absolute()
    if all(is_os_junk(child.name) for child in path.iterdir()):
        raise DatasetError(
            f"Dataset folder {path} is empty (apart from OS clutter files); put images in one of the layouts "
            f"{', '.join(LAYOUTS)} (for example real/<condition>/<image>)."
        )
    return path


# --- shared checks -----------------------------------------------------------------------------


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _collapse_spaces(label: str) -> str:
    return re.sub(r"\s+", " ", label).strip()


def _validate(root: Path, layout: str, raw: RawImport, *, max_pixels: int, memo: FileCheckMemo) -> Dataset:
    """Run the checks common to every layout and build the Dataset."""
    report = ValidationReport(entries=list(raw.entries), junk_skipped=raw.junk_skipped)
    root_real = Path(os.path.realpath(root))
    usable_rows: list[dict[str, object]] = []
    seen_ids: set[str] = set()
    seen_hashes: dict[str, str] = {}

    for row in raw.rows:
        row = dict(row)
        for column in MANIFEST_COLUMNS:
            row[column] = _clean_text(row.get(column))
        if _check_row(row, root, root_real, report, seen_ids, seen_hashes, max_pixels, memo):
            usable_rows.append(row)

    _normalise_labels(usable_rows, report)
    _flag_conditions(usable_rows, report)
    manifest = _build_manifest(usable_rows)
    report.counts = _count_images(manifest)

    ids = set(manifest["image_id"])
    landmarks = {key: value for key, value in raw.landmarks.items() if key in ids}
    face_boxes = {key: value for key, value in raw.face_boxes.items() if key in ids}
    orphans = sorted((set(raw.landmarks) | set(raw.face_boxes)) - ids)
    if orphans:
        listed = ", ".join(orphans[:5]) + (" ..." if len(orphans) > 5 else "")
        report.entries.append(ReportEntry(
            "", "", "bad_landmarks",
            f"{len(orphans)} landmark or face box record(s) name images that are not in the "
            f"manifest and are ignored: {listed}.",
            "warning",
        ))
    return Dataset(
        root=root,
        layout=layout,
        manifest=manifest,
        report=report,
        landmarks=landmarks,
        landmark_scheme=raw.landmark_scheme if landmarks else None,
        face_boxes=face_boxes,
    )


def _check_row(
    row: dict[str, object],
    root: Path,
    root_real: Path,
    report: ValidationReport,
    seen_ids: set[str],
    seen_hashes: dict[str, str],
    max_pixels: int,
    memo: FileCheckMemo,
) -> bool:
    """Check one candidate row in place; add its sha256 and return whether it is usable."""
    image_id = row["image_id"]
    relpath = row["path"] = str(row["path"]).replace("\\", "/")

    def reject(reason: str, message: str) -> bool:
        report.entries.append(ReportEntry(relpath, image_id, reason, message, "error"))
        return False

    if not image_id:
        return reject("missing_id", f"Row for {relpath or 'an unnamed file'} has an empty image_id.")
    if image_id in seen_ids:
        return reject("duplicate_id", f"image_id {image_id!r} appears more than once; only the first row is used.")
    seen_ids.add(image_id)

    row["source"] = row["source"].lower()
    if row["source"] not in SOURCES:
        return reject(
            "invalid_source",
            f"source is {row['source']!r}; it must be 'real' or 'synthetic'.",
        )
    if row["source"] == "real":
        row["generator"] = ""
    elif not row["generator"]:
        row["generator"] = "unknown"
        report.entries.append(ReportEntry(
            relpath, image_id, "missing_generator",
            "Synthetic row has no generator; it is grouped under 'unknown'.", "warning",
        ))
    if not row["condition"]:
        return reject("unknown_condition", "Row has no condition label.")

    if not relpath:
        return reject("missing_file", "Row has no path.")
    full = _existing_spelling(root / relpath)
    resolved = Path(os.path.realpath(full))
    if not resolved.is_relative_to(root_real):
        return reject(
            "outside_root",
            f"Path {relpath} resolves to {resolved}, outside the dataset folder {root}; "
            "copy the file into the dataset folder.",
        )
    if not resolved.is_file():
        return reject("missing_file", f"File {relpath} not found under {root}.")
    row["path"] = _relative_posix(full, resolved, root, root_real)

    digest, signature = memo.lookup(resolved)
    if digest is None:
        try:
            digest = file_sha256(resolved)
            probe_image(resolved, name=relpath, max_pixels=max_pixels)
        except OSError as error:
            return reject("unreadable", f"File {relpath} cannot be read: {error}.")
        except ImageDecodeError as error:
            return reject(*_classify_decode_error(error, relpath))
        memo.remember(resolved, signature, digest)

    given_hash = _clean_text(row.get(HASH_COLUMN))
    if given_hash and given_hash.lower() != digest:
        report.entries.append(ReportEntry(
            relpath, image_id, "sha256_mismatch",
            f"The manifest's sha256 for {relpath} does not match the file; the file's hash is used.",
            "warning",
        ))
    if digest in seen_hashes:
        return reject(
            "duplicate_content",
            f"{relpath} has the same bytes as image {seen_hashes[digest]!r}; only that one is used.",
        )
    seen_hashes[digest] = image_id
    row[HASH_COLUMN] = digest
    return True


def _existing_spelling(path: Path) -> Path:
    """Return ``path``, or its NFC/NFD Unicode spelling when only that one exists.

    Archives made on macOS store decomposed (NFD) names, while tables typed
    elsewhere use composed (NFC) ones, so the same visible name can differ in bytes.
    """
    if path.exists() or path.is_symlink():
        return path
    for form in ("NFC", "NFD"):
        candidate = Path(unicodedata.normalize(form, str(path)))
        if candidate.exists():
            return candidate
    return path


def _classify_decode_error(error: ImageDecodeError, relpath: str) -> tuple[str, str]:
    """Return (reason, message) for a file that failed the image check."""
    if error.reason != "unsupported":
        return error.reason, str(error)
    suffix = Path(relpath).suffix.lower()
    if suffix in UNSUPPORTED_IMAGE_EXTENSIONS:
        return "unsupported", (
            f"{relpath} is a {suffix} image, a format Pillow cannot read; convert it to PNG or JPEG."
        )
    if suffix in IMAGE_EXTENSIONS:
        return "unreadable", f"{relpath} has an image file name, but its content is not a readable image."
    return "not_an_image", f"{relpath} is not an image file."


def _relative_posix(full: Path, resolved: Path, root: Path, root_real: Path) -> str:
    """Return a checked path relative to the root, keeping in-root symlinks as listed."""
    try:
        return Path(os.path.normpath(full)).relative_to(root).as_posix()
    except ValueError:
        return resolved.relative_to(root_real).as_posix()


def _normalise_labels(rows: list[dict[str, object]], report: ValidationReport) -> None:
    """Merge condition labels that differ only in whitespace or case, in place."""
    spellings: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        label = str(row["condition"])
        spellings[_collapse_spaces(label).casefold()][label] += 1

    chosen: dict[str, str] = {}
    for key, variants in spellings.items():
        # The most frequent spelling wins (first seen on a tie), with spaces collapsed.
        chosen[key] = _collapse_spaces(variants.most_common(1)[0][0])
        if len(variants) > 1:
            report.merged_labels[chosen[key]] = sorted(variants)
    for row in rows:
        row["condition"] = chosen[_collapse_spaces(str(row["condition"])).casefold()]
    if report.merged_labels:
        log.info("Merged condition labels: %s", report.merged_labels)


def _flag_conditions(rows: list[dict[str, object]], report: ValidationReport) -> None:
    """Flag single-image conditions and synthetic conditions without real images."""
    real = Counter(row["condition"] for row in rows if row["source"] == "real")
    synthetic: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        if row["source"] == "synthetic":
            synthetic[str(row["condition"])][str(row["generator"])] += 1

    first_real_id = {}
    for row in rows:
        if row["source"] == "real":
            first_real_id.setdefault(row["condition"], row["image_id"])
    for condition in sorted(label for label, count in real.items() if count == 1):
        report.single_image_conditions.append(condition)
        image_id = first_real_id[condition]
        report.entries.append(ReportEntry(
            "", str(image_id), "single_image_condition",
            f"Condition {condition!r} has one real image; it is kept, but classifier folds and "
            "per-condition statistics need at least two.",
            "warning",
        ))
    for condition in sorted(set(synthetic) - set(real)):
        report.synthetic_only_conditions.append(condition)
        per_generator = ", ".join(f"{g}: {n}" for g, n in sorted(synthetic[condition].items()))
        report.entries.append(ReportEntry(
            "", "", "synthetic_without_real",
            f"Condition {condition!r} has synthetic images ({per_generator}) but no real image; "
            "they are kept, but real-vs-synthetic comparisons skip it.",
            "warning",
        ))


def _build_manifest(rows: list[dict[str, object]]) -> pd.DataFrame:
    manifest = pd.DataFrame(rows)
    if manifest.empty:
        return pd.DataFrame(columns=[*MANIFEST_COLUMNS, HASH_COLUMN])

    optional = [column for column in OPTIONAL_COLUMNS if column in manifest.columns]
    known = {*MANIFEST_COLUMNS, *OPTIONAL_COLUMNS, HASH_COLUMN}
    extras = [column for column in manifest.columns if column not in known]
    manifest = manifest[[*MANIFEST_COLUMNS, *optional, *extras, HASH_COLUMN]]
    for column in [*optional, *extras]:
        if manifest[column].dtype == object:
            manifest[column] = manifest[column].fillna("")
    return manifest.reset_index(drop=True)


def _count_images(manifest: pd.DataFrame) -> pd.DataFrame:
    if manifest.empty:
        return pd.DataFrame(columns=["source", "generator", "condition", "images"])
    counts = manifest.groupby(["source", "generator", "condition"], sort=True).size()
    return counts.rename("images").reset_index()
