"""Run a protocol for several training-set variants and tabulate them side by side.

The page, the command line and the notebook all call :func:`benchmark_report`,
so they show the same numbers from the same cache entries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.classifier.evaluation import (
    FEW_TEST_IMAGES_NOTE,
    MIN_TEST_IMAGES,
    BenchmarkResult,
    condition_gains,
    run_benchmark,
)
from explorer.classifier.heads import DEFAULT_HEAD, ClassifierError, HeadSettings
from explorer.classifier.metrics import TOP_K
from explorer.classifier.protocols import Protocol
from explorer.classifier.store import cached_benchmark
from explorer.classifier.variants import REAL_ONLY, TrainingVariant, available_variants, parse_variant

log = logging.getLogger(__name__)

# Metrics shown in the summary table, in order, with their labels.
SUMMARY_METRICS = {
    "top1_images": "top-1 (images)",
    "top5_images": "top-5 (images)",
    "top10_images": "top-10 (images)",
    "top30_images": "top-30 (images)",
    "top1_conditions": "top-1 (conditions)",
    "top5_conditions": "top-5 (conditions)",
    "top10_conditions": "top-10 (conditions)",
    "top30_conditions": "top-30 (conditions)",
    "macro_f1": "macro-F1",
}


@dataclass
class BenchmarkReport:
    """Results of one protocol for the real-only baseline and other variants.

    Attributes
    ----------
    results : dict of str to BenchmarkResult
        Variant name -> result; ``"real"`` is always present and first.
    dropped_image_ids : list of str
        Manifest images left out because they have no embedding.
    """

    results: dict[str, BenchmarkResult]
    dropped_image_ids: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> BenchmarkResult:
        """The real-only result every gain is measured against."""
        return self.results[REAL_ONLY.name]

    @property
    def variant_names(self) -> list[str]:
        """Variant names in run order, ``real`` first."""
        return list(self.results)

    def summary_table(self) -> pd.DataFrame:
        """Tabulate ``mean ± SD`` over splits: one row per metric, one column per variant."""
        columns = {}
        for name, result in self.results.items():
            summary = result.summary().set_index("metric")
            columns[name] = summary["text"]
        table = pd.DataFrame(columns)
        table = table.loc[[metric for metric in SUMMARY_METRICS if metric in table.index]]
        table.index = [SUMMARY_METRICS[metric] for metric in table.index]
        table.index.name = "metric"
        return table

    def split_counts(self) -> pd.DataFrame:
        """Tabulate splits, mean training images (real and synthetic) and test images per variant."""
        rows = []
        for name, result in self.results.items():
            metrics = result.split_metrics
            rows.append(
                {
                    "variant": name,
                    "splits": len(metrics),
                    "train images (mean)": float(metrics["n_train"].mean()),
                    "synthetic train images (mean)": float(metrics["n_train_synthetic"].mean()),
                    "test images": result.test_image_count(),
                }
            )
        return pd.DataFrame(rows)

    def per_condition_table(self, k: int = 1) -> pd.DataFrame:
        """Tabulate per-condition top-k accuracy of every variant and its gain over real only.

        Returns
        -------
        pandas.DataFrame
            One row per tested condition: ``condition``, ``n_real``,
            ``n_test_images``, ``real top-k``, then ``<variant> top-k`` and
            ``<variant> gain`` per other variant, and ``note``. Sorted by the
            first variant's gain, largest first, when there is another variant.
        """
        base = self.baseline.per_condition()
        base = base[base["n_test_images"] > 0].set_index("condition")
        table = pd.DataFrame(
            {
                "n_real": base["n_real"],
                "n_test_images": base["n_test_images"],
                f"real top-{k}": base[f"top{k}"],
            }
        )
        gain_columns = []
        for name, result in self.results.items():
            if name == REAL_ONLY.name:
                continue
            gains = condition_gains(self.baseline, result, k).set_index("condition")
            table[f"{name} top-{k}"] = gains[f"top{k}_variant"]
            table[f"{name} gain"] = gains["gain"]
            gain_columns.append(f"{name} gain")
        table["note"] = base["note"]
        table = table.reset_index()
        if gain_columns:
            table = table.sort_values(gain_columns[0], ascending=False, kind="stable")
        return table.reset_index(drop=True)

    def untested_conditions(self) -> pd.DataFrame:
        """List conditions that were never tested, with the reason."""
        conditions = self.baseline.conditions
        untested = conditions[conditions["status"] != "tested"]
        return untested[["condition", "n_real", "status"]].reset_index(drop=True)

    def notes(self) -> list[str]:
        """Return warnings to show with the tables (fold clamping, few test images, dropped images)."""
        notes = list(dict.fromkeys(note for result in self.results.values() for note in result.notes))
        per_condition = self.baseline.per_condition()
        few = per_condition[per_condition["note"] == FEW_TEST_IMAGES_NOTE]
        if len(few):
            notes.append(
                f"{len(few)} of {int((per_condition['n_test_images'] > 0).sum())} tested conditions "
                f"have fewer than {MIN_TEST_IMAGES} test images; their per-condition figures "
                "rest on very few images and are marked in the tables"
            )
        if self.baseline.test_image_count() < MIN_TEST_IMAGES:
            notes.append(
                f"only {self.baseline.test_image_count()} real images were tested in all; "
                "every figure here rests on fewer than "
                f"{MIN_TEST_IMAGES} test images"
            )
        n_classes = len(self.baseline.class_names)
        trivial = [k for k in self.baseline.top_k if k >= n_classes]
        if trivial:
            listed = ", ".join(f"top-{k}" for k in trivial)
            notes.append(
                f"{listed} accuracy is 1.0 by construction, because the heads score only "
                f"{n_classes} conditions"
            )
        if self.dropped_image_ids:
            notes.append(
                f"{len(self.dropped_image_ids)} image(s) without an embedding were left out: "
                + ", ".join(self.dropped_image_ids[:10])
                + (" ..." if len(self.dropped_image_ids) > 10 else "")
            )
        return notes

    def format_text(self, k: int = 1) -> str:
        """Render the report as plain text for the command line."""
        baseline = self.baseline
        protocol = ", ".join(f"{key}={value}" for key, value in baseline.protocol.items() if key != "protocol")
        lines = [
            f"Protocol: {baseline.protocol_name} ({protocol})",
            f"Head: {baseline.head['kind']}",
            "",
            "Mean ± SD over splits:",
            self.summary_table().to_string(),
            "",
            self.split_counts().to_string(index=False, float_format=lambda value: f"{value:.1f}"),
            "",
            f"Per condition (top-{k} pooled over splits; gain = variant minus real only):",
            self._compact_per_condition(k).to_string(
                index=False, float_format=lambda value: f"{value:+.2f}" if value < 0 else f"{value:.2f}"
            ),
        ]
        untested = self.untested_conditions()
        if len(untested):
            lines += ["", "Not tested (training only):", untested.to_string(index=False)]
        notes = self.notes()
        if notes:
            lines += ["", "Notes:"] + [f"- {note}" for note in notes]
        return "\n".join(lines)


    def _compact_per_condition(self, k: int) -> pd.DataFrame:
        # Variant accuracies follow from real + gain, so the text shows gains only.
        table = self.per_condition_table(k)
        variant_columns = [
            f"{name} top-{k}" for name in self.results if name != REAL_ONLY.name
        ]
        return table.drop(columns=variant_columns)


def align_embeddings(
    manifest: pd.DataFrame, image_ids: Sequence[str], vectors: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Put embeddings in manifest order and drop images that have none.

    Returns
    -------
    manifest : pandas.DataFrame
        The rows with an embedding, index reset to 0..n-1.
    vectors : numpy.ndarray
        ``(n_rows, dim)`` aligned with it.
    dropped : list of str
        Image ids of the rows left out.
    """
    index = {str(image_id): row for row, image_id in enumerate(image_ids)}
    manifest_ids = manifest["image_id"].astype(str)
    present = manifest_ids.isin(index).to_numpy()
    dropped = manifest_ids[~present].tolist()
    if dropped:
        log.warning("%d image(s) have no embedding and are left out of the benchmark", len(dropped))
    embedded = manifest[present].reset_index(drop=True)
    rows = [index[image_id] for image_id in embedded["image_id"].astype(str)]
    return embedded, np.asarray(vectors)[rows], dropped


def default_variant_names(manifest: pd.DataFrame) -> list[str]:
    """Return ``real`` plus ``real+synthetic`` and ``synthetic`` when the dataset has synthetic images."""
    if (manifest["source"] == "synthetic").any():
        return ["real", "real+synthetic", "synthetic"]
    return ["real"]


def resolve_variants(names: Sequence[str] | None, manifest: pd.DataFrame) -> list[TrainingVariant]:
    """Parse variant names, ``real`` first.

    ``None`` means :func:`default_variant_names`, an empty list means ``real``
    alone, and ``all`` expands to every available variant.
    """
    if names is None:
        names = default_variant_names(manifest)
    if "all" in names:
        variants = available_variants(manifest)
    else:
        variants = [parse_variant(name, manifest) for name in names]
    unique = {variant.name: variant for variant in [REAL_ONLY, *variants]}
    return list(unique.values())


def benchmark_report(
    manifest: pd.DataFrame,
    image_ids: Sequence[str],
    vectors: np.ndarray,
    protocol: Protocol,
    variants: Sequence[str | TrainingVariant] | None = None,
    head: HeadSettings = DEFAULT_HEAD,
    *,
    embedding_key: str | None = None,
    cache=None,
    top_k: tuple[int, ...] = TOP_K,
    progress=None,
) -> BenchmarkReport:
    """Run ``protocol`` for the real-only baseline and each variant.

    Parameters
    ----------
    manifest : pandas.DataFrame
        The dataset manifest.
    image_ids, vectors : sequence of str, numpy.ndarray
        The embeddings (``(n, dim)``) and their image ids, in any order;
        manifest rows without an embedding are left out and reported.
    protocol : RDFaceProtocol, GroupedKFoldProtocol or RareGalleryProtocol
    variants : sequence of str or TrainingVariant, optional
        Default: :func:`default_variant_names`. ``real`` always runs.
    head : HeadSettings
    embedding_key : str, optional
        Content key of the embeddings; when given, results are stored in and
        read from the on-disk cache.
    cache : ArtifactCache, optional
        Cache to use with ``embedding_key`` (default: the user's cache).
    progress : callable, optional
        Called as ``progress(done, total)`` after each variant.
    """
    manifest, vectors, dropped = align_embeddings(manifest, image_ids, vectors)
    if manifest.empty:
        raise ClassifierError("no manifest image has an embedding; build the embeddings first")
    if variants is None or all(isinstance(variant, str) for variant in variants):
        resolved = resolve_variants(variants, manifest)
    else:
        resolved = list({variant.name: variant for variant in [REAL_ONLY, *variants]}.values())

    results: dict[str, BenchmarkResult] = {}
    for done, variant in enumerate(resolved, start=1):
        if embedding_key is None:
            results[variant.name] = run_benchmark(manifest, vectors, protocol, variant, head, top_k)
        else:
            results[variant.name] = cached_benchmark(
                manifest, vectors, protocol, variant, head,
                embedding_key=embedding_key, cache=cache, top_k=top_k,
            )
        if progress is not None:
            progress(done, len(resolved))
    return BenchmarkReport(results, dropped)
