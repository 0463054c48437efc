"""Dataset summary tables and figures for the Overview page and the notebooks."""

from __future__ import annotations

import pandas as pd

from explorer.gallery import condition_counts

REAL_GENERATOR_LABEL = "(real)"
# Axes spanning at most this many units get a tick at every integer; longer
# axes keep plotly's automatic spacing, shown as whole numbers.
MAX_UNIT_TICKS = 30


def source_generator_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Count images per source and generator.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, generator, images``. Real rows have the generator
        ``'(real)'``.
    """
    generator = manifest["generator"].fillna("").replace("", REAL_GENERATOR_LABEL)
    counts = (
        pd.DataFrame({"source": manifest["source"], "generator": generator})
        .value_counts()
        .rename("images")
        .reset_index()
        .sort_values(["source", "generator"])
        .reset_index(drop=True)
    )
    return counts


def condition_generator_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Count images per condition (rows) and source/generator (columns), with a total column."""
    generator = manifest["generator"].fillna("").replace("", REAL_GENERATOR_LABEL)
    table = pd.crosstab(manifest["condition"], generator).astype(int)
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table.sort_index()


def counts_bar_figure(manifest: pd.DataFrame):
    """Build a stacked bar chart of images per condition, one colour per source/generator."""
    import plotly.express as px

    generator = manifest["generator"].fillna("").replace("", REAL_GENERATOR_LABEL)
    long = (
        pd.DataFrame({"condition": manifest["condition"], "generator": generator})
        .value_counts()
        .rename("images")
        .reset_index()
        .sort_values(["condition", "generator"])
    )
    figure = px.bar(
        long,
        x="condition",
        y="images",
        color="generator",
        title="Images per condition",
        labels={"generator": "source / generator"},
    )
    figure.update_layout(barmode="stack", height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_xaxes(categoryorder="category ascending", tickangle=-45)
    return figure


def images_per_condition_histogram(manifest: pd.DataFrame):
    """Build a bar chart of how many conditions have each number of real and synthetic images.

    Each bar sits at an exact image count (x). Its height is the number of
    conditions with that count (y). Real and synthetic are separate traces, and
    a condition without images of a source is left out of that source's trace.
    """
    import plotly.graph_objects as go

    counts = condition_counts(manifest)
    figure = go.Figure()
    for source in ("real", "synthetic"):
        per_count = counts.loc[counts[source] > 0, source].value_counts().sort_index()
        figure.add_trace(
            go.Bar(
                x=per_count.index.to_numpy(dtype=int),
                y=per_count.to_numpy(dtype=int),
                name=source,
                hovertemplate=source + " images: %{x}<br>conditions: %{y}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Conditions by number of images",
        barmode="group",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend_title_text="source",
    )
    max_images = int(counts[["real", "synthetic"]].to_numpy().max(initial=0))
    max_conditions = max((int(max(trace.y, default=0)) for trace in figure.data), default=0)
    figure.update_xaxes(title_text="images in the condition", tickformat="d", **_integer_ticks(max_images))
    figure.update_yaxes(title_text="conditions", tickformat="d", rangemode="tozero", **_integer_ticks(max_conditions))
    return figure


def _integer_ticks(maximum: int) -> dict:
    """Return axis settings that put a tick on every integer of a short axis."""
    if maximum <= MAX_UNIT_TICKS:
        return {"tickmode": "linear", "tick0": 0, "dtick": 1}
    return {}
