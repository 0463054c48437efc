"""Run every real-vs-synthetic metric per condition and generator.

:func:`compare_embeddings` takes a manifest and the embedding vectors aligned
with its rows and returns a :class:`ComparisonReport` of plain tables, so that
the page, the command line and the notebook show the same numbers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.compare import metrics as m
from explorer.compare.cells import (  # noqa: F401 - re-exported for callers of explorer.compare.report
    CENTROID_SHIFT,
    COVERAGE,
    DEFAULT_BOOTSTRAP,
    DEFAULT_MAX_FOLDS,
    DEFAULT_NEAREST_K,
    DEFAULT_PERMUTATIONS,
    DEFAULT_TOP_K,
    DENSITY,
    INTENDED_PROBABILITY,
    MEMORISED_SHARE,
    METRIC_LABELS,
    MIN_PER_SAMPLE_FOR_MMD,
    MIN_REAL_FOR_AUC,
    MIN_REAL_FOR_SPREAD,
    MIN_SYNTHETIC_FOR_AUC,
    MIN_SYNTHETIC_FOR_SPREAD,
    MMD2,
    OVERALL,
    PRECISION,
    RECALL,
    RELATIVE_SHIFT,
    SPREAD_RATIO,
    TOP1_AGREEMENT,
    TOPK_AGREEMENT,
    TWO_SAMPLE_AUC,
    auc_metric,
    cell_metrics,
    cell_rng,
    frechet_rows,
    lookup_metrics,
    mmd_metric,
    nearest_other_centroid,
    overall_mean,
    prdc_metrics,
)
from explorer.compare.memorisation import (
    MEMORISATION_PERCENTILE,
    MIN_CALIBRATION_IMAGES,
    MemorisationThreshold,
    memorisation_table,
)
from explorer.compare.phenotype import (
    agreement_table,
    benchmark_head_scorer,
    nearest_centroid_scores,
)
from explorer.compare.results import (
    METRIC_COLUMNS,
    metric_record,
)
from explorer.errors import DatasetError, ExplorerError

log = logging.getLogger(__name__)

# Scorer(real_vectors, real_conditions, synthetic_vectors) -> (scores, classes):
# a classifier fitted on the real images that scores the synthetic ones.
ClassScorer = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, list[str]]]


class ComparisonError(ExplorerError, ValueError):
    """Comparison settings are invalid, or the dataset has nothing to compare."""


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

    def __post_init__(self) -> None:
        checks = [
            ("nearest_k", self.nearest_k, 1),
            ("n_bootstrap", self.n_bootstrap, 0),
            ("n_permutations", self.n_permutations, 0),
            ("max_folds", self.max_folds, 2),
            ("top_k", self.top_k, 1),
            ("min_calibration_images", self.min_calibration_images, 1),
        ]
        for name, value, minimum in checks:
            if value < minimum:
                raise ComparisonError(f"{name} must be at least {minimum}, got {value}")
        if not 0 < self.memorisation_percentile <= 100:
            raise ComparisonError(
                f"memorisation_percentile must be in (0, 100], got {self.memorisation_percentile}"
            )
        if self.memorisation_threshold is not None and not -1 <= self.memorisation_threshold <= 1:
            raise ComparisonError(
                "memorisation_threshold is a cosine similarity and must be in [-1, 1], "
                f"got {self.memorisation_threshold}"
            )


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

    Raises
    ------
    ComparisonError
        When the manifest has synthetic images but no real image.
    """
    settings = settings or CompareSettings()
    vectors = m.normalise_rows(check_inputs(manifest, vectors))
    manifest = manifest.reset_index(drop=True)
    is_real = (manifest["source"] == "real").to_numpy()
    is_synthetic = (manifest["source"] == "synthetic").to_numpy()
    conditions = manifest["condition"].astype(str).to_numpy()
    generators = manifest["generator"].fillna("").astype(str).to_numpy()
    if is_synthetic.any() and not is_real.any():
        raise ComparisonError(
            f"the dataset has {int(is_synthetic.sum())} synthetic images but no real image, so there is "
            "nothing to compare them with; add real images of the same conditions"
        )

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
        "neighbour_distance": {name: nearest_other_centroid(real_centroids, name) for name in real_centroids},
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
        results = cell_metrics(real, synthetic, context, condition, generator)
        results += lookup_metrics(
            memorisation[(memorisation["condition"] == condition) & (memorisation["generator"] == generator)],
            agreement[(agreement["condition"] == condition) & (agreement["generator"] == generator)],
            threshold,
            len(classes),
            settings,
            cell_rng(settings.seed, "agreement", condition, generator),
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

    pooled = frechet_rows(
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
    rng = cell_rng(settings.seed, OVERALL, generator)
    results = [(name, overall_mean(per_condition, name, settings, rng)) for name in (CENTROID_SHIFT, RELATIVE_SHIFT, SPREAD_RATIO)]
    results.append((MMD2, mmd_metric(real, synthetic, context["bandwidth"], settings, rng)))
    results.extend(prdc_metrics(real, synthetic, settings, rng))
    results.append((TWO_SAMPLE_AUC, auc_metric(real, synthetic, settings, rng)))
    results += lookup_metrics(memorised, agreement, threshold, n_classes, settings, rng)
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
    intervals = (
        "Intervals are 95% bias-corrected percentile bootstrap intervals (Wilson intervals for shares), "
        f"from {settings.n_bootstrap} resamples with seed {settings.seed}."
    )
    mmd = (
        f"MMD² uses a Gaussian RBF kernel with bandwidth sigma = {bandwidth:.4g}, the median "
        "Euclidean distance between the L2-normalised real embeddings (median heuristic), and the "
        f"unbiased estimator. Its p-values come from {settings.n_permutations} permutations. The values "
        "are not comparable to published CMMD, which uses a different encoder and kernel."
    )
    prdc = (
        f"Precision, recall, density and coverage use k = {settings.nearest_k} nearest neighbours "
        "and need more than k images on each side."
    )
    auc = (
        "The real-vs-synthetic AUC is cross-validated (stratified folds, nearest-centroid classifier) "
        f"with a p-value from {settings.n_permutations} label permutations. About 0.5 or below means "
        "the two sets cannot be told apart. With a few images, values well below 0.5 are common for "
        "indistinguishable sets, because holding an image out moves its own class away from it."
    )
    agreement = (
        f"Phenotype agreement: {scorer_name}, trained on the real embeddings only, scores every "
        "synthetic image. The table gives the share whose intended condition ranks first (top-1) or "
        f"among the first {settings.top_k} (top-{settings.top_k}), and the mean softmax probability "
        "of the intended condition."
    )
    notes = [intervals, mmd, prdc, auc, threshold.describe(), agreement]
    return notes
