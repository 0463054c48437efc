"""Metric values of one condition x generator cell, each with its interval and sample sizes.

:func:`cell_metrics` and :func:`lookup_metrics` return ``(metric name,
MetricValue)`` pairs; a metric that the sample size leaves undefined comes
back as "not computable" with the reason.
"""

from __future__ import annotations

import logging
import math
import zlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from explorer.compare import metrics as m
from explorer.compare.results import MetricValue, count_reason, estimate, not_computable

if TYPE_CHECKING:
    from explorer.compare.report import CompareSettings

log = logging.getLogger(__name__)

# Label of the rows that pool all conditions of one generator.
OVERALL = "(all conditions)"

CENTROID_SHIFT = "centroid_shift"
RELATIVE_SHIFT = "relative_shift"
SPREAD_RATIO = "spread_ratio"
MMD2 = "mmd2"
PRECISION = "precision"
RECALL = "recall"
DENSITY = "density"
COVERAGE = "coverage"
TWO_SAMPLE_AUC = "two_sample_auc"
MEMORISED_SHARE = "memorised_share"
TOP1_AGREEMENT = "top1_agreement"
TOPK_AGREEMENT = "topk_agreement"
INTENDED_PROBABILITY = "intended_probability"

# Metric name -> column heading on pages and in the wide CSV.
METRIC_LABELS = {
    CENTROID_SHIFT: "centroid shift (cosine)",
    RELATIVE_SHIFT: "shift / nearest other condition",
    SPREAD_RATIO: "spread ratio",
    MMD2: "MMD² (RBF, unbiased)",
    PRECISION: "precision",
    RECALL: "recall",
    DENSITY: "density",
    COVERAGE: "coverage",
    TWO_SAMPLE_AUC: "real-vs-synthetic AUC",
    MEMORISED_SHARE: "memorised share",
    TOP1_AGREEMENT: "top-1 agreement",
    TOPK_AGREEMENT: "top-k agreement",
    INTENDED_PROBABILITY: "probability of intended condition",
}

# Default neighbourhood size of precision/recall/density/coverage. It must be
# below the number of real images, so most conditions with 1-7 real images
# report these four as not computable.
DEFAULT_NEAREST_K = 3
DEFAULT_BOOTSTRAP = 200
DEFAULT_PERMUTATIONS = 200
DEFAULT_MAX_FOLDS = 5
DEFAULT_TOP_K = 5
# Smallest samples for which each metric is defined.
MIN_REAL_FOR_SPREAD = 2
MIN_SYNTHETIC_FOR_SPREAD = 2
MIN_PER_SAMPLE_FOR_MMD = 2
MIN_REAL_FOR_AUC = 3
MIN_SYNTHETIC_FOR_AUC = 3


def cell_rng(seed: int, *names: str) -> np.random.Generator:
    """Return a generator seeded by ``seed`` and the cell's names, independent of loop order."""
    return np.random.default_rng([seed, zlib.crc32("\x1f".join(names).encode())])


def nearest_other_centroid(centroids: dict[str, np.ndarray], condition: str) -> float:
    """Return the cosine distance from a condition's real centroid to the nearest other one."""
    others = [vector for name, vector in centroids.items() if name != condition]
    if condition not in centroids or not others:
        return math.nan
    return float(m.cosine_distances(centroids[condition][None], np.stack(others)).min())


def centroid_metrics(real, synthetic, neighbour_distance, settings, rng) -> list[tuple[str, MetricValue]]:
    """Compute the centroid shift and the shift relative to the nearest other condition."""
    if len(real) == 0:
        reason = count_reason(0, "real", 1)
        return [(CENTROID_SHIFT, not_computable(reason)), (RELATIVE_SHIFT, not_computable(reason))]

    shift = m.centroid_distance(real, synthetic)
    interval = None
    if len(real) >= m.MIN_RESAMPLE_SIZE and len(synthetic) >= m.MIN_RESAMPLE_SIZE:
        interval = m.bootstrap_interval(
            lambda i, j: m.centroid_distance(real[i], synthetic[j]),
            (len(real), len(synthetic)),
            settings.n_bootstrap,
            rng,
            point=shift,
        )
    reason = "" if interval else count_reason(len(real), "real", m.MIN_RESAMPLE_SIZE) + " for an interval"
    results = [(CENTROID_SHIFT, estimate(shift, interval, reason=reason))]

    if not math.isfinite(neighbour_distance) or neighbour_distance <= 0:
        results.append((RELATIVE_SHIFT, not_computable("no other condition has real images")))
    else:
        # NOTE: the denominator is held fixed; its own sampling error is not in the interval.
        scaled = None if interval is None else (interval[0] / neighbour_distance, interval[1] / neighbour_distance)
        results.append((RELATIVE_SHIFT, estimate(shift / neighbour_distance, scaled, reason=reason)))
    return results


def spread_metric(real, synthetic, settings, rng) -> MetricValue:
    """Compute the spread ratio with a bootstrap that skips pairs of one resampled image."""
    if len(real) < MIN_REAL_FOR_SPREAD:
        return not_computable(count_reason(len(real), "real", MIN_REAL_FOR_SPREAD))
    if len(synthetic) < MIN_SYNTHETIC_FOR_SPREAD:
        return not_computable(count_reason(len(synthetic), "synthetic", MIN_SYNTHETIC_FOR_SPREAD))
    value = m.spread_ratio(real, synthetic)
    if not math.isfinite(value):
        return not_computable(f"the {len(real)} real images are identical")

    real_distances = m.cosine_distances(real, real)
    synthetic_distances = m.cosine_distances(synthetic, synthetic)

    def resampled_ratio(i: np.ndarray, j: np.ndarray) -> float:
        real_spread = m.mean_pairwise_distance(real_distances[np.ix_(i, i)], i)
        synthetic_spread = m.mean_pairwise_distance(synthetic_distances[np.ix_(j, j)], j)
        return synthetic_spread / real_spread if real_spread > 0 else math.nan

    interval = m.bootstrap_interval(
        resampled_ratio, (len(real), len(synthetic)), settings.n_bootstrap, rng, point=value
    )
    return estimate(value, interval, reason="resamples of the real images repeat one image too often")


def mmd_metric(real, synthetic, bandwidth, settings, rng) -> MetricValue:
    """Compute the unbiased MMD² with a bootstrap interval and a permutation p-value."""
    for sample, side in ((real, "real"), (synthetic, "synthetic")):
        if len(sample) < MIN_PER_SAMPLE_FOR_MMD:
            return not_computable(count_reason(len(sample), side, MIN_PER_SAMPLE_FOR_MMD))
    pooled = np.vstack([real, synthetic])
    kernel = m.rbf_kernel(pooled, pooled, bandwidth)
    index_real = np.arange(len(real))
    index_synthetic = np.arange(len(real), len(pooled))
    value = m.mmd2_unbiased_from_kernel(kernel, index_real, index_synthetic)
    p_value = m.mmd_permutation_p_value(kernel, len(real), value, settings.n_permutations, rng)
    interval = m.bootstrap_interval(
        lambda i, j: m.mmd2_unbiased_from_kernel(kernel, index_real[i], index_synthetic[j]),
        (len(real), len(synthetic)),
        settings.n_bootstrap,
        rng,
        point=value,
    )
    return estimate(value, interval, p_value=p_value, reason="resamples repeat one image too often")


def prdc_metrics(real, synthetic, settings, rng) -> list[tuple[str, MetricValue]]:
    """Compute precision, recall, density and coverage, or the reason each is undefined."""
    names = (PRECISION, RECALL, DENSITY, COVERAGE)
    k = settings.nearest_k
    if len(real) <= k:
        return [(name, not_computable(f"n={len(real)} real, needs >k={k}")) for name in names]
    if len(synthetic) <= k:
        return [(name, not_computable(f"n={len(synthetic)} synthetic, needs >k={k}")) for name in names]

    terms = m.prdc_indicators(real, synthetic, k)
    results = []
    for name in names:
        per_image = terms[name]
        # NOTE: the k-NN radii stay fixed; the bootstrap resamples only the
        # per-image terms, so the interval leaves out the radii's own noise.
        interval = m.bootstrap_interval(
            lambda i, values=per_image: float(values[i].mean()),
            (len(per_image),),
            settings.n_bootstrap,
            rng,
            point=float(per_image.mean()),
        )
        results.append((name, estimate(float(per_image.mean()), interval)))
    return results


def auc_metric(real, synthetic, settings, rng) -> MetricValue:
    """Compute the cross-validated AUC of a real-vs-synthetic classifier with a permutation p-value."""
    if len(real) < MIN_REAL_FOR_AUC:
        return not_computable(count_reason(len(real), "real", MIN_REAL_FOR_AUC))
    if len(synthetic) < MIN_SYNTHETIC_FOR_AUC:
        return not_computable(count_reason(len(synthetic), "synthetic", MIN_SYNTHETIC_FOR_AUC))
    features = np.vstack([real, synthetic])
    labels = np.r_[np.zeros(len(real), dtype=int), np.ones(len(synthetic), dtype=int)]
    value, scores = m.two_sample_auc(features, labels, settings.max_folds, rng)
    p_value = m.auc_permutation_p_value(features, labels, value, settings.max_folds, settings.n_permutations, rng)

    # NOTE: the interval resamples the out-of-fold scores and so leaves out the
    # variation from refitting the classifier.
    real_scores, synthetic_scores = scores[labels == 0], scores[labels == 1]
    interval = m.bootstrap_interval(
        lambda i, j: m.auc_from_scores(
            np.r_[real_scores[i], synthetic_scores[j]], np.r_[np.zeros(len(i)), np.ones(len(j))]
        ),
        (len(real_scores), len(synthetic_scores)),
        settings.n_bootstrap,
        rng,
        point=value,
    )
    return estimate(value, interval, p_value=p_value)


def share_metric(successes: int, total: int) -> MetricValue:
    """Turn a count into a share with a Wilson interval."""
    if total == 0:
        return not_computable(count_reason(0, "synthetic", 1))
    return estimate(successes / total, m.wilson_interval(successes, total))


def cell_metrics(real, synthetic, context, condition, generator) -> list[tuple[str, MetricValue]]:
    """Compute the embedding-space metrics of one condition x generator cell."""
    settings: CompareSettings = context["settings"]
    rng = cell_rng(settings.seed, condition, generator)
    results = centroid_metrics(real, synthetic, context["neighbour_distance"].get(condition, math.nan), settings, rng)
    results.append((SPREAD_RATIO, spread_metric(real, synthetic, settings, rng)))
    results.append((MMD2, mmd_metric(real, synthetic, context["bandwidth"], settings, rng)))
    results.extend(prdc_metrics(real, synthetic, settings, rng))
    results.append((TWO_SAMPLE_AUC, auc_metric(real, synthetic, settings, rng)))
    return results


def lookup_metrics(memorised, agreement, threshold, n_classes, settings, rng) -> list[tuple[str, MetricValue]]:
    """Summarise the per-image memorisation and agreement rows of one cell."""
    results = []
    if threshold.is_calibrated:
        results.append((MEMORISED_SHARE, share_metric(int(memorised["flagged"].sum()), len(memorised))))
    else:
        results.append((MEMORISED_SHARE, not_computable(threshold.reason)))

    ranks = agreement["rank"].to_numpy()
    if len(ranks) and (ranks == 0).all():
        reason = count_reason(0, "real", 1)
        results.append((TOP1_AGREEMENT, not_computable(reason)))
        results.append((TOPK_AGREEMENT, not_computable(reason)))
        results.append((INTENDED_PROBABILITY, not_computable(reason)))
        return results
    results.append((TOP1_AGREEMENT, share_metric(int((ranks == 1).sum()), len(ranks))))
    if n_classes <= settings.top_k:
        reason = f"only {n_classes} conditions have real images, top-{settings.top_k} needs more"
        results.append((TOPK_AGREEMENT, not_computable(reason)))
    else:
        hits = int(((ranks >= 1) & (ranks <= settings.top_k)).sum())
        results.append((TOPK_AGREEMENT, share_metric(hits, len(ranks))))
    results.append((INTENDED_PROBABILITY, mean_metric(agreement["probability"].to_numpy(dtype=float), settings, rng)))
    return results


def mean_metric(values: np.ndarray, settings: CompareSettings, rng: np.random.Generator) -> MetricValue:
    """Average per-image values with a bootstrap interval over the images."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return not_computable(count_reason(0, "synthetic", 1))
    interval = None
    if values.size >= m.MIN_RESAMPLE_SIZE:
        interval = m.bootstrap_interval(
            lambda i: float(values[i].mean()), (values.size,), settings.n_bootstrap, rng, point=float(values.mean())
        )
    return estimate(float(values.mean()), interval, reason=count_reason(values.size, "synthetic", 2))


def overall_mean(per_condition: pd.DataFrame, metric: str, settings, rng) -> MetricValue:
    """Average one metric over the conditions where it is computable, bootstrapping conditions."""
    values = per_condition.loc[per_condition["metric"] == metric, "value"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return not_computable("not computable in any condition")
    interval = None
    if values.size >= m.MIN_RESAMPLE_SIZE:
        interval = m.bootstrap_interval(
            lambda i: float(values[i].mean()), (values.size,), settings.n_bootstrap, rng, point=float(values.mean())
        )
    return estimate(
        float(values.mean()),
        interval,
        reason=f"mean over {values.size} conditions" if interval is None else "",
    )


def frechet_rows(real: np.ndarray, synthetic_by_generator: dict[str, np.ndarray]) -> pd.DataFrame:
    """Compute the pooled Fréchet distance per generator, warning when samples are below the dimension."""
    rows = []
    dim = real.shape[1]
    for generator, synthetic in synthetic_by_generator.items():
        warning = ""
        if min(len(real), len(synthetic)) < 2:
            value = math.nan
            warning = f"not computable (n={len(real)} real, {len(synthetic)} synthetic, needs ≥2 each)"
        else:
            value = m.frechet_distance(real, synthetic)
            if min(len(real), len(synthetic)) < dim:
                warning = (
                    f"fewer images ({len(real)} real, {len(synthetic)} synthetic) than feature "
                    f"dimensions ({dim}): covariances are singular and the value is mostly noise"
                )
                log.warning("Fréchet distance for %s: %s", generator, warning)
        rows.append(
            {
                "generator": generator,
                "n_real": len(real),
                "n_synthetic": len(synthetic),
                "dim": dim,
                "frechet_distance": value,
                "warning": warning,
            }
        )
    return pd.DataFrame(rows, columns=["generator", "n_real", "n_synthetic", "dim", "frechet_distance", "warning"])
