"""AppTest runs of the Overview, Map and Galleries pages on the demo dataset with random weights."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from explorer.errors import DatasetError, DatasetNotFoundError
from explorer.settings import ENV_CHECKPOINT, ENV_DATASET_ROOTS, ENV_WEIGHTS
from explorer.text import count_noun
from explorer.ui.apptest import send_chart_selection
from explorer.ui.config import AppArgumentError, check_dataset_choice, parse_app_arguments
from explorer.ui.widgets import RANDOM_WEIGHTS_BANNER

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# The first Map run embeds the demo and compiles UMAP; later runs read the cache.
TIMEOUT_S = 240


def _start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _chart(at: AppTest):
    charts = at.get("plotly_chart")
    assert charts, "no plotly chart on the page"
    return charts[0]


def _run_with_selection(at: AppTest, selection: dict) -> AppTest:
    """Rerun as if the browser had sent ``selection`` for the map chart."""
    _chart(at)
    send_chart_selection(at, selection)
    return at.run()


def _manifest(demo_root: Path) -> pd.DataFrame:
    from explorer.dataset import load_dataset

    return load_dataset(demo_root).manifest


def test_overview_shows_counts_and_report(app_env, demo_root):
    manifest = _manifest(demo_root)

    at = _start()

    _assert_clean(at)
    assert at.warning[0].value == RANDOM_WEIGHTS_BANNER
    assert at.title[0].value == "Overview"
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Images"] == f"{len(manifest):,}"
    assert metrics["Real"] == f"{(manifest['source'] == 'real').sum():,}"
    assert metrics["Conditions"] == f"{manifest['condition'].nunique():,}"
    assert [s.value for s in at.subheader] == [
        "Images by source and generator",
        "Images by condition",
        "Validation report",
    ]
    assert len(at.get("plotly_chart")) == 2
    counts = at.dataframe[0].value
    assert counts["images"].sum() == len(manifest)


def test_overview_defaults_to_demo_dataset(app_env, demo_root, monkeypatch):
    monkeypatch.delenv("RDFACE_EXPLORER_DATASET")
    manifest = _manifest(demo_root)

    at = _start()

    _assert_clean(at)
    assert at.session_state["dataset_root"] is None
    assert at.sidebar.markdown[0].value == "**Dataset:** demo (procedural faces, no real photos)"
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Images"] == f"{len(manifest):,}"


def test_map_draws_scatter_with_every_point(app_env, demo_root):
    manifest = _manifest(demo_root)

    at = _start("pages/map.py")

    _assert_clean(at)
    assert at.warning[0].value == RANDOM_WEIGHTS_BANNER
    spec = json.loads(_chart(at).proto.spec)
    drawn_ids = [row[0] for trace in spec["data"] for row in (trace.get("customdata") or [])]
    assert sorted(drawn_ids) == sorted(manifest["image_id"])
    assert at.caption[0].value == f"{len(manifest):,} images on the map"
    assert at.radio(key="map_color_by").options == ["condition", "source", "generator"]
    assert at.subheader[0].value == "Selection: 0 images"


def test_map_second_trace_selection_selects_row(app_env, demo_root):
    manifest = _manifest(demo_root)
    at = _start("pages/map.py")
    at.radio(key="map_color_by").set_value("source").run()
    spec = json.loads(_chart(at).proto.spec)
    second = spec["data"][1]
    assert second["name"] == "synthetic"
    point = 2
    image_id = second["customdata"][point][0]
    expected = manifest.loc[manifest["image_id"] == image_id].iloc[0]

    event = {
        "points": [
            {"curve_number": 1, "point_number": point, "point_index": point, "customdata": second["customdata"][point]}
        ],
        "point_indices": [point],
        "box": [],
        "lasso": [],
    }
    _run_with_selection(at, event)

    _assert_clean(at)
    assert at.session_state["selected_ids"] == [image_id]
    assert expected["source"] == "synthetic"
    assert manifest["image_id"].iloc[point] != image_id  # the per-trace number alone picks another row
    assert at.subheader[0].value == "Selection: 1 image"
    assert at.get("download_button")

    at.radio(key="map_color_by").set_value("generator").run()

    assert at.session_state["selected_ids"] == [image_id]

    _run_with_selection(at, event)
    _run_with_selection(at, {"points": [], "point_indices": [], "box": [], "lasso": []})

    assert at.session_state["selected_ids"] == []


def test_map_selection_survives_page_visit(app_env, demo_root):
    manifest = _manifest(demo_root)
    real_ids = manifest.loc[manifest["source"] == "real", "image_id"].tolist()[:2]
    at = _start("pages/map.py")
    at.session_state["selected_ids"] = real_ids
    at.run()

    at.switch_page("pages/galleries.py")
    at.run()
    at.switch_page("pages/map.py")
    at.run()

    _assert_clean(at)
    assert at.session_state["selected_ids"] == real_ids
    assert at.subheader[0].value == "Selection: 2 images"


def test_map_inspect_shows_neighbours(app_env, demo_root):
    manifest = _manifest(demo_root)
    image_id = manifest.loc[manifest["source"] == "synthetic", "image_id"].iloc[0]
    at = _start("pages/map.py")
    at.session_state["selected_ids"] = [image_id]
    at.run()

    at.button(key=f"selection-{image_id}").click().run()

    _assert_clean(at)
    assert at.session_state["focus_image_id"] == image_id
    headings = [s.value for s in at.subheader]
    assert f"Image {image_id}" in headings
    texts = [m.value for m in at.markdown]
    assert "**6 nearest real images** (cosine similarity of embeddings)" in texts
    assert "**6 nearest synthetic images** (cosine similarity of embeddings)" in texts


def _in_page_order(node) -> list:
    """Return the elements under ``node`` in the order the page draws them."""
    children = getattr(node, "children", None)
    if children is None:
        return [node]
    return [element for index in sorted(children) for element in _in_page_order(children[index])]


def test_map_inspect_panel_sits_above_selection_thumbnails(app_env, demo_root):
    manifest = _manifest(demo_root)
    image_ids = manifest["image_id"].iloc[:3].tolist()
    at = _start("pages/map.py")
    at.session_state["selected_ids"] = image_ids
    at.run()

    at.button(key=f"selection-{image_ids[2]}").click().run()

    _assert_clean(at)
    elements = _in_page_order(at.main)
    heading = next(i for i, e in enumerate(elements) if e.type == "subheader" and e.value == f"Image {image_ids[2]}")
    first_inspect = next(i for i, e in enumerate(elements) if e.type == "button" and e.label == "Inspect")
    selection = next(i for i, e in enumerate(elements) if e.type == "subheader" and e.value.startswith("Selection"))
    assert selection < heading < first_inspect


def test_map_fit_on_real_places_synthetic(app_env, demo_root):
    manifest = _manifest(demo_root)
    at = _start("pages/map.py")

    at.radio(key="map_fit_mode").set_value("real").run()

    _assert_clean(at)
    spec = json.loads(_chart(at).proto.spec)
    names = [trace["name"] for trace in spec["data"]]
    assert "centroids" in names
    assert at.caption[0].value == f"{len(manifest):,} images on the map"


def test_map_filters_by_condition_and_source(app_env, demo_root):
    manifest = _manifest(demo_root)
    condition = sorted(manifest["condition"].unique())[1]
    at = _start("pages/map.py")

    at.multiselect(key="map_conditions").set_value([condition])
    at.multiselect(key="map_sources").set_value(["real"]).run()

    _assert_clean(at)
    spec = json.loads(_chart(at).proto.spec)
    drawn = [row for trace in spec["data"] for row in (trace.get("customdata") or [])]
    expected = manifest[(manifest["condition"] == condition) & (manifest["source"] == "real")]
    assert sorted(row[0] for row in drawn) == sorted(expected["image_id"])
    assert {row[1] for row in drawn} == {condition}


def test_map_filter_without_points(app_env):
    at = _start("pages/map.py")

    at.multiselect(key="map_generators").set_value(["(real)"])
    at.multiselect(key="map_sources").set_value(["synthetic"]).run()

    _assert_clean(at)
    assert at.caption[0].value == "0 images on the map"


def test_galleries_rows_per_generator(app_env, demo_root):
    manifest = _manifest(demo_root)
    at = _start("pages/galleries.py")

    _assert_clean(at)
    condition = at.selectbox(key="gallery_condition").value
    rows = manifest[manifest["condition"] == condition]
    n_real = int((rows["source"] == "real").sum())
    generators = sorted(rows.loc[rows["source"] == "synthetic", "generator"].unique())
    row_titles = [m.value.split(" — ")[0] for m in at.main.markdown if m.value.startswith("**")]
    assert row_titles == ["**Real**"] + [f"**Synthetic: {g}**" for g in generators]
    assert len(at.image) >= n_real
    option = at.selectbox(key="gallery_condition").format_func(condition)
    assert option.startswith(f"{condition} ({n_real} real, ")


def test_galleries_limit_caps_images_shown_per_group(app_env, demo_root):
    manifest = _manifest(demo_root)
    at = _start("pages/galleries.py")
    limit = at.number_input(key="gallery_max")
    assert limit.label == "Images shown per group"

    limit.set_value(2).run()

    _assert_clean(at)
    condition = at.selectbox(key="gallery_condition").value
    rows = manifest[manifest["condition"] == condition]
    group_sizes = [int((rows["source"] == "real").sum())] + rows.loc[
        rows["source"] == "synthetic", "generator"
    ].value_counts().tolist()
    result = sorted(m.value.split("** — ", 1)[1] for m in at.main.markdown if m.value.startswith("**"))
    expected = sorted(count_noun(n, "image") + (", first 2 shown" if n > 2 else "") for n in group_sizes)
    assert result == expected
    assert len(at.image) == sum(min(2, n) for n in group_sizes)


def test_galleries_sort_by_nearest_real(app_env):
    at = _start("pages/galleries.py")

    at.toggle(key="gallery_sort").set_value(True).run()

    _assert_clean(at)
    captions = [caption for image in at.image for caption in image.captions]
    synthetic = [caption for caption in captions if "cos to nearest real" in caption]
    assert synthetic
    by_generator: dict[str, list[float]] = {}
    for caption in synthetic:
        generator = caption.split(" · ")[1]
        by_generator.setdefault(generator, []).append(float(caption.rsplit(" ", 1)[1]))
    for scores in by_generator.values():
        assert scores == sorted(scores, reverse=True)


def test_missing_checkpoint_shows_message_not_traceback(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_WEIGHTS, "pretrained")
    monkeypatch.setenv(ENV_CHECKPOINT, str(tmp_path / "missing.pt"))

    at = _start("pages/map.py")

    assert not at.exception
    message = at.error[0].value
    assert "WeightsNotFoundError" in message
    assert "missing.pt" in message
    assert "**Next step:**" in message
    assert not at.warning  # no random-weight banner for pretrained weights


def test_sidebar_rejects_folder_outside_roots(app_env, monkeypatch, tmp_path):
    allowed = tmp_path / "datasets"
    allowed.mkdir()
    monkeypatch.setenv(ENV_DATASET_ROOTS, str(allowed))
    at = _start()

    at.sidebar.text_input[0].input(str(tmp_path))
    at.sidebar.button[0].click().run()

    assert not at.exception
    assert "outside the allowed dataset roots" in at.sidebar.error[0].value
    assert at.session_state["dataset_root"] != str(tmp_path)


def test_app_arguments_parse_dataset_and_model(monkeypatch, tmp_path):
    monkeypatch.delenv("RDFACE_EXPLORER_DATASET", raising=False)

    result = parse_app_arguments(
        ["--dataset", str(tmp_path), "--model", "RN50", "--weights", "random", "--unknown-flag"],
        environ={ENV_DATASET_ROOTS: f"{tmp_path}/a:{tmp_path}/b"},
    )

    assert result.dataset_root == tmp_path
    assert result.model_spec.name == "RN50"
    assert result.model_spec.random_weights is True
    assert result.allowed_roots == (tmp_path / "a", tmp_path / "b")


def test_app_arguments_reject_invalid_weights():
    with pytest.raises(AppArgumentError, match="invalid choice: 'foo'"):
        parse_app_arguments(["--weights", "foo"], environ={})


def test_app_arguments_default_to_demo(monkeypatch):
    monkeypatch.delenv("RDFACE_EXPLORER_DATASET", raising=False)

    result = parse_app_arguments([], environ={})

    assert result.dataset_root is None
    assert result.allowed_roots == ()


def test_dataset_choice_rejects_symlink_escape(tmp_path):
    root = tmp_path / "datasets"
    root.mkdir()
    outside = tmp_path / "private"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "ok").mkdir()

    with pytest.raises(DatasetError, match="outside the allowed dataset roots"):
        check_dataset_choice(str(root / "link"), [root])
    with pytest.raises(DatasetError, match="outside the allowed dataset roots"):
        check_dataset_choice("../private", [root])
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        check_dataset_choice(str(root / "missing"), [root])
    assert check_dataset_choice("ok", [root]) == (root / "ok").resolve()


def test_dataset_choice_off_without_roots():
    with pytest.raises(DatasetError, match="RDFACE_EXPLORER_DATASET_ROOTS"):
        check_dataset_choice("/tmp", [])
