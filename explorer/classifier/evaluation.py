"""Run a protocol with a head and a training-set variant, and tabulate the results."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.classifier.heads import DEFAULT_HEAD, ClassifierError, HeadSettings, fit_head
from explorer.classifier.metrics import (
    TOP_K,
    macro_f1,
    top_k_accuracy,
    top_k_accuracy_per_condition,
    true_class_ranks,
)
from explorer.classifier.protocols import Protocol, check_manifest
from explorer.classifier.variants import REAL_ONLY, TrainingVariant, check_variant

log = logging.getLogger(__name__)

# A per-condition figure resting on fewer test images than this gets a note.
MIN_TEST_IMAGES = 5
FEW_TEST_IMAGES_NOTE = f"fewer than {MIN_TEST_IMAGES} test images"


@dataclass
class BenchmarkResult:
    """Everything one protocol run produced.

    Attributes
    ----------
    protocol : dict
        The protocol's settings, with its name under the ``protocol`` key.
    variant : dict
        The training-set variant's settings, with its label under the ``name`` key.
    head : dict
        The head settings.
    class_names : list of str
        Every condition the heads scored.
    split_metrics : pandas.DataFrame
        One row per split: ``split``, ``n_train``, ``n_train_synthetic``,
        ``n_test``, ``top{k}_images``, ``top{k}_conditions``, ``macro_f1``.
    predictions : pandas.DataFrame
        One row per test image and split: ``split``, ``image_id``,
        ``condition``, ``predicted``, ``rank`` (1-based rank of the true class).
    conditions : pandas.DataFrame
        One row per condition: ``condition``, ``n_real``,
        ``n_synthetic_train`` (most over splits), ``status``.
    notes : list of str
        Warnings to show with the results.
    top_k : tuple of int
    """

    protocol: dict
    variant: dict
    head: dict
    class_names: list[str]
    split_metrics: pd.DataFrame
    predictions: pd.DataFrame
    conditions: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    top_k: tuple[int, ...] = TOP_K

    @property
    def protocol_name(self) -> str:
        """Protocol name (``rdface``, ``grouped`` or ``rare``)."""
        return str(self.protocol["protocol"])

    @property
    def variant_name(self) -> str:
        """Training-set variant label (``real``, ``real+synthetic``, ...)."""
        return str(self.variant["name"])

    def metric_columns(self) -> list[str]:
        """Return the metric columns of :attr:`split_metrics`, in display order."""
        columns = [f"top{k}_images" for k in self.top_k]
        columns += [f"top{k}_conditions" for k in self.top_k]
        return columns + ["macro_f1"]

    def summary(self) -> pd.DataFrame:
        """Tabulate each metric's mean and standard deviation over splits.

        Returns
        -------
        pandas.DataFrame
            Columns ``metric``, ``mean``, ``sd`` (sample SD, NaN with one split)
            and ``text`` (``"0.52 ± 0.04"``).
        """
        rows = []
        for column in self.metric_columns():
            values = self.split_metrics[column].astype(float)
            mean = float(values.mean())
            sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            rows.append({"metric": column, "mean": mean, "sd": sd, "text": format_mean_sd(mean, sd)})
        return pd.DataFrame(rows)

    def per_condition(self) -> pd.DataFrame:
        """Tabulate top-k accuracy per condition, pooled over splits.

        Returns
        -------
        pandas.DataFrame
            One row per condition: ``condition``, ``status``, ``n_real``,
            ``n_synthetic_train``, ``n_test_images`` (distinct images),
            ``n_predictions`` (images times splits), ``top{k}`` and ``note``.
            Conditions never tested have NaN accuracies and the reason in ``status``.
        """
        predictions = self.predictions
        grouped = predictions.groupby("condition")
        table = pd.DataFrame(
            {
                "n_test_images": grouped["image_id"].nunique(),
                "n_predictions": grouped.size(),
                **{f"top{k}": grouped["rank"].apply(lambda ranks, k=k: float(np.mean(ranks <= k))) for k in self.top_k},
            }
        )
        table = self.conditions.set_index("condition").join(table, how="left").reset_index()
        table["n_test_images"] = table["n_test_images"].fillna(0).astype(int)
        table["n_predictions"] = table["n_predictions"].fillna(0).astype(int)
        table["note"] = np.where(
            (table["n_test_images"] > 0) & (table["n_test_images"] < MIN_TEST_IMAGES),
            FEW_TEST_IMAGES_NOTE,
            "",
        )
        return table

    def test_image_count(self) -> int:
        """Return the number of distinct real images tested."""
        return int(self.predictions["image_id"].nunique())


def format_mean_sd(mean: float, sd: float) -> str:
    """Format ``mean ± sd`` with two decimals (``n/a`` for a missing value)."""
    if np.isnan(mean):
        return "n/a"
    if np.isnan(sd):
        return f"{mean:.2f} ± n/a"
    return f"{mean:.2f} ± {sd:.2f}"


def run_benchmark(
    manifest: pd.DataFrame,
    vectors: np.ndarray,
    protocol: Protocol,
    variant: TrainingVariant = REAL_ONLY,
    head: HeadSettings = DEFAULT_HEAD,
    top_k: tuple[int, ...] = TOP_K,
) -> BenchmarkResult:
    """Train and score one head per split of ``protocol``.

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per image with ``image_id``, ``condition``, ``source`` and,
        where known, ``subject_id``, ``generator`` and a fidelity score column.
        The index must be 0..n-1.
    vectors : numpy.ndarray
        ``(n_images, dim)`` embeddings aligned with the manifest rows.
    protocol : RDFaceProtocol, GroupedKFoldProtocol or RareGalleryProtocol
    variant : TrainingVariant, default real only
    head : HeadSettings
    top_k : tuple of int, default (1, 5, 10, 30)

    Returns
    -------
    BenchmarkResult
    """
    vectors = np.asarray(vectors)
    check_manifest(manifest, len(vectors) if vectors.ndim == 2 else None)
    if vectors.ndim != 2:
        raise ClassifierError(f"embeddings must be (n_images, dim), got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ClassifierError("the embeddings contain NaN or infinite values; rebuild them")
    check_variant(variant, manifest)

    class_names = sorted(manifest["condition"].astype(str).unique())
    index_of = {name: i for i, name in enumerate(class_names)}
    conditions = manifest["condition"].astype(str).to_numpy()
    sources = manifest["source"].to_numpy()
    image_ids = manifest["image_id"].astype(str).to_numpy()
    protocol_splits = protocol.make_splits(manifest)

    metric_rows = []
    prediction_frames = []
    synthetic_counts: dict[str, int] = {}
    for split in protocol_splits.splits:
        train = variant.training_rows(manifest, split.train, split.test)
        if len(train) == 0:
            raise ClassifierError(
                f"{split.name} of the {protocol.name} protocol has no training image for "
                f"variant {variant.name!r}"
            )
        fitted = fit_head(vectors[train], conditions[train], class_names, head)

        # (n_test, n_classes) scores of the split's test images.
        scores = fitted.scores(vectors[split.test])
        true_index = np.array([index_of[name] for name in conditions[split.test]], dtype=int)
        ranks = true_class_ranks(scores, true_index)
        predicted = np.asarray(class_names, dtype=object)[np.argmax(scores, axis=1)]
        test_conditions = conditions[split.test]

        row = {
            "split": split.name,
            "n_train": len(train),
            "n_train_synthetic": int((sources[train] == "synthetic").sum()),
            "n_test": len(split.test),
        }
        for k in top_k:
            row[f"top{k}_images"] = top_k_accuracy(ranks, k)
        for k in top_k:
            row[f"top{k}_conditions"] = top_k_accuracy_per_condition(ranks, test_conditions, k)
        row["macro_f1"] = macro_f1(test_conditions, predicted)
        metric_rows.append(row)
        prediction_frames.append(
            pd.DataFrame(
                {
                    "split": split.name,
                    "image_id": image_ids[split.test],
                    "condition": test_conditions,
                    "predicted": predicted.astype(str),
                    "rank": ranks,
                }
            )
        )
        synthetic_train = pd.Series(conditions[train][sources[train] == "synthetic"]).value_counts()
        for name, count in synthetic_train.items():
            synthetic_counts[name] = max(synthetic_counts.get(name, 0), int(count))
        log.debug("%s: trained on %d images, tested %d", split.name, len(train), len(split.test))

    predictions = pd.concat(prediction_frames, ignore_index=True)
    tested = set(predictions["condition"])
    real_counts = pd.Series(conditions[sources == "real"]).value_counts()
    condition_table = pd.DataFrame(
        {
            "condition": class_names,
            "n_real": [int(real_counts.get(name, 0)) for name in class_names],
            "n_synthetic_train": [synthetic_counts.get(name, 0) for name in class_names],
            "status": [
                "tested" if name in tested else protocol_splits.untested.get(name, _untested_reason(name, real_counts))
                for name in class_names
            ],
        }
    )
    log.info(
        "%s protocol, variant %s: %d split(s), %d test image(s)",
        protocol.name, variant.name, len(protocol_splits.splits), predictions["image_id"].nunique(),
    )
    return BenchmarkResult(
        protocol=protocol.params(),
        variant=variant.params(),
        head=dict(vars(head)),
        class_names=class_names,
        split_metrics=pd.DataFrame(metric_rows),
        predictions=predictions,
        conditions=condition_table,
        notes=list(protocol_splits.notes),
        top_k=tuple(top_k),
    )


def _untested_reason(condition: str, real_counts: pd.Series) -> str:
    if real_counts.get(condition, 0) == 0:
        return "no real image"
    return "not in any test split"


def condition_gains(
    baseline: BenchmarkResult, result: BenchmarkResult, k: int = 1
) -> pd.DataFrame:
    """Compare per-condition top-k accuracy of a variant with a baseline run.

    Both runs must come from the same protocol settings, so they test the same
    real images.

    Returns
    -------
    pandas.DataFrame
        Tested conditions with ``condition``, ``n_test_images``,
        ``top{k}_baseline``, ``top{k}_variant``, ``gain`` (variant minus
        baseline) and ``note``, sorted by gain, largest first.
    """
    if baseline.protocol != result.protocol:
        raise ClassifierError(
            f"cannot compare runs of different protocols ({baseline.protocol} vs "
            f"{result.protocol}); run both with the same protocol settings"
        )
    if k not in baseline.top_k or k not in result.top_k:
        raise ClassifierError(f"top-{k} is not among the computed k values {baseline.top_k}")
    column = f"top{k}"
    base = baseline.per_condition().set_index("condition")
    other = result.per_condition().set_index("condition")
    tested = base.index[base["n_test_images"] > 0]
    table = pd.DataFrame(
        {
            "condition": tested,
            "n_test_images": base.loc[tested, "n_test_images"].to_numpy(),
            f"{column}_baseline": base.loc[tested, column].to_numpy(),
            f"{column}_variant": other.reindex(tested)[column].to_numpy(),
        }
    )
    table["gain"] = table[f"{column}_variant"] - table[f"{column}_baseline"]
    table["note"] = base.loc[tested, "note"].to_numpy()
    return table.sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)


def fit_dataset_head(
    manifest: pd.DataFrame,
    vectors: np.ndarray,
    variant: TrainingVariant = REAL_ONLY,
    head: HeadSettings = DEFAULT_HEAD,
):
    """Train one head on every real image (plus the variant's synthetic images).

    This is the head to explain with saliency or to apply to new images; it
    has no held-out data, so report its accuracy from :func:`run_benchmark`.

    Returns
    -------
    LinearHead
        Scores every condition of the manifest, in sorted order.
    """
    vectors = np.asarray(vectors)
    check_manifest(manifest, len(vectors))
    check_variant(variant, manifest)
    class_names = sorted(manifest["condition"].astype(str).unique())
    real = np.flatnonzero(manifest["source"].to_numpy() == "real")
    rows = variant.training_rows(manifest, real, np.array([], dtype=int))
    if len(rows) == 0:
        raise ClassifierError(f"variant {variant.name!r} selects no training image")
    conditions = manifest["condition"].astype(str).to_numpy()
    return fit_head(vectors[rows], conditions[rows], class_names, head)
