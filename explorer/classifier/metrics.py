"""Top-k accuracy and macro-F1 from class scores."""

from __future__ import annotations

import numpy as np

# The k values reported, as in RDFace and GestaltMatcher.
TOP_K: tuple[int, ...] = (1, 5, 10, 30)


def true_class_ranks(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """Return the 1-based rank of the true class in each row of ``scores``.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_images, n_classes)`` class scores.
    true_index : numpy.ndarray
        ``(n_images,)`` column of the true class.

    Returns
    -------
    numpy.ndarray
        ``(n_images,)`` ranks. A class tied with the true class counts as
        ranked above it, so ties never flatter the result.
    """
    scores = np.asarray(scores)
    true_index = np.asarray(true_index, dtype=int)
    true_scores = scores[np.arange(len(scores)), true_index]
    return (scores >= true_scores[:, None]).sum(axis=1)


def top_k_accuracy(ranks: np.ndarray, k: int) -> float:
    """Return the share of images whose true class ranks within the top ``k``."""
    ranks = np.asarray(ranks)
    if len(ranks) == 0:
        return float("nan")
    return float(np.mean(ranks <= k))


def top_k_accuracy_per_condition(ranks: np.ndarray, conditions: np.ndarray, k: int) -> float:
    """Return top-k accuracy averaged over conditions, each condition weighing the same."""
    ranks = np.asarray(ranks)
    conditions = np.asarray(conditions, dtype=object)
    if len(ranks) == 0:
        return float("nan")
    per_condition = [np.mean(ranks[conditions == name] <= k) for name in np.unique(conditions)]
    return float(np.mean(per_condition))


def macro_f1(true_labels: np.ndarray, predicted_labels: np.ndarray) -> float:
    """Return F1 averaged over the conditions present in ``true_labels``.

    Predictions of conditions that have no test image lower the recall of the
    true condition but add no F1 term of their own.
    """
    from sklearn.metrics import f1_score

    true_labels = np.asarray(true_labels, dtype=object)
    if len(true_labels) == 0:
        return float("nan")
    labels = np.unique(true_labels)
    return float(
        f1_score(
            true_labels,
            np.asarray(predicted_labels, dtype=object),
            labels=labels,
            average="macro",
            zero_division=0,
        )
    )
