"""Tests of the embedding map: frames, downsampling, figures, selections, neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.errors import ProjectionError
from explorer.maps import (
    MapFilters,
    build_map_figure,
    condition_centroids,
    downsample_for_drawing,
    filter_map_frame,
    map_frame,
    nearest_neighbours,
    points_in_polygon,
    selection_image_ids,
    selection_table,
)


def _manifest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["r1", "r2", "s1", "s2", "r3", "s3"],
            "path": [f"{i}.png" for i in range(6)],
            "condition": ["A", "A", "A", "B", "B", "B"],
            "source": ["real", "real", "synthetic", "synthetic", "real", "synthetic"],
            "generator": ["", "", "gan", "gan", "", "diffusion"],
        }
    )


def _frame() -> pd.DataFrame:
    manifest = _manifest()
    coordinates = np.array([[0, 0], [1, 0], [0, 1], [5, 5], [6, 5], [5, 6]], dtype=float)
    return map_frame(manifest, manifest["image_id"].tolist(), coordinates)


def test_map_frame_joins_coordinates_by_id():
    manifest = _manifest()
    ids = ["s3", "r1"]
    coordinates = np.array([[9.0, 8.0], [1.0, 2.0]])

    result = map_frame(manifest, ids, coordinates)

    assert result["image_id"].tolist() == ["r1", "s3"]
    assert result.loc[0, ["x", "y"]].tolist() == [1.0, 2.0]
    assert result.loc[1, ["x", "y"]].tolist() == [9.0, 8.0]


def test_map_frame_rejects_wrong_coordinate_shape():
    manifest = _manifest()
    with pytest.raises(ProjectionError, match=r"shape \(2, 3\), expected \(2, 2\)"):
        map_frame(manifest, ["r1", "r2"], np.zeros((2, 3)))


def test_filter_keeps_real_rows_for_real_generator_label():
    frame = _frame()

    result = filter_map_frame(frame, MapFilters(conditions=("B",), generators=("(real)", "gan")))

    assert result["image_id"].tolist() == ["s2", "r3"]


def test_second_trace_selection_selects_right_row():
    frame = _frame()
    figure = build_map_figure(frame, color_by="source", webgl=False)
    # Trace 0 is "real", trace 1 is "synthetic"; point 1 of trace 1 is s2.
    second_trace = figure.data[1]
    assert second_trace.name == "synthetic"
    point_number = 1
    event = {
        "points": [
            {
                "curve_number": 1,
                "point_number": point_number,
                "point_index": point_number,
                "x": float(second_trace.x[point_number]),
                "y": float(second_trace.y[point_number]),
                "customdata": list(second_trace.customdata[point_number]),
            }
        ],
        "point_indices": [point_number],
        "box": [],
        "lasso": [],
    }

    result = selection_image_ids(event, frame)

    assert result == ["s2"]
    # Row 1 of the manifest (the index a per-trace number would wrongly pick) is r2.
    assert _manifest().loc[_manifest()["image_id"] == result[0], "condition"].item() == "B"


def test_selection_ignores_centroid_points():
    frame = _frame()
    event = {"points": [{"curve_number": 5, "point_number": 0, "customdata": None}], "box": [], "lasso": []}

    assert selection_image_ids(event, frame) == []


def test_box_selection_counts_points_not_drawn():
    frame = _frame()
    drawn = frame.iloc[[0]]  # only r1 is drawn
    event = {"points": [], "box": [{"xref": "x", "yref": "y", "x": [-0.5, 1.5], "y": [-0.5, 1.5]}], "lasso": []}

    result = selection_image_ids(event, frame)

    assert len(drawn) == 1
    assert result == ["r1", "r2", "s1"]


def test_lasso_selection_uses_polygon():
    frame = _frame()
    triangle = {"x": [4.0, 8.0, 4.0], "y": [4.0, 4.0, 8.0]}
    event = {"points": [], "box": [], "lasso": [triangle]}

    result = selection_image_ids(event, frame)

    assert result == ["s2", "r3", "s3"]


def test_points_in_polygon_concave_shape():
    # An L shape: the notch at (1.5, 1.5) is outside.
    polygon = {"x": [0, 2, 2, 1, 1, 0], "y": [0, 0, 1, 1, 2, 2]}
    x = np.array([0.5, 1.5, 1.5, 0.5])
    y = np.array([0.5, 0.5, 1.5, 1.5])

    result = points_in_polygon(x, y, polygon)

    assert result.tolist() == [True, True, False, True]


def test_downsample_keeps_every_condition_and_is_deterministic():
    rng = np.random.default_rng(0)
    n = 5_000
    conditions = np.where(np.arange(n) < 4, "rare", "common")
    manifest = pd.DataFrame(
        {
            "image_id": [f"img{i}" for i in range(n)],
            "condition": conditions,
            "source": "synthetic",
            "generator": "gan",
        }
    )
    frame = map_frame(manifest, manifest["image_id"].tolist(), rng.normal(size=(n, 2)))

    first = downsample_for_drawing(frame, max_points=100)
    second = downsample_for_drawing(frame.iloc[::-1], max_points=100)

    assert len(first) <= 100
    assert len(first) >= 95
    assert (first["condition"] == "rare").sum() == 3
    assert sorted(first["image_id"]) == sorted(second["image_id"])


def test_downsample_returns_small_frame_unchanged():
    frame = _frame()

    result = downsample_for_drawing(frame, max_points=10)

    assert result is frame


def test_figure_uses_webgl_and_one_trace_per_colour():
    frame = _frame()

    figure = build_map_figure(frame, color_by="condition", webgl=True, centroids=condition_centroids(frame))

    names = [trace.name for trace in figure.data]
    assert names == ["A", "B", "real (circle)", "synthetic (diamond)", "centroids"]
    assert figure.data[0].type == "scattergl"
    assert list(figure.data[0].marker.symbol) == ["circle", "circle", "diamond"]
    assert figure.data[0].customdata[2][0] == "s1"


def test_centroids_per_condition_and_source():
    frame = _frame()

    result = condition_centroids(frame).set_index(["condition", "source"])

    assert result.loc[("A", "real"), "x"] == pytest.approx(0.5)
    assert result.loc[("A", "real"), "n_points"] == 2
    assert result.loc[("B", "synthetic"), "y"] == pytest.approx(5.5)


def test_nearest_neighbours_by_cosine():
    ids = ["q", "a", "b", "c"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [2.0, 0.5]])

    result = nearest_neighbours(vectors, ids, "q", candidate_ids=["a", "b", "c", "q"], k=2)

    assert result["image_id"].tolist() == ["b", "c"]
    assert result["similarity"].iloc[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))


def test_selection_table_keeps_selection_order():
    result = selection_table(_manifest(), ["s3", "r1", "missing"])

    assert result["image_id"].tolist() == ["s3", "r1"]
    assert result["path"].tolist() == ["5.png", "0.png"]
