"""Phenotype agreement: does a classifier trained on real images recognise the synthetic ones?

The scores come from any classifier trained on the real images only; by
default a nearest-class-mean rule on cosine similarity to each condition's
real centroid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.compare.metrics import normalise_rows

AGREEMENT_COLUMNS = ["image_id", "condition", "generator", "predicted", "rank", "probability"]


def nearest_centroid_scores(
    real_vectors: np.ndarray, real_conditions: np.ndarray, query_vectors: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Score queries by cosine similarity to each condition's mean real embedding.

    Returns
    -------
    scores : ndarray, shape (n_queries, n_conditions)
    classes : list of str
        Condition of each score column, sorted.
    """
    classes = sorted(set(map(str, real_conditions)))
    unit = normalise_rows(real_vectors)
    centroids = np.stack([unit[real_conditions == name].mean(axis=0) for name in classes])
    return normalise_rows(query_vectors) @ normalise_rows(centroids).T, classes


def agreement_table(
    synthetic: pd.DataFrame, scores: np.ndarray, classes: list[str]
) -> pd.DataFrame:
    """Rank each synthetic image's intended condition among the classifier's scores.

    Parameters
    ----------
    synthetic : DataFrame
        Synthetic rows with ``image_id``, ``condition`` and ``generator``.
    scores : ndarray, shape (n_synthetic, n_classes)
        Higher means more likely; rows aligned with ``synthetic``.
    classes : list of str
        Condition of each score column.

    Returns
    -------
    DataFrame
        Columns :data:`AGREEMENT_COLUMNS`; ``rank`` is 1 for the top-scored
        condition and 0 when the intended condition is not among ``classes``
        (no real image of it was available for training). ``probability`` is
        the softmax of the scores at the intended condition (NaN when it is
        not among ``classes``); for the linear probe, whose scores are
        logits, that is the model's probability.
    """
    column = {name: i for i, name in enumerate(classes)}
    intended = synthetic["condition"].astype(str).to_numpy()
    ranks = np.zeros(len(synthetic), dtype=int)
    probabilities = np.full(len(synthetic), np.nan)
    softmax = _softmax(scores) if len(classes) else scores
    for row, name in enumerate(intended):
        if name in column:
            ranks[row] = int((scores[row] > scores[row, column[name]]).sum()) + 1
            probabilities[row] = softmax[row, column[name]]
    predicted = np.asarray(classes, dtype=object)[scores.argmax(axis=1)] if len(classes) else []
    return pd.DataFrame(
        {
            "image_id": synthetic["image_id"].astype(str).to_numpy(),
            "condition": intended,
            "generator": synthetic["generator"].astype(str).to_numpy(),
            "predicted": predicted,
            "rank": ranks,
            "probability": probabilities,
        }
    )


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def benchmark_head_scorer(kind: str = "linear_probe"):
    """Return a scorer that trains the benchmark classifier head on the real images.

    Parameters
    ----------
    kind : {"linear_probe", "nearest_class_mean"}, default "linear_probe"
        Head of :mod:`explorer.classifier.heads`.

    Returns
    -------
    callable
        ``scorer(real_vectors, real_conditions, synthetic_vectors) -> (scores, classes)``.
    """
    from explorer.classifier.heads import HeadSettings, fit_head

    settings = HeadSettings(kind=kind)

    def score_with_head(
        real_vectors: np.ndarray, real_conditions: np.ndarray, query_vectors: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        classes = sorted(set(map(str, real_conditions)))
        head = fit_head(real_vectors, np.asarray(real_conditions, dtype=object), classes, settings)
        return head.scores(query_vectors), classes

    score_with_head.kind = kind
    return score_with_head
