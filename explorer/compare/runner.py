"""Compare a whole dataset: embedding metrics, landmark scores and measurements, cached and written as CSV.

The page, the command line and the notebook call :func:`compare_dataset`, so
all three show the same tables.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.compare.report import (
    CompareSettings,
    ComparisonReport,
    align_vectors,
    compare_embeddings,
)
from explorer.compare.tables import defect_findings, wide_table

log = logging.getLogger(__name__)

# Embedding source label of the demo's ground-truth feature vectors.
DEMO_TRUTH = "demo ground truth"
# Bump when the stored result changes shape, so old cache entries are ignored.
CACHE_VERSION = 1


@dataclass
class DatasetComparison:
    """Everything the Compare page and the CSV export show for one dataset and embedding.

    ``landmark_scores`` and ``measurements`` are empty when the dataset has
    no landmarks (measurements also need 68 points).
    """

    report: ComparisonReport
    landmark_scores: pd.DataFrame
    measurements: pd.DataFrame
    landmark_scheme: str | None
    embedding_source: str
    is_random: bool


def demo_truth_vectors(dataset) -> tuple[list[str], np.ndarray]:
    """Return the demo's ground-truth feature vectors (HPO features and identity) in manifest order."""
    from explorer.demo import load_truth

    truth = load_truth(dataset.root)
    ids = [str(i) for i in dataset.manifest["image_id"] if str(i) in truth.index]
    return ids, truth.loc[ids].to_numpy(dtype=np.float64)


def compare_dataset(
    dataset,
    image_ids: list[str],
    vectors: np.ndarray,
    settings: CompareSettings | None = None,
    *,
    embedding_source: str,
    embedding_key: str | None = None,
    is_random: bool = False,
    cache=None,
) -> DatasetComparison:
    """Run the embedding comparison and the landmark checks on a dataset.

    Parameters
    ----------
    dataset : explorer.dataset.Dataset
    image_ids : list of str
        Image of each row of ``vectors``; images without a vector are left out.
    vectors : ndarray, shape (n_vectors, dim)
    settings : CompareSettings, optional
    embedding_source : str
        Model id or :data:`DEMO_TRUTH`, shown with the results.
    embedding_key : str, optional
        Content hash of the vectors; with ``cache``, the result is stored
        under it together with the dataset fingerprint and the settings.
    is_random : bool
        Whether the embeddings come from a model with random weights.
    cache : explorer.cache.ArtifactCache, optional
    """
    settings = settings or CompareSettings()

    def compute() -> DatasetComparison:
        from explorer import landmarks as lm

        manifest, aligned = align_vectors(dataset.manifest, image_ids, vectors)
        report = compare_embeddings(manifest, aligned, settings)
        points = lm.dataset_landmarks(dataset)
        scores = lm.landmark_scores(dataset.manifest, points) if points.points else pd.DataFrame(columns=lm.SCORE_COLUMNS)
        measurements = lm.compare_measurements(
            lm.measurement_table(dataset.manifest, points), n_bootstrap=settings.n_bootstrap, seed=settings.seed
        )
        return DatasetComparison(report, scores, measurements, points.scheme, embedding_source, is_random)

    if cache is None or embedding_key is None:
        return compute()
    key_parts = {
        "version": CACHE_VERSION,
        "dataset": getattr(dataset, "fingerprint", str(dataset.root)),
        "embedding": embedding_key,
        "settings": dataclasses.asdict(settings),
    }
    return cache.get_or_compute("comparison", key_parts, compute)


def write_tables(comparison: DatasetComparison, out_dir: str | Path) -> list[Path]:
    """Write the comparison tables as CSV files into ``out_dir`` and return their paths.

    Files: ``metrics_long.csv`` (one row per condition x generator x metric
    with value, interval, p-value, sample sizes, status and reason),
    ``metrics_table.csv`` (one row per condition x generator, numeric and
    formatted columns), ``findings.csv``, ``memorisation.csv``,
    ``phenotype_agreement.csv``, ``frechet_pooled.csv``, ``notes.txt`` and,
    when the dataset has landmarks, ``landmark_scores.csv`` and
    ``landmark_measurements.csv``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = comparison.report
    tables = {
        "metrics_long.csv": report.metrics,
        "metrics_table.csv": wide_table(report.metrics).frame,
        "findings.csv": defect_findings(report.metrics),
        "memorisation.csv": report.memorisation,
        "phenotype_agreement.csv": report.agreement,
        "frechet_pooled.csv": report.pooled,
    }
    if not comparison.landmark_scores.empty:
        tables["landmark_scores.csv"] = comparison.landmark_scores
    if not comparison.measurements.empty:
        tables["landmark_measurements.csv"] = comparison.measurements
    written = []
    for name, frame in tables.items():
        path = out / name
        frame.to_csv(path, index=False)
        written.append(path)
    notes = out / "notes.txt"
    lines = [f"Embeddings: {comparison.embedding_source}" + (" (random weights: results are meaningless)" if comparison.is_random else "")]
    notes.write_text("\n".join(lines + report.notes) + "\n", encoding="utf-8")
    written.append(notes)
    log.info("wrote %d comparison files to %s", len(written), out)
    return written
