"""Plotly figures of the trust checks."""

from __future__ import annotations

from typing import Any

from explorer.saliency.trust import PerturbationCurves


def curves_figure(curves: PerturbationCurves) -> Any:
    """Plot deletion and insertion curves beside their random-order references."""
    import plotly.graph_objects as go

    x = curves.fractions * 100
    figure = go.Figure()
    traces = (
        ("deletion (map order)", curves.deletion, "#d62728", "solid"),
        ("deletion (random order)", curves.random_deletion, "#d62728", "dot"),
        ("insertion (map order)", curves.insertion, "#1f77b4", "solid"),
        ("insertion (random order)", curves.random_insertion, "#1f77b4", "dot"),
    )
    for name, values, colour, dash in traces:
        figure.add_trace(go.Scatter(x=x, y=values, name=name, mode="lines", line={"color": colour, "dash": dash}))
    figure.update_layout(
        xaxis_title="pixels deleted or inserted (%)",
        yaxis_title="target probability",
        height=320,
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure
