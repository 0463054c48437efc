"""Classifier heads on frozen, L2-normalised image embeddings.

Both heads reduce to one linear layer on the unit-length embedding,
``scores = normalise(x) @ weight.T + bias``, so an end-to-end model can reuse
them as an ``nn.Linear`` and top-k metrics work the same for either.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from explorer.errors import ExplorerError

log = logging.getLogger(__name__)

HeadKind = Literal["linear_probe", "nearest_class_mean"]
HEAD_KINDS: tuple[str, ...] = ("linear_probe", "nearest_class_mean")

# Score given to a class that has no training image in a fold. Its weight row
# is zero, so the linear layer returns exactly this value and the class ranks
# below every class that was trained.
ABSENT_CLASS_SCORE = -1.0e4

# Guards the division when a vector has (almost) zero length.
NORM_EPSILON = 1e-12


class ClassifierError(ExplorerError, ValueError):
    """Inputs to a classifier head or benchmark protocol are invalid."""


@dataclass(frozen=True)
class HeadSettings:
    """Settings of the head to train: its kind and its fitting options.

    Parameters
    ----------
    kind : {"linear_probe", "nearest_class_mean"}, default "linear_probe"
        ``linear_probe`` is a multinomial logistic regression (scikit-learn);
        ``nearest_class_mean`` scores each class by the cosine similarity to the
        mean of its training embeddings.
    regularization_c : float, default 10.0
        Inverse L2 penalty ``C`` of the logistic regression. Unit-length
        embeddings have small coordinates, so values above 1 are usual.
    max_iter : int, default 2000
        Iteration limit of the lbfgs solver.
    balanced : bool, default True
        Weight classes inversely to their training counts, so a condition with
        many synthetic images does not dominate the probe.
    """

    kind: HeadKind = "linear_probe"
    regularization_c: float = 10.0
    max_iter: int = 2000
    balanced: bool = True

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise ClassifierError(
                f"head kind {self.kind!r} is unknown; use one of {', '.join(HEAD_KINDS)}"
            )
        if not self.regularization_c > 0:
            raise ClassifierError(
                f"regularization_c must be positive, got {self.regularization_c}"
            )
        if self.max_iter < 1:
            raise ClassifierError(f"max_iter must be at least 1, got {self.max_iter}")


# Default head settings, shared as a default argument (the dataclass is frozen).
DEFAULT_HEAD = HeadSettings()


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, NORM_EPSILON)


@dataclass(frozen=True)
class LinearHead:
    """A fitted head: one linear layer on L2-normalised embeddings.

    Attributes
    ----------
    kind : str
        The :class:`HeadSettings` kind that produced it.
    class_names : tuple of str
        Column order of :meth:`scores`.
    weight : numpy.ndarray
        ``(n_classes, dim)``.
    bias : numpy.ndarray
        ``(n_classes,)``.
    trained : numpy.ndarray
        ``(n_classes,)`` bool, False for classes without a training image;
        those score :data:`ABSENT_CLASS_SCORE`.
    """

    kind: str
    class_names: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray
    trained: np.ndarray

    @property
    def n_classes(self) -> int:
        """Number of classes, trained or not."""
        return len(self.class_names)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Score embeddings against every class.

        Parameters
        ----------
        vectors : numpy.ndarray
            ``(n_images, dim)`` embeddings; they are L2-normalised here.

        Returns
        -------
        numpy.ndarray
            ``(n_images, n_classes)`` scores, higher is more likely.
        """
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.weight.shape[1]:
            raise ClassifierError(
                f"embeddings have shape {vectors.shape}; the head expects "
                f"(n_images, {self.weight.shape[1]})"
            )
        return l2_normalise(vectors) @ self.weight.T + self.bias

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """Return the top-1 class name of each embedding."""
        best = np.argmax(self.scores(vectors), axis=1)
        return np.asarray(self.class_names, dtype=object)[best]

    def to_torch_linear(self):
        """Return an ``nn.Linear`` (float32) with this head's weight and bias."""
        import torch

        layer = torch.nn.Linear(self.weight.shape[1], self.n_classes)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(self.weight, dtype=torch.float32))
            layer.bias.copy_(torch.as_tensor(self.bias, dtype=torch.float32))
        return layer


def fit_head(
    vectors: np.ndarray,
    labels: np.ndarray | list[str],
    class_names: list[str] | tuple[str, ...],
    settings: HeadSettings = DEFAULT_HEAD,
) -> LinearHead:
    """Train a head on embeddings and their condition labels.

    Parameters
    ----------
    vectors : numpy.ndarray
        ``(n_images, dim)`` training embeddings (normalised here).
    labels : array-like of str
        ``(n_images,)`` condition of each training image.
    class_names : sequence of str
        Every class the head scores, in column order. Classes without a
        training image get a zero weight row and :data:`ABSENT_CLASS_SCORE`.
    settings : HeadSettings
        Which head and its parameters.

    Returns
    -------
    LinearHead
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(labels, dtype=object)
    class_names = tuple(class_names)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise ClassifierError(
            f"training embeddings have shape {vectors.shape} but there are {len(labels)} "
            "labels; pass one (n_images, dim) row per label"
        )
    if len(vectors) == 0:
        raise ClassifierError("the training set is empty; a head needs at least one image")
    unknown = sorted(set(labels) - set(class_names))
    if unknown:
        raise ClassifierError(
            f"training labels {unknown[:5]} are not in class_names; add them to class_names"
        )

    index_of = {name: i for i, name in enumerate(class_names)}
    targets = np.array([index_of[label] for label in labels])
    present = np.unique(targets)
    unit = l2_normalise(vectors)
    dim = unit.shape[1]

    if settings.kind == "nearest_class_mean" or len(present) == 1:
        present_weight, present_bias = _fit_class_means(unit, targets, present)
        if settings.kind == "linear_probe":
            log.info("only one class in the training set; the probe scores it with its class mean")
    else:
        present_weight, present_bias = _fit_logistic(unit, targets, present, settings)

    # (n_classes, dim) with zero rows for classes absent from training.
    weight = np.zeros((len(class_names), dim))
    bias = np.full(len(class_names), ABSENT_CLASS_SCORE)
    weight[present] = present_weight
    bias[present] = present_bias
    trained = np.zeros(len(class_names), dtype=bool)
    trained[present] = True
    return LinearHead(settings.kind, class_names, weight, bias, trained)


def _fit_class_means(
    unit: np.ndarray, targets: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Cosine similarity to the unit-length class mean is a dot product with it.
    means = np.stack([unit[targets == index].mean(axis=0) for index in present])
    return l2_normalise(means), np.zeros(len(present))


def _fit_logistic(
    unit: np.ndarray, targets: np.ndarray, present: np.ndarray, settings: HeadSettings
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=settings.regularization_c,
        max_iter=settings.max_iter,
        class_weight="balanced" if settings.balanced else None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(unit, targets)
    if any(issubclass(item.category, ConvergenceWarning) for item in caught):
        log.warning(
            "the linear probe did not converge in %d iterations; raise max_iter", settings.max_iter
        )

    # model.classes_ equals `present` (sorted target indices).
    coef = model.coef_
    intercept = model.intercept_
    if len(present) == 2:
        # A binary logistic regression stores one row for the second class;
        # splitting it symmetrically gives the same softmax and ranking.
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept
