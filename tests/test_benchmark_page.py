"""The Benchmark page on the demo dataset with the tiny random-weight model."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/benchmark.py"
# The first run embeds the demo and trains every head; later runs read the cache.
TIMEOUT_S = 240


@pytest.fixture
def benchmark_page(app_env) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    at.switch_page(PAGE)
    at.run()
    return at


def _summary_table(at: AppTest):
    # AppTest exposes no keys for dataframes, so tables are found by their content.
    matches = [frame.value for frame in at.dataframe if "top-1 (images)" in frame.value.index]
    assert len(matches) == 1, "expected one summary table"
    return matches[0]


def _table_with_column(at: AppTest, column: str):
    matches = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert matches, f"no table with a {column!r} column"
    return matches[0]


def test_benchmark_page_shows_tables(benchmark_page):
    at = benchmark_page

    summary = _summary_table(at)
    per_condition = _table_with_column(at, "real top-1")

    assert not at.exception, [error.value for error in at.exception]
    assert not at.error, [error.value for error in at.error]
    assert [title.value for title in at.title] == ["Benchmark"]
    assert "top-1 (images)" in summary.index
    assert list(summary.columns) == ["real", "real+synthetic", "synthetic"]
    assert "±" in summary.loc["top-1 (images)", "real"]
    assert "real+synthetic gain" in per_condition.columns
    assert per_condition["real+synthetic gain"].is_monotonic_decreasing
    assert any("fewer than 5 test images" in info.value for info in at.info)
    charts = [chart.key for chart in at.get("plotly_chart")]
    assert charts == ["benchmark_gain_chart", "benchmark_confusion"]


def test_benchmark_page_offers_all_protocols(benchmark_page):
    at = benchmark_page
    picker = at.radio(key="benchmark_protocol")

    assert picker.options == [
        "RDFace (fixed test part, k-fold models)",
        "Grouped k-fold (by subject)",
        "Rare conditions (gallery/test)",
    ]
    # Real-only training keeps the three protocol runs short.
    at.multiselect(key="benchmark_variants").set_value([]).run()
    for protocol in ("grouped", "rare"):
        at.radio(key="benchmark_protocol").set_value(protocol).run()
        summary = _summary_table(at)
        assert not at.exception, protocol
        assert "macro-F1" in summary.index, protocol
        assert list(summary.columns) == ["real"], protocol
        assert [chart.key for chart in at.get("plotly_chart")] == ["benchmark_confusion"], protocol
    untested = _table_with_column(at, "status")
    assert set(untested["status"]) == {"not evaluable: a single subject"}


def test_benchmark_page_runs_chosen_variant(benchmark_page):
    at = benchmark_page

    at.multiselect(key="benchmark_variants").set_value(["synthetic:flawed"]).run()
    summary = _summary_table(at)

    assert not at.exception
    assert list(summary.columns) == ["real", "synthetic:flawed"]
