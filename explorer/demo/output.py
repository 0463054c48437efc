"""Write the demo dataset to disk and read its ground truth and annotations back.

A rendered demo folder uses the explorer's ``manifest`` layout::

    manifest.csv              one row per image (manifest columns + demo_* columns)
    landmarks.csv             image_id, scheme ('ibug68'), point, x, y
    truth.csv                 ground-truth feature intensities and identity parameters
    annotations/<id>.npz      landmarks (68, 2) and packed region masks per feature
    real/<code>/<code>.<n>.png
    synthetic/<generator>/<code>/<code>_<n>.png
    README.txt

Every file is a function of the seed: PNGs carry no metadata, CSV numbers are
written with fixed precision, and the ``.npz`` archives use a fixed timestamp.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from explorer.demo.conditions import DEMO_CONDITIONS, DEMO_GENERATORS, LARGE_GENERATOR
from explorer.demo.features import DEMO_FEATURES, IDENTITY_PARAMS, identity_column
from explorer.demo.plan import ImagePlan, plan_demo, plan_large
from explorer.demo.render import render_face
from explorer.dataset import MANIFEST_COLUMNS
from explorer.errors import DatasetNotFoundError, ExplorerError
from explorer.images import save_png

log = logging.getLogger(__name__)

# Bump when the rendered output changes, so cached demos are rendered again.
DEMO_VERSION = 1
LICENSE = "CC0 synthetic demo"
LANDMARK_SCHEME = "ibug68"
README_FIRST_LINE = "RDFace Explorer procedural demo dataset"

MANIFEST_FILE = "manifest.csv"
LANDMARKS_FILE = "landmarks.csv"
TRUTH_FILE = "truth.csv"
ANNOTATIONS_DIR = "annotations"
README_FILE = "README.txt"

MANIFEST_HEADER = (
    *MANIFEST_COLUMNS,
    "hpo_terms",
    "license",
    "demo_behaviour",
    "demo_generator_role",
)
TRUTH_HEADER = ("image_id", *DEMO_FEATURES, *(identity_column(name) for name in IDENTITY_PARAMS))

LARGE_SIZE_RANGE = (16, 1024)
LARGE_PNG_COMPRESS_LEVEL = 1
# Large-mode images per task handed to a worker process.
LARGE_CHUNK = 250
# Fixed zip timestamp of the annotation archives (the earliest a zip file can store).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

ProgressCallback = Callable[[int, int], None]


class DemoOutputError(ExplorerError, FileExistsError):
    """The demo output folder exists and is not an earlier demo render."""


class DemoParameterError(ExplorerError, ValueError):
    """A demo render parameter (seed, condition code, size, count) is invalid."""


class DemoAnnotation(NamedTuple):
    """Landmarks (68, 2) as pixel x, y in iBUG order, and a boolean (height, width) mask per HPO id.

    It unpacks as ``landmarks, masks = load_annotation(root, image_id)``.
    """

    landmarks: np.ndarray
    masks: dict[str, np.ndarray]


def check_seed(seed: int) -> None:
    """Raise :class:`DemoParameterError` unless ``seed`` is an integer >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoParameterError(f"Invalid demo seed {seed!r}: use an integer >= 0.")


def _check_parameters(
    seed: int, codes: Sequence[str] | None, large_synthetic: int, large_size: int
) -> None:
    check_seed(seed)
    if codes is not None:
        known = {condition.code for condition in DEMO_CONDITIONS}
        unknown = sorted(set(codes) - known)
        if unknown or not codes:
            raise DemoParameterError(
                f"Invalid demo condition codes {unknown or list(codes)}: choose one or more of "
                f"{', '.join(sorted(known))}."
            )
    if (
        isinstance(large_synthetic, bool)
        or not isinstance(large_synthetic, int)
        or large_synthetic < 0
    ):
        raise DemoParameterError(
            f"Invalid large_synthetic={large_synthetic!r}: use an integer >= 0 "
            "(0 turns the large mode off)."
        )
    low, high = LARGE_SIZE_RANGE
    if not low <= large_size <= high:
        raise DemoParameterError(f"Invalid large_size={large_size!r}: use {low} to {high} pixels.")


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays like ``numpy.savez_compressed`` but with a fixed timestamp.

    ``numpy.savez_compressed`` stamps each member with the current time, so
    equal arrays would give different bytes.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def _manifest_row(plan: ImagePlan) -> list[str]:
    return [
        plan.image_id,
        plan.path,
        plan.condition.name,
        plan.condition.code,
        plan.source,
        plan.generator,
        plan.subject_id,
        plan.condition.hpo_terms,
        LICENSE,
        plan.behaviour,
        plan.generator_role,
    ]


def _truth_row(plan: ImagePlan) -> list[str]:
    values = np.concatenate([plan.face.features, plan.face.identity])
    return [plan.image_id, *(f"{value:.6f}" for value in values)]


def _render_one(plan: ImagePlan, root: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """Render one image into ``root`` and return its manifest, truth and landmark rows."""
    rendered = render_face(plan.face, annotate=plan.annotated, supersample=2)
    if plan.annotated:
        save_png(rendered.image, root / plan.path)
    else:
        # Large mode: zlib level 1 encodes about twice as fast as the default level 6
        # (measured on 64 px faces). The image comes from a numpy array, so it has no
        # metadata to strip.
        rendered.image.save(root / plan.path, format="PNG", compress_level=LARGE_PNG_COMPRESS_LEVEL)

    landmark_rows = []
    if plan.annotated:
        landmarks = np.round(rendered.landmarks, 3)
        for point, (x, y) in enumerate(landmarks):
            landmark_rows.append(
                [plan.image_id, LANDMARK_SCHEME, str(point), f"{x:.3f}", f"{y:.3f}"]
            )
        hpo_ids = list(rendered.masks)
        height, width = plan.face.size[1], plan.face.size[0]
        stacked = (
            np.stack([rendered.masks[hpo] for hpo in hpo_ids])
            if hpo_ids
            else np.zeros((0, height, width), bool)
        )
        _write_npz(
            root / ANNOTATIONS_DIR / f"{plan.image_id}.npz",
            {
                "landmarks": landmarks,
                "features": np.array(hpo_ids, dtype="<U16"),
                "masks": np.packbits(stacked, axis=-1),  # (n_features, height, ceil(width / 8))
                "shape": np.array([height, width], dtype=np.int64),
            },
        )
    return _manifest_row(plan), _truth_row(plan), landmark_rows


def _render_large_chunk(
    indices: range, seed: int, size: int, root: str
) -> list[tuple[list[str], list[str]]]:
    """Render large-mode images in a worker process and return their manifest and truth rows."""
    rows = []
    for index in indices:
        manifest_row, truth_row, _ = _render_one(plan_large(index, seed, size), Path(root))
        rows.append((manifest_row, truth_row))
    return rows


def _large_rows(
    count: int, seed: int, size: int, root: Path, workers: int
) -> Iterator[tuple[list[str], list[str]]]:
    """Yield the large-mode rows in index order, rendering in ``workers`` processes."""
    for condition in DEMO_CONDITIONS:
        (root / "synthetic" / LARGE_GENERATOR.name / condition.code).mkdir(
            parents=True, exist_ok=True
        )
    if workers <= 1:
        for index in range(count):
            manifest_row, truth_row, _ = _render_one(plan_large(index, seed, size), root)
            yield manifest_row, truth_row
        return

    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    chunks = (
        range(start, min(start + LARGE_CHUNK, count)) for start in range(0, count, LARGE_CHUNK)
    )
    # Fork where the platform has it. Spawn re-imports the caller's main script,
    # which fails in scripts without an `if __name__ == "__main__"` guard.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        # Keep only a few chunks in flight, so finished rows never pile up in memory.
        pending: deque[Future] = deque()
        for part in chunks:
            pending.append(executor.submit(_render_large_chunk, part, seed, size, str(root)))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        # On an error or interrupt, drop the chunks not started yet instead of rendering them.
        executor.shutdown(wait=True, cancel_futures=True)


def _readme_text(seed: int, plans: list[ImagePlan], large_synthetic: int, large_size: int) -> str:
    lines = [
        README_FIRST_LINE,
        "",
        "Every image here is procedural: stylised faces drawn with PIL from random",
        "parameters. No photograph of any person was used, so the folder is safe to share.",
        f"Seed {seed}, demo version {DEMO_VERSION}. License: {LICENSE}.",
        "",
        "Conditions are invented (Demo syndrome A, B, ...) and defined by HPO features:",
    ]
    rendered_codes = {plan.condition.code for plan in plans}
    for condition in DEMO_CONDITIONS:
        if condition.code not in rendered_codes:
            continue
        names = ", ".join(DEMO_FEATURES[hpo] for hpo in condition.features)
        lines.append(f"  {condition.code} {condition.name}: {names}")
    lines += ["", "Demo generators (manifest columns demo_behaviour and demo_generator_role):"]
    for generator in DEMO_GENERATORS:
        special = ", ".join(f"{code} {kind}" for code, kind in sorted(generator.behaviours.items()))
        lines.append(
            f"  {generator.name} ({generator.role}): keep"
            + (f"; except {special}" if special else "")
        )
    lines += [
        "  keep: phenotype kept, new identities. drift: feature intensities fade toward 0.",
        "  copy: near-duplicates of real images. collapse: nearly one identity repeated.",
        "",
        f"Images: {len(plans)} with landmarks and region masks.",
        "Files: manifest.csv, landmarks.csv (iBUG 68 points, pixel x, y with pixel centres at",
        "integers), truth.csv (drawn feature intensities 0..1 and identity parameters),",
        "annotations/<image_id>.npz (landmarks and packed boolean masks per HPO id).",
        "",
    ]
    if large_synthetic:
        lines.insert(
            -1,
            f"Large mode: {large_synthetic} more images of the {LARGE_GENERATOR.name} generator "
            f"at {large_size} px, with ground truth but without landmarks or masks.",
        )
    return "\n".join(lines)


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename the finished render onto ``destination``, replacing an earlier demo render there."""
    if destination.is_dir() and not any(destination.iterdir()):
        destination.rmdir()
    if not destination.exists():
        os.replace(staging, destination)
        return

    readme = destination / README_FILE
    is_demo = readme.is_file() and readme.read_text(encoding="utf-8").startswith(README_FIRST_LINE)
    if not is_demo:
        raise DemoOutputError(
            f"Output folder {destination} exists and is not a demo render. "
            "Choose an empty or new folder, or delete it first."
        )
    previous = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=destination.parent))
    os.replace(destination, previous / destination.name)
    os.replace(staging, destination)
    shutil.rmtree(previous, ignore_errors=True)
    log.info("Replaced the earlier demo render in %s", destination)


def render_demo(
    out_dir: str | os.PathLike,
    seed: int = 0,
    *,
    progress: ProgressCallback | None = None,
    large_synthetic: int = 0,
    large_size: int = 64,
    conditions: Sequence[str] | None = None,
    workers: int | None = None,
) -> Path:
    """Render the demo dataset into ``out_dir`` and return that folder.

    The render goes into a temporary folder beside ``out_dir`` and is renamed
    onto it at the end, so ``out_dir`` never contains a half-written dataset. An
    existing ``out_dir`` must be empty or an earlier demo render, which is replaced.

    Parameters
    ----------
    out_dir : path
        Destination folder.
    seed : int, default 0
        Seed of every random choice. The same seed gives byte-identical files.
    progress : callable, optional
        Called as ``progress(done, total)`` after each image.
    large_synthetic : int, default 0
        Number of extra synthetic images of the ``bulk`` generator (phenotype
        kept), for throughput tests. They are streamed to disk one at a time
        and have ground truth but no landmarks or region masks.
    large_size : int, default 64
        Side of the large-mode images in pixels.
    conditions : sequence of str, optional
        Condition codes to render (all by default). A subset gives the same
        images for its conditions as the full render.
    workers : int, optional
        Processes for the large mode. By default one per CPU core (at most 4)
        when ``large_synthetic`` is at least 2,000, else 1.

    Returns
    -------
    pathlib.Path
        ``out_dir`` as a resolved path.

    Raises
    ------
    DemoParameterError
        If the seed, a condition code, ``large_synthetic`` or ``large_size`` is invalid.
    DemoOutputError
        If ``out_dir`` exists and is neither empty nor a demo render.
    """
    codes = tuple(conditions) if conditions is not None else None
    _check_parameters(seed, codes, large_synthetic, large_size)
    destination = Path(out_dir).expanduser().resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if large_synthetic >= 2000 else 1

    plans = plan_demo(seed, codes)
    total = len(plans) + large_synthetic
    staging = Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    )
    log.info("Rendering %d demo images (seed %d) into %s", total, seed, staging)
    try:
        (staging / ANNOTATIONS_DIR).mkdir()
        done = 0
        with (
            open(staging / MANIFEST_FILE, "w", newline="", encoding="utf-8") as manifest_file,
            open(staging / TRUTH_FILE, "w", newline="", encoding="utf-8") as truth_file,
            open(staging / LANDMARKS_FILE, "w", newline="", encoding="utf-8") as landmarks_file,
        ):
            manifest = csv.writer(manifest_file, lineterminator="\n")
            truth = csv.writer(truth_file, lineterminator="\n")
            landmarks = csv.writer(landmarks_file, lineterminator="\n")
            manifest.writerow(MANIFEST_HEADER)
            truth.writerow(TRUTH_HEADER)
            landmarks.writerow(("image_id", "scheme", "point", "x", "y"))

            for plan in plans:
                manifest_row, truth_row, landmark_rows = _render_one(plan, staging)
                manifest.writerow(manifest_row)
                truth.writerow(truth_row)
                landmarks.writerows(landmark_rows)
                done += 1
                if progress is not None:
                    progress(done, total)

            for manifest_row, truth_row in _large_rows(
                large_synthetic, seed, large_size, staging, workers
            ):
                manifest.writerow(manifest_row)
                truth.writerow(truth_row)
                done += 1
                if progress is not None:
                    progress(done, total)

        (staging / README_FILE).write_text(
            _readme_text(seed, plans, large_synthetic, large_size), encoding="utf-8"
        )
        staging.chmod(0o755)
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("Demo dataset ready: %d images in %s", total, destination)
    return destination


def load_truth(root: str | os.PathLike) -> pd.DataFrame:
    """Load the ground-truth vectors of a rendered demo.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``image_id``: one column per HPO id of :data:`DEMO_FEATURES`
        (drawn intensity 0..1, 0 when absent), then ``identity_*`` columns
        (identity parameters, each about -0.5..0.5 for a new person).
    """
    path = Path(root) / TRUTH_FILE
    if not path.is_file():
        raise DatasetNotFoundError(
            f"Ground-truth file {path} not found, so {root} is not a rendered demo. "
            "Render one with `python -m explorer demo`."
        )
    frame = pd.read_csv(path, dtype={"image_id": str})
    return frame.set_index("image_id")


def load_annotation(root: str | os.PathLike, image_id: str) -> DemoAnnotation:
    """Load the landmarks and region masks of one demo image.

    Returns
    -------
    DemoAnnotation
        ``landmarks`` (68, 2) pixel x, y in iBUG order and ``masks``, a dict
        HPO id -> boolean (height, width) array for each feature drawn in the image.

    Raises
    ------
    DatasetNotFoundError
        If the image has no annotation (unknown id, or a large-mode image).
    """
    folder = Path(root) / ANNOTATIONS_DIR
    path = folder / f"{image_id}.npz"
    if Path(image_id).name != image_id or not path.is_file():
        raise DatasetNotFoundError(
            f"No annotation for image {image_id!r} in {folder}. Only the default demo images "
            "have one (large-mode images do not)."
        )
    with np.load(path, allow_pickle=False) as archive:
        landmarks = archive["landmarks"]
        hpo_ids = [str(hpo) for hpo in archive["features"]]
        height, width = (int(v) for v in archive["shape"])
        unpacked = np.unpackbits(archive["masks"], axis=-1, count=width).astype(bool)
    masks = {hpo: unpacked[index] for index, hpo in enumerate(hpo_ids)}
    return DemoAnnotation(landmarks=landmarks, masks=masks)
