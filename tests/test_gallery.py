"""Tests of the per-condition gallery helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.gallery import (
    condition_counts,
    condition_gallery,
    condition_label,
    image_caption,
    similarity_to_nearest_real,
    sort_by_similarity,
)


def _manifest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["r1", "r2", "g1", "g2", "d1", "x1"],
            "condition": ["A", "A", "A", "A", "A", "B"],
            "source": ["real", "real", "synthetic", "synthetic", "synthetic", "real"],
            "generator": ["", "", "gan", "gan", "diffusion", ""],
            "age": [3, np.nan, np.nan, np.nan, np.nan, 5],
        }
    )


def test_condition_counts_per_source():
    result = condition_counts(_manifest()).set_index("condition")

    assert result.loc["A"].tolist() == [2, 3, 5]
    assert result.loc["B"].tolist() == [1, 0, 1]


def test_condition_label_names_counts():
    row = condition_counts(_manifest()).iloc[0]

    assert condition_label(row) == "A (2 real, 3 synthetic)"


def test_condition_gallery_splits_generators():
    result = condition_gallery(_manifest(), "A")

    assert result.real["image_id"].tolist() == ["r1", "r2"]
    assert list(result.synthetic) == ["diffusion", "gan"]
    assert result.synthetic["gan"]["image_id"].tolist() == ["g1", "g2"]
    assert result.n_synthetic == 3


def test_condition_gallery_rejects_unknown_condition():
    with pytest.raises(KeyError, match="'Z'"):
        condition_gallery(_manifest(), "Z")


def test_caption_skips_missing_metadata():
    rows = _manifest()

    assert image_caption(rows.iloc[0]) == "r1 · age: 3.0"
    assert image_caption(rows.iloc[2], similarity=0.5) == "g1 · gan · cos to nearest real 0.500"


def test_synthetic_sorted_by_nearest_real():
    ids = ["r1", "r2", "g1", "g2"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [1.0, 0.05]])
    similarity = similarity_to_nearest_real(vectors, ids, ["g1", "g2"], ["r1", "r2"])
    rows = pd.DataFrame({"image_id": ["g1", "g2", "unscored"]})

    result = sort_by_similarity(rows, similarity)

    assert similarity["g1"] == pytest.approx(0.8)
    assert result["image_id"].tolist() == ["g2", "g1", "unscored"]


def test_similarity_empty_without_real_images():
    result = similarity_to_nearest_real(np.eye(2), ["a", "b"], ["a"], [])

    assert result.empty
