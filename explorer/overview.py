"""Dataset summary tables and figures for the Overview page and the notebooks."""

from __future__ import annotations

import pandas as pd

from explorer.gallery import condition_counts

REAL_GENERATOR_LABEL = "(real)"


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
    """Build a histogram of how many real and synthetic images each condition has."""
    import plotly.express as px

    counts = condition_counts(manifest)
    long = counts.melt(id_vars="condition", value_vars=["real", "synthetic"], var_name="source", value_name="images")
    figure = px.histogram(
        long,
        x="images",
        color="source",
        barmode="group",
        title="Conditions by number of images",
        labels={"images": "images in the condition", "count": "conditions"},
    )
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 50, "b": 10}, yaxis_title="conditions")
    return figure
