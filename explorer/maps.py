"""Embedding maps: the plotly scatter, its selections, centroids and nearest neighbours.

Everything here is a pure function of its inputs, so the Map page, the notebooks
and the tests draw the same figure from the same call. A *map frame* is the
manifest joined to 2-D projection coordinates: one row per image that has an
embedding, with columns ``image_id, condition, source, generator, x, y``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.errors import ProjectionError
from explorer.text import count_noun

logger = logging.getLogger(__name__)

# Columns of a map frame, in order. The first four are shown on hover and
# carried in each point's customdata, whose first entry is always the image_id.
HOVER_COLUMNS = ("image_id", "condition", "source", "generator")
MAP_COLUMNS = (*HOVER_COLUMNS, "x", "y")
COLOR_FIELDS = ("condition", "source", "generator")

# Scatter traces switch to WebGL (Scattergl) from this many drawn points on,
# where SVG rendering in the browser becomes slow.
WEBGL_MIN_POINTS = 1_000

# Above this many points the page draws a deterministic subsample of this size.
# Selections still count every point inside the selected region.
MAX_DRAWN_POINTS = 20_000

# A downsampled map keeps up to this many points of every condition, so that no
# condition disappears from the drawing.
MIN_DRAWN_PER_CONDITION = 3

SOURCE_SYMBOLS = {"real": "circle", "synthetic": "diamond"}
REAL_GENERATOR_LABEL = "(real)"
SOURCE_COLORS = {"real": "#1f77b4", "synthetic": "#ff7f0e"}


@dataclass(frozen=True)
class MapFilters:
    """Row filter of a map. An empty tuple keeps every value of that column."""

    conditions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    generators: tuple[str, ...] = ()


def map_frame(manifest: pd.DataFrame, image_ids: Sequence[str], coordinates: np.ndarray) -> pd.DataFrame:
    """Join projection coordinates onto manifest rows by image_id.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Manifest with at least the columns ``image_id, condition, source, generator``.
    image_ids : sequence of str
        Ids of the projected points, in the row order of ``coordinates``.
    coordinates : numpy.ndarray
        Array of shape ``(n_points, 2)``.

    Returns
    -------
    pandas.DataFrame
        One row per manifest image that has coordinates, in manifest order, with
        the columns of ``MAP_COLUMNS``. Images without coordinates (for example
        images whose embedding failed) are left out.

    Raises
    ------
    ProjectionError
        If ``coordinates`` is not of shape ``(len(image_ids), 2)``.
    """
    coordinates = np.asarray(coordinates, dtype=float)
    if coordinates.ndim != 2 or coordinates.shape != (len(image_ids), 2):
        raise ProjectionError(
            f"map coordinates have shape {coordinates.shape}, expected ({len(image_ids)}, 2) "
            "(one x, y pair per projected image). Rebuild the projection."
        )

    points = pd.DataFrame({"image_id": list(image_ids), "x": coordinates[:, 0], "y": coordinates[:, 1]})
    columns = list(HOVER_COLUMNS)
    frame = manifest[columns].merge(points, on="image_id", how="inner", validate="one_to_one")
    frame["generator"] = frame["generator"].fillna("").astype(str)
    missing = len(manifest) - len(frame)
    if missing:
        logger.info("map leaves out %d manifest images without coordinates", missing)
    return frame.reset_index(drop=True)


def filter_map_frame(frame: pd.DataFrame, filters: MapFilters) -> pd.DataFrame:
    """Keep the rows whose condition, source and generator pass ``filters``."""
    keep = np.ones(len(frame), dtype=bool)
    if filters.conditions:
        keep &= frame["condition"].isin(filters.conditions).to_numpy()
    if filters.sources:
        keep &= frame["source"].isin(filters.sources).to_numpy()
    if filters.generators:
        generators = [REAL_GENERATOR_LABEL if g == "" else g for g in filters.generators]
        labels = frame["generator"].replace("", REAL_GENERATOR_LABEL)
        keep &= labels.isin(generators).to_numpy()
    return frame.loc[keep].reset_index(drop=True)


def downsample_for_drawing(
    frame: pd.DataFrame,
    max_points: int = MAX_DRAWN_POINTS,
    min_per_condition: int = MIN_DRAWN_PER_CONDITION,
) -> pd.DataFrame:
    """Pick at most ``max_points`` rows to draw, keeping every condition represented.

    The choice is deterministic: rows are ranked by a hash of their image_id, so
    the same image stays drawn when filters change. Each condition first gets
    ``min(count, min_per_condition)`` rows (one row each if even that exceeds
    ``max_points``). The remaining budget is shared in proportion to what each
    condition has left.

    Returns
    -------
    pandas.DataFrame
        The chosen rows in their original order (``frame`` itself when it is
        already small enough).
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    if len(frame) <= max_points:
        return frame

    counts = frame["condition"].value_counts()
    floor = np.minimum(counts.to_numpy(), min_per_condition)
    if floor.sum() > max_points:
        floor = np.minimum(counts.to_numpy(), 1)
    budget = max(max_points - int(floor.sum()), 0)
    remaining = counts.to_numpy() - floor
    extra = np.floor(remaining * (budget / max(int(remaining.sum()), 1))).astype(int)
    quota = pd.Series(floor + extra, index=counts.index)

    # Rank inside each condition by a fixed hash of the id (pandas' default hash key).
    priority = pd.util.hash_pandas_object(frame["image_id"], index=False).to_numpy()
    ranked = pd.DataFrame({"condition": frame["condition"].to_numpy(), "priority": priority})
    ranked = ranked.sort_values(["condition", "priority"], kind="stable")
    rank_in_condition = ranked.groupby("condition", sort=False).cumcount()
    chosen = rank_in_condition.to_numpy() < quota.reindex(ranked["condition"]).to_numpy()
    chosen_positions = np.sort(ranked.index.to_numpy()[chosen])
    logger.info("map draws %d of %d points", len(chosen_positions), len(frame))
    return frame.iloc[chosen_positions]


def condition_centroids(frame: pd.DataFrame) -> pd.DataFrame:
    """Compute the mean map position of each condition's real and synthetic points.

    Returns
    -------
    pandas.DataFrame
        Columns ``condition, source, x, y, n_points``, one row per (condition,
        source) pair present in ``frame``.
    """
    grouped = frame.groupby(["condition", "source"], sort=True)
    centroids = grouped[["x", "y"]].mean()
    centroids["n_points"] = grouped.size()
    return centroids.reset_index()


def _palette() -> list[str]:
    import plotly.express as px

    qualitative = px.colors.qualitative
    return [*qualitative.Plotly, *qualitative.D3, *qualitative.Dark24, *qualitative.Light24, *qualitative.Alphabet]


def color_map(values: Sequence[str], color_by: str) -> dict[str, str]:
    """Assign a colour to each distinct value, stable for a given set of values."""
    distinct = sorted(set(values))
    if color_by == "source":
        return {value: SOURCE_COLORS.get(value, "#7f7f7f") for value in distinct}
    palette = _palette()
    return {value: palette[i % len(palette)] for i, value in enumerate(distinct)}


def build_map_figure(
    frame: pd.DataFrame,
    *,
    color_by: str = "condition",
    centroids: pd.DataFrame | None = None,
    webgl: bool | None = None,
    height: int = 620,
):
    """Build the plotly scatter of a map frame.

    There is one trace per value of ``color_by``, and the marker symbol shows real
    (circle) vs synthetic (diamond). Each point's customdata is
    ``[image_id, condition, source, generator]``, so a selection event can be
    mapped to rows by id whatever the trace order (plotly numbers points per
    trace). When ``centroids`` is given, each condition's real and synthetic
    centroids are drawn as open markers joined by a line.

    Parameters
    ----------
    frame : pandas.DataFrame
        Map frame (see ``map_frame``) of the points to draw.
    color_by : {"condition", "source", "generator"}
        Column that sets the colour.
    centroids : pandas.DataFrame, optional
        Output of ``condition_centroids``.
    webgl : bool, optional
        Use ``Scattergl``. By default it is used from ``WEBGL_MIN_POINTS`` points on.
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    if color_by not in COLOR_FIELDS:
        raise ValueError(f"color_by must be one of {', '.join(COLOR_FIELDS)}, got {color_by!r}")
    if webgl is None:
        webgl = len(frame) >= WEBGL_MIN_POINTS
    trace_type = "scattergl" if webgl else "scatter"
    marker_size = 8 if len(frame) < 2_000 else 5

    labels = frame[color_by].astype(str)
    if color_by == "generator":
        labels = labels.replace("", REAL_GENERATOR_LABEL)
    colors = color_map(labels.tolist(), color_by)
    hovertemplate = (
        "<b>%{customdata[0]}</b><br>condition: %{customdata[1]}<br>"
        "source: %{customdata[2]}<br>generator: %{customdata[3]}<extra></extra>"
    )

    # Slice whole-frame arrays per colour value instead of grouping frames: (n_points,) each.
    codes, values = pd.factorize(labels.to_numpy(), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    x = frame["x"].to_numpy()
    y = frame["y"].to_numpy()
    # Fixed-width string arrays, not object arrays: plotly copies them in one block.
    symbols = frame["source"].map(SOURCE_SYMBOLS).fillna("square").to_numpy(dtype=str)
    customdata = frame[list(HOVER_COLUMNS)].astype(str).to_numpy(dtype=str)

    traces: list[dict] = []
    for i, label in enumerate(values):
        rows = order[bounds[i] : bounds[i + 1]]
        traces.append(
            {
                "type": trace_type,
                "x": x[rows],
                "y": y[rows],
                "mode": "markers",
                "name": str(label),
                "legendgroup": str(label),
                "marker": {"color": colors[label], "symbol": symbols[rows], "size": marker_size, "line": {"width": 0}},
                "customdata": customdata[rows],
                "hovertemplate": hovertemplate,
            }
        )

    # Legend entries for the marker symbols, without points.
    for source, symbol in SOURCE_SYMBOLS.items():
        traces.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "name": f"{source} ({symbol})",
                "legendgroup": f"symbol-{source}",
                "marker": {"color": "#555555", "symbol": symbol, "size": 9},
                "hoverinfo": "skip",
            }
        )

    if centroids is not None and len(centroids):
        traces.append(_centroid_trace(centroids))

    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "dragmode": "lasso",
        "legend": {"itemsizing": "constant", "title": {"text": color_by}},
        "uirevision": "map",
        "xaxis": {"title": {"text": "UMAP 1"}, "showticklabels": False, "zeroline": False},
        "yaxis": {"title": {"text": "UMAP 2"}, "showticklabels": False, "zeroline": False},
    }
    # Validating every point array takes about a second at 20,000 points. The
    # trace dicts are fixed by this function, and tests check their structure.
    return go.Figure(data=traces, layout=layout, _validate=False)


def _centroid_trace(centroids: pd.DataFrame) -> dict:
    """Describe centroid markers and a real-to-synthetic line per condition as one trace."""
    # Per condition: the real centroid, then the synthetic one, then a gap that breaks the line.
    ordered = centroids.sort_values(["condition", "source"], kind="stable").reset_index(drop=True)
    gap_after = ordered["condition"].ne(ordered["condition"].shift(-1)).to_numpy()
    xs: list[float | None] = []
    ys: list[float | None] = []
    texts: list[str | None] = []
    symbols: list[str] = []
    for condition, source, x, y, n_points, is_last in zip(
        ordered["condition"], ordered["source"], ordered["x"], ordered["y"], ordered["n_points"], gap_after
    ):
        xs.append(float(x))
        ys.append(float(y))
        texts.append(f"{condition}: {source} centroid of {count_noun(int(n_points), 'image')}")
        symbols.append(SOURCE_SYMBOLS.get(source, "square") + "-open")
        if is_last:
            xs.append(None)
            ys.append(None)
            texts.append(None)
            symbols.append("circle-open")

    return {
        "type": "scatter",
        "x": xs,
        "y": ys,
        "mode": "lines+markers",
        "name": "centroids",
        "line": {"color": "rgba(40, 40, 40, 0.6)", "width": 1.5},
        "marker": {"color": "#222222", "symbol": symbols, "size": 13, "line": {"width": 2}},
        "text": texts,
        "hovertemplate": "%{text}<extra></extra>",
        "connectgaps": False,
    }


def points_in_box(x: np.ndarray, y: np.ndarray, box: Mapping) -> np.ndarray:
    """Return a boolean mask of the points inside a box selection.

    ``box`` has ``x`` and ``y`` lists holding the two corner coordinates in data
    units, as in a Streamlit plotly selection event.
    """
    box_x = [float(v) for v in box.get("x", [])]
    box_y = [float(v) for v in box.get("y", [])]
    if len(box_x) < 2 or len(box_y) < 2:
        return np.zeros(len(x), dtype=bool)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return (x >= min(box_x)) & (x <= max(box_x)) & (y >= min(box_y)) & (y <= max(box_y))


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: Mapping) -> np.ndarray:
    """Return a boolean mask of the points inside a lasso polygon (even-odd rule).

    ``polygon`` has ``x`` and ``y`` lists of vertex coordinates in data units.
    """
    px = np.asarray([float(v) for v in polygon.get("x", [])])
    py = np.asarray([float(v) for v in polygon.get("y", [])])
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = np.zeros(len(x), dtype=bool)
    if len(px) < 3:
        return inside

    # Ray casting: count crossings of a ray going right from each point, one edge at a time.
    previous = len(px) - 1
    for current in range(len(px)):
        x1, y1, x2, y2 = px[previous], py[previous], px[current], py[current]
        straddles = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= straddles & (x < crossing_x)
        previous = current
    return inside


def _point_image_id(point: Mapping) -> str | None:
    customdata = point.get("customdata")
    if isinstance(customdata, (list, tuple)):
        customdata = customdata[0] if customdata else None
    return customdata if isinstance(customdata, str) else None


def selection_image_ids(selection: Mapping, frame: pd.DataFrame) -> list[str]:
    """Map a plotly selection event to the image_ids of the selected rows.

    Points are identified by the image_id in their customdata, never by their
    point index, because plotly numbers points per trace. Box and lasso regions
    are also tested against every row of ``frame``, so a selection on a
    downsampled drawing still counts the points that were not drawn.

    Parameters
    ----------
    selection : mapping
        The ``selection`` part of a Streamlit plotly event, with ``points``,
        ``box`` and ``lasso`` lists.
    frame : pandas.DataFrame
        Map frame of every point the map stands for (drawn or not).

    Returns
    -------
    list of str
        Selected image_ids in ``frame`` order. Ids unknown to ``frame`` (such as
        centroid markers) are ignored.
    """
    chosen: set[str] = set()
    for point in selection.get("points", []) or []:
        image_id = _point_image_id(point)
        if image_id is not None:
            chosen.add(image_id)

    x = frame["x"].to_numpy()
    y = frame["y"].to_numpy()
    in_region = np.zeros(len(frame), dtype=bool)
    for box in selection.get("box", []) or []:
        in_region |= points_in_box(x, y, box)
    for polygon in selection.get("lasso", []) or []:
        in_region |= points_in_polygon(x, y, polygon)

    selected = frame["image_id"].isin(chosen).to_numpy() | in_region
    return frame.loc[selected, "image_id"].tolist()


def nearest_neighbours(
    vectors: np.ndarray,
    image_ids: Sequence[str],
    query_id: str,
    candidate_ids: Sequence[str],
    k: int = 5,
) -> pd.DataFrame:
    """Find the ``k`` candidates most similar to one image by cosine similarity.

    Parameters
    ----------
    vectors : numpy.ndarray
        Embeddings of shape ``(n_images, dim)``, in the order of ``image_ids``.
    image_ids : sequence of str
        Id of each row of ``vectors``.
    query_id : str
        Image to search around. It is never returned as its own neighbour.
    candidate_ids : sequence of str
        Images to search among (for example all real images).
    k : int
        Number of neighbours.

    Returns
    -------
    pandas.DataFrame
        Columns ``image_id, similarity``, most similar first, at most ``k`` rows.
    """
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    if query_id not in position:
        raise KeyError(f"image {query_id!r} has no embedding")
    candidates = [c for c in candidate_ids if c in position and c != query_id]
    if not candidates or k < 1:
        return pd.DataFrame({"image_id": pd.Series(dtype=str), "similarity": pd.Series(dtype=float)})

    # Normalise again so the dot product is the cosine even for unnormalised input.
    # matrix: (n_candidates, dim), query: (dim,)
    matrix = np.asarray(vectors, dtype=np.float64)[[position[c] for c in candidates]]
    query = np.asarray(vectors, dtype=np.float64)[position[query_id]]
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    similarity = matrix @ query

    order = np.argsort(-similarity, kind="stable")[:k]
    return pd.DataFrame({"image_id": [candidates[i] for i in order], "similarity": similarity[order]})


def selection_table(manifest: pd.DataFrame, image_ids: Sequence[str]) -> pd.DataFrame:
    """Return the manifest rows of the selected images, in selection order, for export."""
    rows = manifest.set_index("image_id", drop=False)
    present = [image_id for image_id in image_ids if image_id in rows.index]
    return rows.loc[present].reset_index(drop=True)
