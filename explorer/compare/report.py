"""Run every real-vs-synthetic metric per condition and generator.

:func:`compare_embeddings` takes a manifest and the embedding vectors aligned
with its rows and returns a :class:`ComparisonReport` of plain tables, so that
the page, the command line and the notebook show the same numbers.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.compare import metrics as m
from explorer.compare.memorisation import (
    MEMORISATION_PERCENTILE,
    MIN_CALIBRATION_IMAGES,
    MemorisationThreshold,
    memorisation_table,
)
from explorer.compare.phenotype import agreement_table, benchmark_head_scorer, nearest_centroid_scores
from explorer.compare.results import (
    METRIC_COLUMNS,
    MetricValue,
    count_reason,
    estimate,
    metric_record,
    not_computable,
)
from explorer.errors import DatasetError

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

# Scorer(real_vectors, real_conditions, synthetic_vectors) -> (scores, classes):
# a classifier fitted on the real images that scores the synthetic ones.
ClassScorer = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, list[str]]]


@dataclass(frozen=True)
class CompareSettings:
    """Parameters of the real-vs-synthetic comparison.

    ``nearest_k`` is the neighbourhood of precision/recall/density/coverage.
    ``memorisation_threshold`` replaces the calibrated threshold when set.
    ``seed`` makes resampling and cross-validation folds reproducible.
    """

    nearest_k: int = DEFAULT_NEAREST_K
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    n_permutations: int = DEFAULT_PERMUTATIONS
    max_folds: int = DEFAULT_MAX_FOLDS
    top_k: int = DEFAULT_TOP_K
    memorisation_percentile: float = MEMORISATION_PERCENTILE
    memorisation_threshold: float | None = None
    min_calibration_images: int = MIN_CALIBRATION_IMAGES
    seed: int = 0


@dataclass
class ComparisonReport:
    """Tables produced by :func:`compare_embeddings`.

    Attributes
    ----------
    metrics : DataFrame
        Long table, one row per condition x generator x metric, columns
        :data:`explorer.compare.results.METRIC_COLUMNS`. Rows with condition
        :data:`OVERALL` pool all conditions of a generator.
    memorisation : DataFrame
        One row per synthetic image with its nearest real image.
    threshold : MemorisationThreshold
    agreement : DataFrame
        One row per synthetic image with the rank of its intended condition.
    synthetic_scores : DataFrame
        One row per synthetic image: cosine similarity to its condition's
        real centroid (``centroid_similarity``, NaN without real images).
    pooled : DataFrame
        Fréchet distance per generator over all conditions, with a warning
        column.
    bandwidth : float
        RBF kernel bandwidth (sigma) used for every MMD value.
    notes : list of str
        How the numbers were computed, for display under the tables.
    """

    metrics: pd.DataFrame
    memorisation: pd.DataFrame
    threshold: MemorisationThreshold
    agreement: pd.DataFrame
    synthetic_scores: pd.DataFrame
    pooled: pd.DataFrame
    bandwidth: float
    settings: CompareSettings
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> pd.DataFrame:
        """Return the rows of one metric, indexed by (condition, generator)."""
        rows = self.metrics[self.metrics["metric"] == name]
        return rows.set_index(["condition", "generator"])


def check_inputs(manifest: pd.DataFrame, vectors: np.ndarray) -> np.ndarray:
    """Check that the manifest and the vectors can be compared, and return the vectors as float64."""
    required = {"image_id", "condition", "source", "generator"}
    missing = sorted(required - set(manifest.columns))
    if missing:
        raise DatasetError(
            f"manifest lacks columns {missing}; the comparison needs {sorted(required)}"
        )
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(manifest):
        raise DatasetError(
            f"embedding array has shape {vectors.shape} but the manifest has {len(manifest)} rows; "
            "pass one vector per manifest row, in manifest order"
        )
    if not np.isfinite(vectors).all():
        raise DatasetError("embedding array contains NaN or infinite values; recompute the embeddings")
    return vectors


def align_vectors(
    manifest: pd.DataFrame, image_ids: list[str], vectors: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the manifest rows that have a vector and order the vectors like the manifest.

    Images that failed to embed are left out and logged.
    """
    position = {str(image_id): i for i, image_id in enumerate(image_ids)}
    keep = manifest["image_id"].astype(str).isin(position.keys()).to_numpy()
    if not keep.all():
        log.warning("comparison skips %d images without an embedding", int((~keep).sum()))
    kept = manifest[keep].reset_index(drop=True)
    order = [position[str(image_id)] for image_id in kept["image_id"]]
    return kept, np.asarray(vectors)[order]


def _cell_rng(seed: int, *names: str) -> np.random.Generator:
    """Return a generator seeded by ``seed`` and the cell's names, independent of loop order."""
    return np.random.default_rng([seed, zlib.crc32("\x1f".join(names).encode())])


def _nearest_other_centroid(centroids: dict[str, np.ndarray], condition: str) -> float:
    """Return the cosine distance from a condition's real centroid to the nearest other one."""
    others = [vector for name, vector in centroids.items() if name != condition]
    if condition not in centroids or not others:
        return math.nan
    return float(m.cosine_distances(centroids[condition][None], np.stack(others)).min())


def _centroid_metrics(real, synthetic, neighbour_distance, settings, rng) -> list[tuple[str, MetricValue]]:
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


def _spread_metric(real, synthetic, settings, rng) -> MetricValue:
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


def _mmd_metric(real, synthetic, bandwidth, settings, rng) -> MetricValue:
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


def _prdc_metrics(real, synthetic, settings, rng) -> list[tuple[str, MetricValue]]:
    """Compute precision, recall, density and coverage, or say why they are undefined."""
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


def _auc_metric(real, synthetic, settings, rng) -> MetricValue:
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


def _share_metric(successes: int, total: int) -> MetricValue:
    """Turn a count into a share with a Wilson interval."""
    if total == 0:
        return not_computable(count_reason(0, "synthetic", 1))
    return estimate(successes / total, m.wilson_interval(successes, total))


def _cell_metrics(real, synthetic, context, condition, generator) -> list[tuple[str, MetricValue]]:
    """Compute the embedding-space metrics of one condition x generator cell."""
    settings: CompareSettings = context["settings"]
    rng = _cell_rng(settings.seed, condition, generator)
    results = _centroid_metrics(real, synthetic, context["neighbour_distance"].get(condition, math.nan), settings, rng)
    results.append((SPREAD_RATIO, _spread_metric(real, synthetic, settings, rng)))
    results.append((MMD2, _mmd_metric(real, synthetic, context["bandwidth"], settings, rng)))
    results.extend(_prdc_metrics(real, synthetic, settings, rng))
    results.append((TWO_SAMPLE_AUC, _auc_metric(real, synthetic, settings, rng)))
    return results


def _lookup_metrics(memorised, agreement, threshold, n_classes, settings, rng) -> list[tuple[str, MetricValue]]:
    """Summarise the per-image memorisation and agreement rows of one cell."""
    results = []
    if threshold.is_calibrated:
        results.append((MEMORISED_SHARE, _share_metric(int(memorised["flagged"].sum()), len(memorised))))
    else:
        results.append((MEMORISED_SHARE, not_computable(threshold.reason)))

    ranks = agreement["rank"].to_numpy()
    if len(ranks) and (ranks == 0).all():
        reason = count_reason(0, "real", 1)
        results.append((TOP1_AGREEMENT, not_computable(reason)))
        results.append((TOPK_AGREEMENT, not_computable(reason)))
        results.append((INTENDED_PROBABILITY, not_computable(reason)))
        return results
    results.append((TOP1_AGREEMENT, _share_metric(int((ranks == 1).sum()), len(ranks))))
    if n_classes <= settings.top_k:
        reason = f"only {n_classes} conditions have real images, top-{settings.top_k} needs more"
        results.append((TOPK_AGREEMENT, not_computable(reason)))
    else:
        hits = int(((ranks >= 1) & (ranks <= settings.top_k)).sum())
        results.append((TOPK_AGREEMENT, _share_metric(hits, len(ranks))))
    results.append((INTENDED_PROBABILITY, _mean_metric(agreement["probability"].to_numpy(dtype=float), settings, rng)))
    return results


def _mean_metric(values: np.ndarray, settings: CompareSettings, rng: np.random.Generator) -> MetricValue:
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


def _overall_mean(per_condition: pd.DataFrame, metric: str, settings, rng) -> MetricValue:
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


def _frechet_rows(real: np.ndarray, synthetic_by_generator: dict[str, np.ndarray]) -> pd.DataFrame:
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


def compare_embeddings(
    manifest: pd.DataFrame,
    vectors: np.ndarray,
    settings: CompareSettings | None = None,
    *,
    class_scorer: ClassScorer | None = None,
) -> ComparisonReport:
    """Compare real and synthetic images per condition and generator.

    Parameters
    ----------
    manifest : DataFrame
        One row per image with ``image_id``, ``condition``, ``source``
        (``real``/``synthetic``) and ``generator``; ``subject_id`` when known.
    vectors : ndarray, shape (n_images, dim)
        One embedding per manifest row, same order. Rows are L2-normalised
        here.
    settings : CompareSettings, optional
    class_scorer : callable, optional
        Classifier trained on the real images that scores the synthetic ones
        (see :data:`ClassScorer`); defaults to the benchmark's linear probe.

    Returns
    -------
    ComparisonReport
    """
    settings = settings or CompareSettings()
    vectors = m.normalise_rows(check_inputs(manifest, vectors))
    manifest = manifest.reset_index(drop=True)
    is_real = (manifest["source"] == "real").to_numpy()
    is_synthetic = (manifest["source"] == "synthetic").to_numpy()
    conditions = manifest["condition"].astype(str).to_numpy()
    generators = manifest["generator"].fillna("").astype(str).to_numpy()

    # One kernel bandwidth for the whole dataset, so MMD values compare across conditions.
    bandwidth_sample = vectors[is_real] if is_real.sum() >= 2 else vectors
    bandwidth = m.median_heuristic_bandwidth(bandwidth_sample) if len(bandwidth_sample) >= 2 else 1.0
    real_centroids = {
        name: m.centroid(vectors[is_real & (conditions == name)])
        for name in sorted(set(conditions[is_real]))
    }
    context = {
        "settings": settings,
        "bandwidth": bandwidth,
        "neighbour_distance": {name: _nearest_other_centroid(real_centroids, name) for name in real_centroids},
    }

    memorisation, threshold = memorisation_table(
        manifest,
        vectors,
        percentile=settings.memorisation_percentile,
        threshold=settings.memorisation_threshold,
        min_images=settings.min_calibration_images,
    )
    scorer = class_scorer or benchmark_head_scorer("linear_probe")
    synthetic_rows = manifest[is_synthetic]
    if is_real.any() and is_synthetic.any():
        scores, classes = scorer(vectors[is_real], conditions[is_real], vectors[is_synthetic])
    else:
        scores, classes = np.zeros((int(is_synthetic.sum()), 0)), []
    agreement = agreement_table(synthetic_rows, scores, classes)
    synthetic_scores = _synthetic_scores(synthetic_rows, vectors[is_synthetic], real_centroids)

    records = []
    cells = sorted(set(zip(conditions[is_synthetic], generators[is_synthetic])))
    for condition, generator in cells:
        real = vectors[is_real & (conditions == condition)]
        in_cell = is_synthetic & (conditions == condition) & (generators == generator)
        synthetic = vectors[in_cell]
        results = _cell_metrics(real, synthetic, context, condition, generator)
        results += _lookup_metrics(
            memorisation[(memorisation["condition"] == condition) & (memorisation["generator"] == generator)],
            agreement[(agreement["condition"] == condition) & (agreement["generator"] == generator)],
            threshold,
            len(classes),
            settings,
            _cell_rng(settings.seed, "agreement", condition, generator),
        )
        records += [metric_record(condition, generator, name, value, len(real), len(synthetic)) for name, value in results]
    per_condition = pd.DataFrame.from_records(records, columns=METRIC_COLUMNS)

    overall_records = []
    for generator in sorted(set(generators[is_synthetic])):
        overall_records += _overall_records(
            per_condition[per_condition["generator"] == generator],
            vectors[is_real],
            vectors[is_synthetic & (generators == generator)],
            memorisation[memorisation["generator"] == generator],
            agreement[agreement["generator"] == generator],
            threshold,
            len(classes),
            context,
            generator,
        )
    table = pd.concat([per_condition, pd.DataFrame.from_records(overall_records, columns=METRIC_COLUMNS)], ignore_index=True)

    pooled = _frechet_rows(
        vectors[is_real],
        {g: vectors[is_synthetic & (generators == g)] for g in sorted(set(generators[is_synthetic]))},
    )
    notes = _notes(bandwidth, threshold, settings, _scorer_name(scorer))
    log.info("compared %d cells (condition x generator)", len(cells))
    return ComparisonReport(
        metrics=table,
        memorisation=memorisation,
        threshold=threshold,
        agreement=agreement,
        synthetic_scores=synthetic_scores,
        pooled=pooled,
        bandwidth=bandwidth,
        settings=settings,
        notes=notes,
    )


def _overall_records(per_condition, real, synthetic, memorised, agreement, threshold, n_classes, context, generator):
    """Compute the rows of one generator pooled over all conditions."""
    settings: CompareSettings = context["settings"]
    rng = _cell_rng(settings.seed, OVERALL, generator)
    results = [(name, _overall_mean(per_condition, name, settings, rng)) for name in (CENTROID_SHIFT, RELATIVE_SHIFT, SPREAD_RATIO)]
    results.append((MMD2, _mmd_metric(real, synthetic, context["bandwidth"], settings, rng)))
    results.extend(_prdc_metrics(real, synthetic, settings, rng))
    results.append((TWO_SAMPLE_AUC, _auc_metric(real, synthetic, settings, rng)))
    results += _lookup_metrics(memorised, agreement, threshold, n_classes, settings, rng)
    return [metric_record(OVERALL, generator, name, value, len(real), len(synthetic)) for name, value in results]


def _synthetic_scores(synthetic: pd.DataFrame, vectors: np.ndarray, real_centroids: dict[str, np.ndarray]) -> pd.DataFrame:
    """Score each synthetic image by cosine similarity to its condition's real centroid."""
    similarity = np.full(len(synthetic), math.nan)
    for row, condition in enumerate(synthetic["condition"].astype(str)):
        if condition in real_centroids:
            similarity[row] = 1.0 - float(m.cosine_distances(vectors[row][None], real_centroids[condition][None])[0, 0])
    return pd.DataFrame(
        {
            "image_id": synthetic["image_id"].astype(str).to_numpy(),
            "condition": synthetic["condition"].astype(str).to_numpy(),
            "generator": synthetic["generator"].astype(str).to_numpy(),
            "centroid_similarity": similarity,
        }
    )


def _scorer_name(scorer: ClassScorer) -> str:
    """Name the classifier behind a scorer for the notes."""
    if scorer is nearest_centroid_scores:
        return "a nearest-class-mean classifier"
    kind = getattr(scorer, "kind", None)
    if kind == "linear_probe":
        return "the benchmark linear probe (logistic regression)"
    if kind:
        return f"the benchmark {kind.replace('_', ' ')} head"
    return "the supplied classifier"


def _notes(bandwidth: float, threshold: MemorisationThreshold, settings: CompareSettings, scorer_name: str) -> list[str]:
    """Describe how the numbers were computed."""
    notes = [
        "Intervals are 95% bias-corrected percentile bootstrap intervals (Wilson intervals for shares); "
        f"{settings.n_bootstrap} resamples, seed {settings.seed}.",
        f"MMD² uses a Gaussian RBF kernel with bandwidth sigma = {bandwidth:.4g}, the median "
        "Euclidean distance between the L2-normalised real embeddings (median heuristic), and the "
        f"unbiased estimator; p-values from {settings.n_permutations} permutations. The values are "
        "not comparable to published CMMD, which uses a different encoder and kernel.",
        f"Precision, recall, density and coverage use k = {settings.nearest_k} nearest neighbours "
        "and need more than k images on each side.",
        "The real-vs-synthetic AUC is cross-validated (stratified folds, nearest-centroid classifier) "
        f"with a p-value from {settings.n_permutations} label permutations; about 0.5 or below means "
        "the two sets cannot be told apart. With a few images, values well below 0.5 are common for "
        "indistinguishable sets, because holding an image out moves its own class away from it.",
        threshold.describe(),
    ]
    notes.append(
        f"Phenotype agreement: {scorer_name}, trained on the real embeddings only, scores every "
        f"synthetic image; the share whose intended condition ranks first (top-1) or among the "
        f"first {settings.top_k} (top-{settings.top_k}), and the mean softmax probability of the "
        "intended condition."
    )
    return notes
