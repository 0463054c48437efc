"""Distances between a real and a synthetic sample of embedding vectors.

The functions take plain ``(n_images, dim)`` arrays and return floats or small
dicts; :mod:`explorer.compare.report` runs them per condition and generator
and attaches intervals. Cosine quantities normalise rows themselves; the
Euclidean ones (RBF kernel, k-nearest-neighbour radii, Fréchet distance) use
the vectors as given, and the report passes L2-normalised rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)

# Confidence level of every interval the comparison reports.
CONFIDENCE = 0.95
# A resampled interval is reported only when at least this share of the
# resamples produced a finite value.
MIN_VALID_RESAMPLE_SHARE = 0.5
# Smallest sample that bootstrap resampling can vary.
MIN_RESAMPLE_SIZE = 2


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the ``(len(a), len(b))`` matrix of cosine distances ``1 - cos``."""
    return 1.0 - normalise_rows(a) @ normalise_rows(b).T


def squared_euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the ``(len(a), len(b))`` matrix of squared Euclidean distances."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)


def centroid(vectors: np.ndarray) -> np.ndarray:
    """Return the mean of the L2-normalised rows, shape ``(dim,)``."""
    return normalise_rows(vectors).mean(axis=0)


def centroid_distance(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Return the cosine distance between the real and the synthetic centroid."""
    return float(cosine_distances(centroid(real)[None], centroid(synthetic)[None])[0, 0])


def mean_pairwise_distance(distances: np.ndarray, origin: np.ndarray | None = None) -> float:
    """Average a square distance matrix over pairs of distinct images.

    ``origin`` gives, for a bootstrap resample, the original index of each
    row. Pairs that are two copies of one image are left out, so that
    resampling with replacement does not pull the mean towards zero.
    Returns NaN when no such pair exists.
    """
    n = distances.shape[0]
    if origin is None:
        origin = np.arange(n)
    distinct = origin[:, None] != origin[None, :]
    if not distinct.any():
        return math.nan
    return float(distances[distinct].mean())


def spread_ratio(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Return the mean pairwise cosine distance of the synthetic images over that of the real ones.

    Values well below 1 mean the generator collapsed onto a few faces; NaN
    when the real images are all identical.
    """
    real_spread = mean_pairwise_distance(cosine_distances(real, real))
    synthetic_spread = mean_pairwise_distance(cosine_distances(synthetic, synthetic))
    if not real_spread > 0:
        return math.nan
    return synthetic_spread / real_spread


def median_heuristic_bandwidth(vectors: np.ndarray) -> float:
    """Return the median Euclidean distance between distinct rows, the RBF bandwidth ``sigma``.

    Falls back to 1.0 when every distance is zero.
    """
    squared = squared_euclidean(vectors, vectors)
    upper = np.triu_indices(len(vectors), k=1)
    distances = np.sqrt(squared[upper])
    positive = distances[distances > 0]
    if positive.size == 0:
        log.warning("all vectors coincide; using RBF bandwidth 1.0")
        return 1.0
    return float(np.median(positive))


def rbf_kernel(a: np.ndarray, b: np.ndarray, bandwidth: float) -> np.ndarray:
    """Return the Gaussian kernel ``exp(-|a - b|² / (2 sigma²))`` between all rows."""
    return np.exp(-squared_euclidean(a, b) / (2.0 * bandwidth**2))


def mmd2_unbiased_from_kernel(
    kernel: np.ndarray, index_x: np.ndarray, index_y: np.ndarray
) -> float:
    """Compute the unbiased squared MMD from a pooled kernel matrix.

    ``index_x`` and ``index_y`` select the rows of each sample (repeats
    allowed, as in a bootstrap resample). Within-sample sums skip pairs that
    point at the same row, which for distinct indices is exactly the
    ``i != j`` sum of the unbiased U-statistic.
    """
    k_xx = kernel[np.ix_(index_x, index_x)]
    k_yy = kernel[np.ix_(index_y, index_y)]
    k_xy = kernel[np.ix_(index_x, index_y)]
    within_x = index_x[:, None] != index_x[None, :]
    within_y = index_y[:, None] != index_y[None, :]
    if not within_x.any() or not within_y.any():
        return math.nan
    return float(k_xx[within_x].mean() + k_yy[within_y].mean() - 2.0 * k_xy.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Return the unbiased estimate of the squared MMD with a Gaussian RBF kernel.

    Needs at least two rows in each sample. The estimate is centred on the
    true value, so it is negative about half the time when both samples come
    from one distribution.
    """
    pooled = np.vstack([x, y])
    kernel = rbf_kernel(pooled, pooled, bandwidth)
    index_x = np.arange(len(x))
    index_y = np.arange(len(x), len(x) + len(y))
    return mmd2_unbiased_from_kernel(kernel, index_x, index_y)


def mmd_permutation_p_value(
    kernel: np.ndarray, n_x: int, observed: float, n_permutations: int, rng: np.random.Generator
) -> float:
    """Return the permutation p-value of an observed MMD² under "same distribution".

    Uses the ``(count + 1) / (n_permutations + 1)`` form, so the p-value is
    never zero.
    """
    n_total = kernel.shape[0]
    exceed = 0
    for _ in range(n_permutations):
        order = rng.permutation(n_total)
        if mmd2_unbiased_from_kernel(kernel, order[:n_x], order[n_x:]) >= observed:
            exceed += 1
    return (exceed + 1) / (n_permutations + 1)


def knn_radii(distances: np.ndarray, k: int) -> np.ndarray:
    """Return each row's distance to its k-th nearest neighbour, the row itself excluded.

    ``distances`` is a square matrix with zeros on the diagonal, so column
    ``k`` of the sorted rows is the k-th neighbour.
    """
    return np.sort(distances, axis=1)[:, k]


def prdc_indicators(
    real: np.ndarray, synthetic: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Compute the per-image terms of precision, recall, density and coverage.

    Follows Naeem et al. (2020), "Reliable Fidelity and Diversity Metrics for
    Generative Models", with Euclidean k-nearest-neighbour balls and strict
    ``<`` comparisons. Precision and density average over synthetic images,
    and recall and coverage over real images. The returned arrays contain
    those per-image terms, so that a bootstrap can resample them.

    Needs ``k < len(real)`` for the real balls and ``k < len(synthetic)`` for
    the synthetic balls that recall uses.
    """
    real_to_real = np.sqrt(squared_euclidean(real, real))
    synthetic_to_synthetic = np.sqrt(squared_euclidean(synthetic, synthetic))
    real_to_synthetic = np.sqrt(squared_euclidean(real, synthetic))
    real_radii = knn_radii(real_to_real, k)
    synthetic_radii = knn_radii(synthetic_to_synthetic, k)

    # inside_real[i, j]: synthetic image j lies in the ball of real image i.
    inside_real = real_to_synthetic < real_radii[:, None]
    inside_synthetic = real_to_synthetic < synthetic_radii[None, :]
    return {
        "precision": inside_real.any(axis=0).astype(float),
        "recall": inside_synthetic.any(axis=1).astype(float),
        "density": inside_real.sum(axis=0) / float(k),
        "coverage": (real_to_synthetic.min(axis=1) < real_radii).astype(float),
    }


def prdc(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, float]:
    """Return precision, recall, density and coverage of ``synthetic`` against ``real``."""
    return {name: float(terms.mean()) for name, terms in prdc_indicators(real, synthetic, k).items()}


def auc_from_scores(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the ROC AUC of ``scores`` for ``labels == 1``, ties counting one half."""
    positive = scores[labels == 1]
    negative = scores[labels == 0]
    if positive.size == 0 or negative.size == 0:
        return math.nan
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


def two_sample_folds(labels: np.ndarray, max_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Assign each image to one of at most ``max_folds`` folds, stratified by label.

    The fold count is also capped by the size of the smaller class, so every
    fold holds out at least one image of each class.
    """
    n_folds = min(max_folds, int((labels == 0).sum()), int((labels == 1).sum()))
    folds = np.empty(len(labels), dtype=int)
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        folds[members] = np.arange(members.size) % n_folds
    return folds


def two_sample_scores(features: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Score every image with a nearest-centroid classifier fitted without its fold.

    The score is the cosine similarity to the synthetic centroid minus that to
    the real centroid of the training folds; higher means "looks synthetic".
    ``features`` should be L2-normalised rows, ``labels`` 0 (real) or 1
    (synthetic).
    """
    scores = np.zeros(len(labels))
    for fold in np.unique(folds):
        train = folds != fold
        real_centroid = features[train & (labels == 0)].mean(axis=0)
        synthetic_centroid = features[train & (labels == 1)].mean(axis=0)
        direction = synthetic_centroid / max(np.linalg.norm(synthetic_centroid), 1e-12)
        direction = direction - real_centroid / max(np.linalg.norm(real_centroid), 1e-12)
        scores[folds == fold] = features[folds == fold] @ direction
    return scores


def two_sample_auc(
    features: np.ndarray, labels: np.ndarray, max_folds: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Return the cross-validated AUC of a real-vs-synthetic classifier and its out-of-fold scores."""
    scores = two_sample_scores(features, labels, two_sample_folds(labels, max_folds, rng))
    return auc_from_scores(scores, labels), scores


def auc_permutation_p_value(
    features: np.ndarray,
    labels: np.ndarray,
    observed: float,
    max_folds: int,
    n_permutations: int,
    rng: np.random.Generator,
) -> float:
    """Return the permutation p-value of a cross-validated AUC under "same distribution".

    Labels are shuffled and the whole cross-validation is repeated, so the
    null distribution carries the same small-sample bias as the observed AUC.
    """
    exceed = 0
    for _ in range(n_permutations):
        shuffled = rng.permutation(labels)
        auc, _ = two_sample_auc(features, shuffled, max_folds, rng)
        if auc >= observed:
            exceed += 1
    return (exceed + 1) / (n_permutations + 1)


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Return the Fréchet distance between Gaussians fitted to ``x`` and ``y``.

    ``|mu_x - mu_y|² + tr(C_x + C_y - 2 (C_x C_y)^(1/2))``. The covariance
    estimates are singular when a sample has fewer rows than columns. The
    value is then dominated by estimation noise, and callers warn about that.
    """
    from scipy import linalg

    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    cov_x = np.atleast_2d(np.cov(x, rowvar=False))
    cov_y = np.atleast_2d(np.cov(y, rowvar=False))
    root = linalg.sqrtm(cov_x @ cov_y)
    if np.iscomplexobj(root):
        root = root.real
    value = float(((mean_x - mean_y) ** 2).sum() + np.trace(cov_x + cov_y - 2.0 * root))
    return max(value, 0.0)


def bootstrap_interval(
    statistic: Callable[..., float],
    sizes: Sequence[int],
    n_resamples: int,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    *,
    point: float | None = None,
) -> tuple[float, float] | None:
    """Return a bootstrap interval, or None when too few resamples are finite.

    ``statistic`` receives one index array per sample (drawn with replacement
    from ``range(size)``) and returns a float, NaN when the resample cannot be
    evaluated. With the point estimate given, the interval is the
    bias-corrected percentile bootstrap interval. For a distance near zero
    every resample lies above the estimate, and this correction keeps the
    interval from excluding it. The result is also widened to contain
    ``point``. Without it, the plain percentile interval is returned.
    """
    from scipy.stats import norm

    if n_resamples <= 0:
        return None
    values = []
    for _ in range(n_resamples):
        indices = [rng.integers(0, size, size=size) for size in sizes]
        values.append(statistic(*indices))
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size < MIN_VALID_RESAMPLE_SHARE * n_resamples:
        return None

    lower_quantile, upper_quantile = (1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0
    if point is not None and math.isfinite(point):
        # Bias correction z0 from the share of resamples below the estimate,
        # clipped so that a share of 0 or 1 stays finite.
        below = (np.sum(finite < point) + 0.5 * np.sum(finite == point)) / finite.size
        below = min(max(below, 1.0 / (finite.size + 1)), finite.size / (finite.size + 1))
        z0 = float(norm.ppf(below))
        lower_quantile = float(norm.cdf(2 * z0 + norm.ppf(lower_quantile)))
        upper_quantile = float(norm.cdf(2 * z0 + norm.ppf(upper_quantile)))
    low, high = np.quantile(finite, [lower_quantile, upper_quantile])
    if point is not None and math.isfinite(point):
        low, high = min(low, point), max(high, point)
    return float(low), float(high)


def wilson_interval(successes: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial share."""
    from scipy.stats import norm

    if total == 0:
        return math.nan, math.nan
    z = float(norm.ppf(0.5 + confidence / 2.0))
    share = successes / total
    denominator = 1.0 + z**2 / total
    centre = (share + z**2 / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
