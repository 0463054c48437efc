"""Per-condition galleries: which images to show, in what order, with which captions.

The functions return plain data (frames, strings, similarity scores), and the
pages turn them into thumbnail grids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Optional manifest columns shown in captions when present and not empty.
CAPTION_COLUMNS = ("sub_category", "age", "sex", "gene")


@dataclass(frozen=True)
class ConditionGallery:
    """Images of one condition: the real ones and the synthetic ones per generator."""

    condition: str
    real: pd.DataFrame
    synthetic: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def n_synthetic(self) -> int:
        """Number of synthetic images over all generators."""
        return sum(len(rows) for rows in self.synthetic.values())


def condition_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Count real and synthetic images per condition.

    Returns
    -------
    pandas.DataFrame
        Columns ``condition, real, synthetic, total``, sorted by condition.
    """
    counts = pd.crosstab(manifest["condition"], manifest["source"])
    for source in ("real", "synthetic"):
        if source not in counts.columns:
            counts[source] = 0
    counts = counts[["real", "synthetic"]].astype(int)
    counts["total"] = counts["real"] + counts["synthetic"]
    counts = counts.sort_index()
    counts.index.name = "condition"
    return counts.reset_index()


def condition_label(row: pd.Series) -> str:
    """Return the picker label of one ``condition_counts`` row, e.g. ``'X (3 real, 40 synthetic)'``."""
    return f"{row['condition']} ({row['real']} real, {row['synthetic']} synthetic)"


def condition_gallery(manifest: pd.DataFrame, condition: str) -> ConditionGallery:
    """Split one condition's manifest rows into real rows and synthetic rows per generator.

    Raises
    ------
    KeyError
        If no image has that condition.
    """
    rows = manifest[manifest["condition"] == condition]
    if rows.empty:
        raise KeyError(f"no image has the condition {condition!r}")
    real = rows[rows["source"] == "real"].reset_index(drop=True)
    synthetic_rows = rows[rows["source"] == "synthetic"]
    synthetic = {
        str(generator): group.reset_index(drop=True)
        for generator, group in synthetic_rows.groupby(synthetic_rows["generator"].fillna(""), sort=True)
    }
    return ConditionGallery(condition=condition, real=real, synthetic=synthetic)


def image_caption(row: pd.Series, similarity: float | None = None) -> str:
    """Write the caption of one thumbnail: id, then generator and optional metadata."""
    parts = [str(row["image_id"])]
    generator = row.get("generator")
    if isinstance(generator, str) and generator:
        parts.append(generator)
    for column in CAPTION_COLUMNS:
        value = row.get(column)
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
            continue
        parts.append(f"{column.replace('_', ' ')}: {value}")
    if similarity is not None:
        parts.append(f"cos to nearest real {similarity:.3f}")
    return " · ".join(parts)


def similarity_to_nearest_real(
    vectors: np.ndarray,
    image_ids: Sequence[str],
    synthetic_ids: Sequence[str],
    real_ids: Sequence[str],
) -> pd.Series:
    """Compute each synthetic image's cosine similarity to its nearest real image.

    Parameters
    ----------
    vectors : numpy.ndarray
        Embeddings of shape ``(n_images, dim)`` in the order of ``image_ids``.
    image_ids : sequence of str
        Id of each row of ``vectors``.
    synthetic_ids, real_ids : sequence of str
        The images to score and the real images to compare them with. Ids
        without an embedding are skipped.

    Returns
    -------
    pandas.Series
        Maximum cosine similarity indexed by synthetic image_id (empty when no
        real image has an embedding).
    """
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    synthetic = [i for i in synthetic_ids if i in position]
    real = [i for i in real_ids if i in position]
    if not synthetic or not real:
        return pd.Series(dtype=float, name="similarity")

    vectors = np.asarray(vectors, dtype=np.float64)
    # (n_synthetic, dim) and (n_real, dim), normalised so dot products are cosines.
    synthetic_vectors = vectors[[position[i] for i in synthetic]]
    real_vectors = vectors[[position[i] for i in real]]
    synthetic_vectors /= np.maximum(np.linalg.norm(synthetic_vectors, axis=1, keepdims=True), 1e-12)
    real_vectors /= np.maximum(np.linalg.norm(real_vectors, axis=1, keepdims=True), 1e-12)
    nearest = (synthetic_vectors @ real_vectors.T).max(axis=1)
    return pd.Series(nearest, index=pd.Index(synthetic, name="image_id"), name="similarity")


def sort_by_similarity(rows: pd.DataFrame, similarity: pd.Series) -> pd.DataFrame:
    """Order rows by ``similarity``, highest first, with unscored rows last."""
    scores = rows["image_id"].map(similarity)
    order = np.argsort(-scores.fillna(-np.inf).to_numpy(), kind="stable")
    return rows.iloc[order].reset_index(drop=True)
