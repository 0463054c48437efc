"""Real-vs-synthetic comparison per condition and generator.

``compare_embeddings(manifest, vectors)`` runs every metric and returns a
:class:`ComparisonReport`; the submodules hold the metrics themselves
(:mod:`~explorer.compare.metrics`), memorisation, phenotype agreement, result
formatting and the tables and figures shown by the page.
"""

from explorer.compare.memorisation import (
    MEMORISATION_PERCENTILE,
    MemorisationThreshold,
    calibrate_threshold,
    memorisation_table,
)
from explorer.compare.metrics import (
    centroid_distance,
    frechet_distance,
    median_heuristic_bandwidth,
    mmd2_unbiased,
    prdc,
    spread_ratio,
)
from explorer.compare.phenotype import agreement_table, nearest_centroid_scores
from explorer.compare.report import (
    METRIC_LABELS,
    OVERALL,
    CompareSettings,
    ComparisonReport,
    align_vectors,
    compare_embeddings,
)
from explorer.compare.results import MetricValue, format_metric, format_metric_row

__all__ = [
    "MEMORISATION_PERCENTILE",
    "METRIC_LABELS",
    "OVERALL",
    "CompareSettings",
    "ComparisonError",
    "ComparisonReport",
    "MemorisationThreshold",
    "MetricValue",
    "agreement_table",
    "align_vectors",
    "calibrate_threshold",
    "centroid_distance",
    "compare_embeddings",
    "format_metric",
    "format_metric_row",
    "frechet_distance",
    "median_heuristic_bandwidth",
    "memorisation_table",
    "mmd2_unbiased",
    "nearest_centroid_scores",
    "prdc",
    "spread_ratio",
]
