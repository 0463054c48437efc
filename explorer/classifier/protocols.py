"""Evaluation protocols: which real images train and which test, split by split.

Every protocol splits only the real images. Synthetic images are added to the
training side later by a training-set variant and never reach a test set.
Images of one person (same ``subject_id``) always stay on one side of a split;
an image without a known subject counts as its own person.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from explorer.classifier.heads import ClassifierError

log = logging.getLogger(__name__)

# A condition needs real images of at least this many subjects to be tested:
# one to learn from and one to test on.
MIN_SUBJECTS_TO_TEST = 2
MIN_FOLDS = 2

REQUIRED_COLUMNS = ("image_id", "condition", "source")


@dataclass(frozen=True)
class Split:
    """One train/test partition of the real images.

    Attributes
    ----------
    name : str
        Label shown in tables (``fold 1``, ``split 3``).
    train : numpy.ndarray
        Row positions of the real training images.
    test : numpy.ndarray
        Row positions of the real test images.
    """

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class ProtocolSplits:
    """The splits a protocol made, and what it could not test.

    Attributes
    ----------
    splits : list of Split
    untested : dict of str to str
        Condition -> reason it is only ever used for training.
    notes : list of str
        Warnings worth showing next to the results (clamped fold counts).
    """

    splits: list[Split]
    untested: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _ProtocolParams:
    """Mixin of the protocol dataclasses: their settings as a plain dict."""

    name: ClassVar[str]

    def params(self) -> dict:
        """Return the settings as a plain dict (for cache keys and tables)."""
        return {"protocol": self.name, **asdict(self)}


@dataclass(frozen=True)
class RDFaceProtocol(_ProtocolParams):
    """RDFace evaluation: fixed stratified test part, k-fold models on the rest.

    Conditions with real images of a single subject (in RDFace: a single real
    image) always go to training. For the others, ``test_fraction`` of each
    condition's subjects form a fixed test part, drawn with ``seed``. The
    training part is split into ``n_folds`` stratified folds. The model of each
    fold trains on the other folds and is scored on the fixed test part. The
    spread over folds thus shows how much the result depends on the training images.
    """

    name: ClassVar[str] = "rdface"
    test_fraction: float = 0.25
    n_folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ClassifierError(
                f"test_fraction must be between 0 and 1 (exclusive), got {self.test_fraction}"
            )
        _check_count("n_folds", self.n_folds, MIN_FOLDS)

    def make_splits(self, manifest: pd.DataFrame) -> ProtocolSplits:
        """Split the real rows of ``manifest`` into the fixed test part and k folds."""
        real = _real_rows(manifest)
        groups = subject_groups(manifest)
        testable, untested = _testable_conditions(manifest, real, groups, "a single subject")
        group_condition = _group_condition(manifest, real, groups)
        rng = np.random.default_rng(self.seed)

        # Fixed test part: per condition, a share of its subjects (at least one,
        # and never all of them).
        test_groups: list[str] = []
        for condition in testable:
            condition_groups = _condition_groups(group_condition, condition)
            n_test = int(round(len(condition_groups) * self.test_fraction))
            n_test = min(max(n_test, 1), len(condition_groups) - 1)
            test_groups.extend(rng.choice(condition_groups, size=n_test, replace=False))
        is_test = np.isin(groups[real], test_groups)
        test = real[is_test]
        train_part = real[~is_test]

        notes: list[str] = []
        folds = _stratified_group_folds(
            manifest, train_part, groups, self.n_folds, self.seed, notes, "training part"
        )
        splits = []
        for number, held_out in enumerate(folds, start=1):
            train = np.setdiff1d(train_part, held_out)
            splits.append(Split(f"fold {number}", train, test))
        if not folds:
            splits.append(Split("all training", train_part, test))
        return ProtocolSplits(splits, untested, notes)


@dataclass(frozen=True)
class GroupedKFoldProtocol(_ProtocolParams):
    """Stratified k-fold cross-validation grouped by subject.

    Every testable real image is tested once. Conditions with real images of a
    single subject stay in training in every fold.
    """

    name: ClassVar[str] = "grouped"
    n_folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        _check_count("n_folds", self.n_folds, MIN_FOLDS)

    def make_splits(self, manifest: pd.DataFrame) -> ProtocolSplits:
        """Split the real rows of ``manifest`` into grouped, stratified folds."""
        real = _real_rows(manifest)
        groups = subject_groups(manifest)
        testable, untested = _testable_conditions(manifest, real, groups, "a single subject")
        conditions = manifest["condition"].to_numpy()
        testable_rows = real[np.isin(conditions[real], testable)]

        notes: list[str] = []
        folds = _stratified_group_folds(
            manifest, testable_rows, groups, self.n_folds, self.seed, notes, "testable images"
        )
        if not folds:
            raise ClassifierError(
                "grouped k-fold needs at least two subjects in some condition; "
                "this dataset has none, so use the rare-condition protocol or add images"
            )
        splits = [
            Split(f"fold {number}", np.setdiff1d(real, test), test)
            for number, test in enumerate(folds, start=1)
        ]
        return ProtocolSplits(splits, untested, notes)


@dataclass(frozen=True)
class RareGalleryProtocol(_ProtocolParams):
    """Gallery/test splits for rare conditions, as GestaltMatcher evaluates them.

    In each of ``n_splits`` repetitions, one subject per condition is drawn as
    the test case and every other real image forms the gallery the head is
    trained on. Conditions with a single subject cannot be tested; they stay in
    the gallery as distractors and are reported as not evaluable.
    """

    name: ClassVar[str] = "rare"
    n_splits: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        _check_count("n_splits", self.n_splits, 1)

    def make_splits(self, manifest: pd.DataFrame) -> ProtocolSplits:
        """Draw one test subject per evaluable condition, ``n_splits`` times."""
        real = _real_rows(manifest)
        groups = subject_groups(manifest)
        testable, untested = _testable_conditions(
            manifest, real, groups, "not evaluable: a single subject"
        )
        if not testable:
            raise ClassifierError(
                "no condition has real images of two or more subjects, so none is evaluable "
                "in the rare-condition protocol; add images or subject ids"
            )
        rng = np.random.default_rng(self.seed)
        group_condition = _group_condition(manifest, real, groups)
        condition_groups = {
            condition: _condition_groups(group_condition, condition)
            for condition in testable
        }
        splits = []
        for number in range(1, self.n_splits + 1):
            test_groups = [rng.choice(options) for options in condition_groups.values()]
            is_test = np.isin(groups[real], test_groups)
            splits.append(Split(f"split {number}", real[~is_test], real[is_test]))
        return ProtocolSplits(splits, untested, [])


Protocol = RDFaceProtocol | GroupedKFoldProtocol | RareGalleryProtocol

PROTOCOLS: dict[str, type] = {
    RDFaceProtocol.name: RDFaceProtocol,
    GroupedKFoldProtocol.name: GroupedKFoldProtocol,
    RareGalleryProtocol.name: RareGalleryProtocol,
}


def make_protocol(name: str, **params) -> Protocol:
    """Build a protocol by name (``rdface``, ``grouped`` or ``rare``) with its settings."""
    if name not in PROTOCOLS:
        raise ClassifierError(
            f"protocol {name!r} is unknown; use one of {', '.join(PROTOCOLS)}"
        )
    return PROTOCOLS[name](**params)


def subject_groups(manifest: pd.DataFrame) -> np.ndarray:
    """Return a person label per row: ``subject_id`` where known, else the image id.

    Rows whose ``subject_id`` is missing, empty or NaN get a label of their own,
    so an image of unknown origin never shares a group with another image.
    """
    image_ids = manifest["image_id"].astype(str).to_numpy()
    if "subject_id" not in manifest.columns:
        return np.array([f"image:{image_id}" for image_id in image_ids], dtype=object)
    subjects = manifest["subject_id"].fillna("").astype(str).str.strip().to_numpy()
    return np.array(
        [
            f"subject:{subject}" if subject else f"image:{image_id}"
            for subject, image_id in zip(subjects, image_ids, strict=True)
        ],
        dtype=object,
    )


def check_manifest(manifest: pd.DataFrame, n_vectors: int | None = None) -> None:
    """Raise :class:`ClassifierError` unless ``manifest`` can be benchmarked."""
    missing = [column for column in REQUIRED_COLUMNS if column not in manifest.columns]
    if missing:
        raise ClassifierError(
            f"the manifest lacks the column(s) {missing}; a benchmark needs {list(REQUIRED_COLUMNS)}"
        )
    if n_vectors is not None and n_vectors != len(manifest):
        raise ClassifierError(
            f"there are {n_vectors} embeddings for {len(manifest)} manifest rows; "
            "pass one embedding per row, in manifest order"
        )
    if not manifest.index.equals(pd.RangeIndex(len(manifest))):
        raise ClassifierError("the manifest index must be 0..n-1; call reset_index(drop=True)")
    if not (manifest["source"] == "real").any():
        raise ClassifierError(
            "the manifest has no real images, but every protocol trains and tests on real images; "
            "add real images of the conditions (for example real/<condition>/<image>)"
        )


def _check_count(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ClassifierError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def _real_rows(manifest: pd.DataFrame) -> np.ndarray:
    check_manifest(manifest)
    return np.flatnonzero(manifest["source"].to_numpy() == "real")


def _group_condition(manifest: pd.DataFrame, rows: np.ndarray, groups: np.ndarray) -> pd.Series:
    # The condition each person is filed under (their most common label, ties
    # broken by name), so a subject id that appears under two conditions still
    # lands on one side of every split.
    frame = pd.DataFrame({"group": groups[rows], "condition": manifest["condition"].to_numpy()[rows]})
    counts = frame.value_counts().rename("count").reset_index()
    counts = counts.sort_values(["group", "count", "condition"], ascending=[True, False, True])
    first = counts.drop_duplicates("group")
    return pd.Series(first["condition"].to_numpy(), index=first["group"].to_numpy())


def _condition_groups(group_condition: pd.Series, condition: str) -> np.ndarray:
    return np.sort(group_condition.index[group_condition == condition].to_numpy())


def _testable_conditions(
    manifest: pd.DataFrame, real: np.ndarray, groups: np.ndarray, reason: str
) -> tuple[list[str], dict[str, str]]:
    group_condition = _group_condition(manifest, real, groups)
    counts = group_condition.value_counts()
    testable = sorted(counts.index[counts >= MIN_SUBJECTS_TO_TEST])
    untested = {condition: reason for condition in sorted(counts.index[counts < MIN_SUBJECTS_TO_TEST])}
    if untested:
        log.info("%d condition(s) only train (%s): %s", len(untested), reason, ", ".join(untested))
    return testable, untested


def _stratified_group_folds(
    manifest: pd.DataFrame,
    rows: np.ndarray,
    groups: np.ndarray,
    n_folds: int,
    seed: int,
    notes: list[str],
    part_name: str,
) -> list[np.ndarray]:
    """Return the held-out rows of each fold, or [] when fewer than two folds fit."""
    from sklearn.model_selection import StratifiedGroupKFold

    if len(rows) == 0:
        return []
    labels = manifest["condition"].to_numpy()[rows]
    row_groups = groups[rows]
    group_condition = _group_condition(manifest, rows, groups)
    subjects_per_condition = group_condition.value_counts()

    # scikit-learn requires folds <= subjects and folds <= the largest class.
    limit = min(len(group_condition), int(pd.Series(labels).value_counts().max()))
    folds = min(n_folds, limit)
    counts_text = ", ".join(
        f"{condition} ({count})" for condition, count in subjects_per_condition.sort_index().items()
    )
    if folds < n_folds:
        message = (
            f"{n_folds} folds need {n_folds} subjects in all and {n_folds} images in some "
            f"condition of the {part_name}; using {folds} fold(s). Subjects per condition: "
            f"{counts_text}"
        )
        notes.append(message)
        log.warning(message)
    if folds < MIN_FOLDS:
        return []

    small = subjects_per_condition[subjects_per_condition < folds].sort_index()
    if len(small):
        # Usual for rare conditions, so this is a note on the results, not a warning.
        listed = ", ".join(f"{condition} ({count})" for condition, count in small.items())
        message = (
            f"{len(small)} condition(s) of the {part_name} have fewer subjects than the "
            f"{folds} folds, so some folds lack them: {listed}"
        )
        notes.append(message)
        log.info(message)

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # The small-class warning is replaced by the note above, which names them.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [rows[held_out] for _, held_out in splitter.split(rows, labels, row_groups)]
