"""Tests of the Overview page's tables and figures."""

from __future__ import annotations

import pandas as pd

from explorer.overview import images_per_condition_histogram


def _manifest(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [
        {"condition": condition, "source": source}
        for (condition, source), n in counts.items()
        for _ in range(n)
    ]
    return pd.DataFrame(rows)


def test_condition_histogram_puts_bars_at_exact_counts():
    manifest = _manifest({
        ("A", "real"): 1, ("B", "real"): 3, ("C", "real"): 4, ("D", "real"): 3,
        ("A", "synthetic"): 2, ("B", "synthetic"): 2,
    })

    figure = images_per_condition_histogram(manifest)

    result = {trace.name: dict(zip(map(int, trace.x), map(int, trace.y))) for trace in figure.data}
    expected = {"real": {1: 1, 3: 2, 4: 1}, "synthetic": {2: 2}}
    assert result == expected
    assert all(trace.type == "bar" for trace in figure.data)


def test_condition_histogram_has_integer_ticks():
    manifest = _manifest({("A", "real"): 1, ("B", "real"): 3, ("C", "synthetic"): 5})

    figure = images_per_condition_histogram(manifest)

    assert figure.layout.xaxis.dtick == 1
    assert figure.layout.yaxis.dtick == 1
    assert figure.layout.yaxis.tickformat == "d"
    assert figure.layout.xaxis.title.text == "images in the condition"
    assert figure.layout.yaxis.title.text == "conditions"


def test_condition_histogram_leaves_out_sources_a_condition_lacks():
    manifest = _manifest({("A", "real"): 2, ("B", "synthetic"): 6})

    figure = images_per_condition_histogram(manifest)

    result = {trace.name: list(map(int, trace.x)) for trace in figure.data}
    assert result == {"real": [2], "synthetic": [6]}
