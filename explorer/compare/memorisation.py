"""Memorisation: synthetic images that are near-copies of one real image.

Each synthetic image is matched to its most similar real image (cosine
similarity of embeddings). The flagging threshold is calibrated on the real
data: for every real image, the similarity to its nearest real image of a
*different* subject; a synthetic image above a high percentile of those is
closer to a real child than real children of different subjects usually are
to each other.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.compare.metrics import normalise_rows

log = logging.getLogger(__name__)

# Percentile of nearest different-subject real similarities used as threshold.
MEMORISATION_PERCENTILE = 99.0
# Fewer real images with a different-subject neighbour than this leave the
# threshold uncalibrated, and no image is flagged.
MIN_CALIBRATION_IMAGES = 10

MEMORISATION_COLUMNS = [
    "image_id",
    "condition",
    "generator",
    "nearest_real_id",
    "nearest_real_condition",
    "similarity",
    "flagged",
]


@dataclass(frozen=True)
class MemorisationThreshold:
    """Similarity above which a synthetic image counts as a copy, and how it was chosen.

    ``value`` is NaN when it could not be calibrated, and ``reason`` then gives the cause.
    ``n_images`` is the number of real images whose nearest different-subject
    similarity entered the percentile.
    """

    value: float
    percentile: float
    n_images: int
    source: str
    reason: str = ""

    @property
    def is_calibrated(self) -> bool:
        """Whether a usable threshold exists."""
        return math.isfinite(self.value)

    def describe(self) -> str:
        """Describe the threshold in one sentence for pages and reports."""
        if not self.is_calibrated:
            return f"No memorisation threshold: {self.reason}."
        if self.source == "user":
            return f"Memorisation threshold {self.value:.4f} (cosine similarity), set by the user."
        return (
            f"Memorisation threshold {self.value:.4f} (cosine similarity): the "
            f"{self.percentile:g}th percentile of nearest different-subject similarities "
            f"over {self.n_images} real images."
        )

    def describe_no_flags(self) -> str:
        """Say why a condition shows no possible copy: none above the threshold, or no threshold at all."""
        if not self.is_calibrated:
            return "No memorisation check could be made for this condition, because there is no threshold."
        return "No synthetic image of this condition is above the memorisation threshold."


def subject_keys(manifest: pd.DataFrame) -> np.ndarray:
    """Return one subject key per row, the image id where ``subject_id`` is empty."""
    image_ids = manifest["image_id"].astype(str).to_numpy()
    if "subject_id" not in manifest.columns:
        return image_ids
    subjects = manifest["subject_id"].fillna("").astype(str).to_numpy()
    return np.where(subjects == "", image_ids, subjects)


def calibrate_threshold(
    real_vectors: np.ndarray,
    subjects: np.ndarray,
    percentile: float = MEMORISATION_PERCENTILE,
    min_images: int = MIN_CALIBRATION_IMAGES,
) -> MemorisationThreshold:
    """Calibrate the memorisation threshold on real images of different subjects.

    Parameters
    ----------
    real_vectors : ndarray, shape (n_real, dim)
    subjects : ndarray, shape (n_real,)
        Subject key of each real image; images of one subject are never
        compared with each other.
    percentile : float, default 99.0
    min_images : int, default 10
        Below this many usable real images the threshold is NaN.
    """
    if len(real_vectors) == 0:
        return MemorisationThreshold(math.nan, percentile, 0, "calibrated", "no real images")
    unit = normalise_rows(real_vectors)
    similarity = unit @ unit.T
    same_subject = subjects[:, None] == subjects[None, :]
    similarity = np.where(same_subject, -np.inf, similarity)
    nearest = similarity.max(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    if nearest.size < min_images:
        reason = (
            f"only {nearest.size} real images have a real image of another subject "
            f"(needs ≥{min_images} to calibrate)"
        )
        log.warning("memorisation threshold not calibrated: %s", reason)
        return MemorisationThreshold(math.nan, percentile, int(nearest.size), "calibrated", reason)
    value = float(np.percentile(nearest, percentile))
    log.info("memorisation threshold %.4f from %d real images", value, nearest.size)
    return MemorisationThreshold(value, percentile, int(nearest.size), "calibrated")


def find_nearest_real(
    real_vectors: np.ndarray, synthetic_vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return, per synthetic row, the index of its most similar real row and the cosine similarity."""
    similarity = normalise_rows(synthetic_vectors) @ normalise_rows(real_vectors).T
    index = similarity.argmax(axis=1)
    return index, similarity[np.arange(len(index)), index]


def memorisation_table(
    manifest: pd.DataFrame,
    vectors: np.ndarray,
    *,
    percentile: float = MEMORISATION_PERCENTILE,
    threshold: float | None = None,
    min_images: int = MIN_CALIBRATION_IMAGES,
) -> tuple[pd.DataFrame, MemorisationThreshold]:
    """Match every synthetic image with its nearest real image and flag near-copies.

    Parameters
    ----------
    manifest : DataFrame
        Rows aligned with ``vectors``; needs ``image_id``, ``condition``,
        ``source`` and ``generator`` (``subject_id`` when known).
    vectors : ndarray, shape (n_images, dim)
    percentile : float, default 99.0
        Percentile used when the threshold is calibrated.
    threshold : float, optional
        A fixed cosine similarity that replaces the calibration.
    min_images : int, default 10

    Returns
    -------
    table : DataFrame
        One row per synthetic image, columns :data:`MEMORISATION_COLUMNS`,
        sorted by decreasing similarity.
    threshold : MemorisationThreshold
    """
    is_real = (manifest["source"] == "real").to_numpy()
    is_synthetic = (manifest["source"] == "synthetic").to_numpy()
    real = manifest[is_real]
    synthetic = manifest[is_synthetic]

    if threshold is not None:
        calibration = MemorisationThreshold(float(threshold), percentile, 0, "user")
    else:
        calibration = calibrate_threshold(
            vectors[is_real], subject_keys(real), percentile=percentile, min_images=min_images
        )
    if len(real) == 0 or len(synthetic) == 0:
        return pd.DataFrame(columns=MEMORISATION_COLUMNS), calibration

    index, similarity = find_nearest_real(vectors[is_real], vectors[is_synthetic])
    flagged = similarity > calibration.value if calibration.is_calibrated else np.zeros(len(index), bool)
    table = pd.DataFrame(
        {
            "image_id": synthetic["image_id"].astype(str).to_numpy(),
            "condition": synthetic["condition"].astype(str).to_numpy(),
            "generator": synthetic["generator"].astype(str).to_numpy(),
            "nearest_real_id": real["image_id"].astype(str).to_numpy()[index],
            "nearest_real_condition": real["condition"].astype(str).to_numpy()[index],
            "similarity": similarity,
            "flagged": flagged,
        }
    )
    log.info("memorisation: %d of %d synthetic images flagged", int(flagged.sum()), len(table))
    return table.sort_values("similarity", ascending=False, ignore_index=True), calibration
