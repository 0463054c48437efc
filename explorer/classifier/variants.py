"""Training-set variants: which images a head trains on besides the real training split."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from explorer.classifier.heads import ClassifierError

log = logging.getLogger(__name__)

# Manifest column read by the ``real+filtered`` variant when none is named.
# Higher scores are taken to mean a more faithful synthetic image.
DEFAULT_SCORE_COLUMN = "filter_score"
# Share of each condition's scored synthetic images kept when no threshold is given.
DEFAULT_KEEP_FRACTION = 0.5

_VARIANT_PATTERN = re.compile(
    r"^(?P<base>real|synthetic|real\+synthetic|real\+filtered)"
    r"(?::(?P<detail>[^\s]+))?$"
)


@dataclass(frozen=True)
class TrainingVariant:
    """Training set of a head: the images it trains on beyond a protocol's real training split.

    Parameters
    ----------
    name : str
        Label, also the text :func:`parse_variant` reads back.
    use_real : bool
        Train on the split's real training images.
    use_synthetic : bool
        Train on synthetic images too (all conditions; they are never tested).
    generators : tuple of str
        Restrict synthetic images to these generators; empty keeps all.
    score_column : str or None
        Keep only synthetic images scored in this manifest column.
    min_score : float or None
        With ``score_column``: keep images scoring at least this.
    keep_fraction : float or None
        With ``score_column`` and no ``min_score``: keep this top share of each
        condition's scored synthetic images.
    """

    name: str
    use_real: bool = True
    use_synthetic: bool = False
    generators: tuple[str, ...] = ()
    score_column: str | None = None
    min_score: float | None = None
    keep_fraction: float | None = None

    def params(self) -> dict:
        """Return the settings as a plain dict (for cache keys)."""
        return asdict(self)

    def synthetic_rows(self, manifest: pd.DataFrame) -> np.ndarray:
        """Return the row positions of the synthetic images this variant trains on."""
        if not self.use_synthetic:
            return np.array([], dtype=int)
        frame = manifest[manifest["source"] == "synthetic"]
        if self.generators:
            frame = frame[frame["generator"].isin(self.generators)]
        if self.score_column is not None:
            frame = _filter_by_score(frame, self)
        return frame.index.to_numpy(dtype=int)

    def training_rows(
        self, manifest: pd.DataFrame, real_train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        """Return the rows to train on for one split.

        Synthetic images that share a ``subject_id`` with a test image are left
        out, so a generator output made from a test person cannot leak in.
        """
        rows = [np.asarray(real_train, dtype=int)] if self.use_real else []
        synthetic = self.synthetic_rows(manifest)
        if len(synthetic) and "subject_id" in manifest.columns:
            subjects = manifest["subject_id"].fillna("").astype(str).str.strip()
            test_subjects = set(subjects.iloc[test]) - {""}
            synthetic = synthetic[~subjects.iloc[synthetic].isin(test_subjects).to_numpy()]
        rows.append(synthetic)
        return np.sort(np.concatenate(rows)).astype(int)


REAL_ONLY = TrainingVariant("real")


def parse_variant(text: str, manifest: pd.DataFrame | None = None) -> TrainingVariant:
    """Read a variant from its name.

    Accepted forms:

    - ``real``: real training images only.
    - ``real+synthetic`` and ``real+synthetic:GENERATOR``: plus all synthetic
      images, or those of one generator.
    - ``real+filtered``: plus the top half of each condition's synthetic images
      by the ``filter_score`` column. ``real+filtered:COLUMN`` names another
      column, and ``real+filtered:COLUMN>=VALUE`` keeps scores of at least VALUE.
    - ``synthetic`` and ``synthetic:GENERATOR``: synthetic images only, tested
      on real ones.

    Parameters
    ----------
    text : str
        The variant name.
    manifest : pandas.DataFrame, optional
        When given, generator names and score columns are checked against it.
    """
    match = _VARIANT_PATTERN.match(text.strip())
    if match is None:
        raise ClassifierError(
            f"training-set variant {text!r} is invalid; use real, real+synthetic, "
            "real+synthetic:GENERATOR, real+filtered[:COLUMN[>=VALUE]], synthetic or "
            "synthetic:GENERATOR"
        )
    base, detail = match["base"], match["detail"]
    if base == "real":
        if detail:
            raise ClassifierError(f"variant {text!r} is invalid: 'real' takes no ':' detail")
        variant = REAL_ONLY
    elif base in ("real+synthetic", "synthetic"):
        generators = (detail,) if detail else ()
        variant = TrainingVariant(
            text.strip(), use_real=base != "synthetic", use_synthetic=True, generators=generators
        )
    else:
        variant = _parse_filtered(text.strip(), detail)
    if manifest is not None:
        check_variant(variant, manifest)
    return variant


def available_variants(manifest: pd.DataFrame) -> list[TrainingVariant]:
    """List the variants that make sense for ``manifest``.

    ``real`` always; with synthetic images also ``real+synthetic``, one
    ``real+synthetic:GENERATOR`` per generator, ``real+filtered`` when the
    ``filter_score`` column has values, ``synthetic`` and one
    ``synthetic:GENERATOR`` per generator.
    """
    variants = [REAL_ONLY]
    synthetic = manifest[manifest["source"] == "synthetic"]
    if synthetic.empty:
        return variants
    generators = sorted(set(synthetic["generator"].dropna().astype(str)) - {""})
    variants.append(parse_variant("real+synthetic"))
    if len(generators) > 1:
        variants.extend(parse_variant(f"real+synthetic:{name}") for name in generators)
    if DEFAULT_SCORE_COLUMN in synthetic.columns and synthetic[DEFAULT_SCORE_COLUMN].notna().any():
        variants.append(parse_variant("real+filtered"))
    variants.append(parse_variant("synthetic"))
    if len(generators) > 1:
        variants.extend(parse_variant(f"synthetic:{name}") for name in generators)
    return variants


def check_variant(variant: TrainingVariant, manifest: pd.DataFrame) -> None:
    """Raise :class:`ClassifierError` when ``variant`` names data ``manifest`` lacks."""
    if not variant.use_synthetic:
        return
    synthetic = manifest[manifest["source"] == "synthetic"]
    if synthetic.empty:
        raise ClassifierError(
            f"variant {variant.name!r} trains on synthetic images, but the dataset has none; "
            "use the 'real' variant"
        )
    known = sorted(set(synthetic["generator"].dropna().astype(str)) - {""})
    unknown = [name for name in variant.generators if name not in known]
    if unknown:
        raise ClassifierError(
            f"variant {variant.name!r} names generator(s) {unknown} not in the dataset; "
            f"known generators: {', '.join(known) or 'none'}"
        )
    if variant.score_column is not None:
        if variant.score_column not in manifest.columns:
            raise ClassifierError(
                f"variant {variant.name!r} filters on the column {variant.score_column!r}, "
                "which the manifest lacks; add a fidelity score column or use real+synthetic"
            )
        scores = pd.to_numeric(synthetic[variant.score_column], errors="coerce")
        if scores.notna().sum() == 0:
            raise ClassifierError(
                f"the column {variant.score_column!r} has no numeric score for any synthetic image"
            )


def _parse_filtered(text: str, detail: str | None) -> TrainingVariant:
    if not detail:
        return TrainingVariant(
            text,
            use_synthetic=True,
            score_column=DEFAULT_SCORE_COLUMN,
            keep_fraction=DEFAULT_KEEP_FRACTION,
        )
    column, _, threshold = detail.partition(">=")
    if not threshold:
        return TrainingVariant(
            text, use_synthetic=True, score_column=column, keep_fraction=DEFAULT_KEEP_FRACTION
        )
    try:
        min_score = float(threshold)
    except ValueError:
        raise ClassifierError(
            f"variant {text!r} is invalid: the threshold {threshold!r} is not a number"
        ) from None
    return TrainingVariant(text, use_synthetic=True, score_column=column, min_score=min_score)


def _filter_by_score(frame: pd.DataFrame, variant: TrainingVariant) -> pd.DataFrame:
    if variant.score_column not in frame.columns:
        raise ClassifierError(
            f"variant {variant.name!r} filters on the column {variant.score_column!r}, "
            "which the manifest lacks"
        )
    scores = pd.to_numeric(frame[variant.score_column], errors="coerce")
    scored = frame[scores.notna()].assign(_score=scores[scores.notna()])
    if variant.min_score is not None:
        selected = scored[scored["_score"] >= variant.min_score]
    else:
        # Keep the best share of each condition's images, at least one.
        keep = variant.keep_fraction or DEFAULT_KEEP_FRACTION
        ranked = scored.groupby("condition")["_score"].rank(ascending=False, method="first")
        sizes = scored.groupby("condition")["_score"].transform("size")
        selected = scored[ranked <= np.maximum(1, np.ceil(sizes * keep))]
    log.info(
        "variant %s keeps %d of %d synthetic images by %s",
        variant.name, len(selected), len(frame), variant.score_column,
    )
    return selected.drop(columns="_score")
