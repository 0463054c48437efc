"""Tables and plotly figures of benchmark results, shared by the page and the notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.classifier.evaluation import MIN_TEST_IMAGES, BenchmarkResult

# Maximum number of conditions in a confusion view; the most confused ones are shown.
MAX_CONFUSION_CONDITIONS = 25
# Marks an axis label whose row rests on fewer than MIN_TEST_IMAGES test images.
FEW_IMAGES_MARK = "*"


def confusion_table(
    result: BenchmarkResult, max_conditions: int = MAX_CONFUSION_CONDITIONS
) -> pd.DataFrame:
    """Count top-1 predictions among the conditions that get confused.

    Only conditions involved in at least one wrong top-1 prediction, as the
    true or the predicted condition, are shown. When more than
    ``max_conditions`` qualify, those with the most errors are shown.

    Returns
    -------
    pandas.DataFrame
        Rows are true conditions and columns predicted conditions, both in
        the same order; values count predictions over all splits. Empty when
        no prediction is wrong.
    """
    predictions = result.predictions
    wrong = predictions[predictions["condition"] != predictions["predicted"]]
    if wrong.empty:
        return pd.DataFrame(dtype=int)
    errors = pd.concat([wrong["condition"], wrong["predicted"]]).value_counts()
    shown = sorted(errors.index[:max_conditions])
    inside = predictions[predictions["condition"].isin(shown) & predictions["predicted"].isin(shown)]
    table = pd.crosstab(inside["condition"], inside["predicted"])
    return table.reindex(index=shown, columns=shown, fill_value=0).fillna(0).astype(int)


def confusion_figure(result: BenchmarkResult, max_conditions: int = MAX_CONFUSION_CONDITIONS):
    """Draw :func:`confusion_table` as a plotly heatmap.

    Rows are normalised to the share of each true condition's predictions; the
    hover text gives the counts. Row labels of conditions with fewer than five
    distinct test images end in ``*``, and the title then explains the mark.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    table = confusion_table(result, max_conditions)
    figure = go.Figure()
    if table.empty:
        figure.update_layout(title="No test image was misclassified at top-1")
        return figure

    test_counts = result.predictions.groupby("condition")["image_id"].nunique()
    row_totals = result.predictions["condition"].value_counts().reindex(table.index)
    shares = table.to_numpy() / row_totals.to_numpy()[:, None]
    row_labels = [
        f"{name} (n={test_counts.get(name, 0)}){FEW_IMAGES_MARK if test_counts.get(name, 0) < MIN_TEST_IMAGES else ''}"
        for name in table.index
    ]
    figure.add_trace(
        go.Heatmap(
            z=shares,
            x=list(table.columns),
            y=row_labels,
            customdata=table.to_numpy(),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "share"},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} prediction(s), %{z:.0%}<extra></extra>",
        )
    )
    title = f"Top-1 confusions ({result.protocol_name}, {result.variant_name})"
    if any(label.endswith(FEW_IMAGES_MARK) for label in row_labels):
        title += f"<br><sup>{FEW_IMAGES_MARK} fewer than {MIN_TEST_IMAGES} test images; n = distinct test images</sup>"
    figure.update_layout(
        title=title,
        xaxis={"title": "predicted condition", "tickangle": -45},
        yaxis={"title": "true condition", "autorange": "reversed"},
        height=max(400, 28 * len(table) + 200),
    )
    return figure


def gain_figure(gains: pd.DataFrame, variant_name: str):
    """Draw per-condition gains of a variant over real-only training as bars.

    Parameters
    ----------
    gains : pandas.DataFrame
        The output of :func:`~explorer.classifier.condition_gains`.
    variant_name : str
        Label for the title.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    few = gains["n_test_images"] < MIN_TEST_IMAGES
    labels = [
        f"{name}{FEW_IMAGES_MARK if is_few else ''}" for name, is_few in zip(gains["condition"], few, strict=True)
    ]
    colours = np.where(gains["gain"].fillna(0) >= 0, "#2b8cbe", "#de2d26")
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=gains["gain"],
            marker_color=colours,
            hovertemplate="%{x}<br>gain %{y:+.2f}<extra></extra>",
        )
    )
    title = f"Per-condition top-1 gain of {variant_name} over real only"
    if few.any():
        title += f"<br><sup>{FEW_IMAGES_MARK} fewer than {MIN_TEST_IMAGES} test images</sup>"
    figure.update_layout(title=title, yaxis={"title": "gain in top-1 accuracy"}, xaxis={"tickangle": -45})
    return figure
