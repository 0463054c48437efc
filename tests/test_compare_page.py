"""AppTest runs of the Compare page on the demo dataset with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui.compare import BOOTSTRAP_KEY, PERMUTATIONS_KEY

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# The first run embeds the demo and fits UMAP unless another test already cached them.
TIMEOUT_S = 300


@pytest.fixture
def compare_page(app_env) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.session_state[BOOTSTRAP_KEY] = 20
    at.session_state[PERMUTATIONS_KEY] = 20
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(str(element.value) for element in at.markdown)


def test_compare_page_renders_table(compare_page):
    at = compare_page

    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Compare real and synthetic"
    table = at.dataframe[1].value
    assert len(table) == 14 * 2 + 2
    texts = table["spread ratio [95% CI]"].tolist()
    assert "not computable (n=1 real, needs ≥2)" in texts
    assert table["spread ratio"].isna().sum() == texts.count("not computable (n=1 real, needs ≥2)")


def test_compare_page_shows_condition_view(compare_page):
    at = compare_page

    assert at.get("plotly_chart"), "no zoomed map"
    assert [s.value for s in at.subheader if s.value.startswith("Most faithful")]
    assert "Kept " in _markdown(at)


def test_landmark_slider_changes_kept_count(compare_page):
    at = compare_page
    at.selectbox(key="compare_condition").set_value("Demo syndrome H").run()
    at.selectbox(key="compare_generator").set_value("flawed").run()
    slider = at.slider(key="compare_threshold_shape_score")

    slider.set_value(6.0).run()
    loose = _markdown(at)
    at.slider(key="compare_threshold_shape_score").set_value(0.5).run()
    strict = _markdown(at)

    assert not at.exception, [e.value for e in at.exception]
    assert "Kept 8 of 8" in loose
    assert "Kept 8 of 8" not in strict
    assert "Kept " in strict


def test_compare_page_lists_copy_pairs_section(compare_page):
    at = compare_page

    captions = [c.value for c in at.caption]

    assert any("memorisation threshold" in c.lower() or "No memorisation threshold" in c for c in captions)
