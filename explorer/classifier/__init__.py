"""Benchmark classifiers on frozen image embeddings.

Heads (a logistic-regression probe and a nearest-class-mean head), the RDFace,
grouped k-fold and rare-condition protocols, training-set variants with
synthetic images, and an end-to-end torch module for saliency.
"""

from __future__ import annotations

from explorer.classifier.evaluation import (
    FEW_TEST_IMAGES_NOTE,
    MIN_TEST_IMAGES,
    BenchmarkResult,
    condition_gains,
    fit_dataset_head,
    format_mean_sd,
    run_benchmark,
)
from explorer.classifier.figures import confusion_figure, confusion_table, gain_figure
from explorer.classifier.heads import (
    ABSENT_CLASS_SCORE,
    HEAD_KINDS,
    ClassifierError,
    HeadSettings,
    LinearHead,
    fit_head,
    l2_normalise,
)
from explorer.classifier.metrics import TOP_K, true_class_ranks
from explorer.classifier.protocols import (
    PROTOCOLS,
    GroupedKFoldProtocol,
    ProtocolSplits,
    RareGalleryProtocol,
    RDFaceProtocol,
    Split,
    make_protocol,
    subject_groups,
)
from explorer.classifier.report import (
    SUMMARY_METRICS,
    BenchmarkReport,
    align_embeddings,
    benchmark_report,
    default_variant_names,
    resolve_variants,
)
from explorer.classifier.store import cached_benchmark, result_from_json, result_to_json
from explorer.classifier.variants import (
    REAL_ONLY,
    TrainingVariant,
    available_variants,
    parse_variant,
)

__all__ = [
    "ABSENT_CLASS_SCORE",
    "FEW_TEST_IMAGES_NOTE",
    "HEAD_KINDS",
    "MIN_TEST_IMAGES",
    "PROTOCOLS",
    "REAL_ONLY",
    "TOP_K",
    "BenchmarkResult",
    "ClassifierError",
    "GroupedKFoldProtocol",
    "HeadSettings",
    "LinearHead",
    "ProtocolSplits",
    "RDFaceProtocol",
    "RareGalleryProtocol",
    "Split",
    "TrainingVariant",
    "SUMMARY_METRICS",
    "BenchmarkReport",
    "align_embeddings",
    "available_variants",
    "benchmark_report",
    "default_variant_names",
    "resolve_variants",
    "cached_benchmark",
    "condition_gains",
    "confusion_figure",
    "confusion_table",
    "EndToEndClassifier",
    "fit_dataset_head",
    "fit_head",
    "format_mean_sd",
    "gain_figure",
    "l2_normalise",
    "make_protocol",
    "parse_variant",
    "result_from_json",
    "result_to_json",
    "run_benchmark",
    "subject_groups",
    "true_class_ranks",
]


def __getattr__(name: str):
    # The end-to-end module needs torch; import it only when asked for, so
    # that the benchmark tables load without torch.
    if name == "EndToEndClassifier":
        from explorer.classifier.end_to_end import EndToEndClassifier

        return EndToEndClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
