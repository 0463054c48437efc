"""AppTest runs of the Saliency page on the demo dataset with the tiny random-weight ViT."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/saliency.py"
# The first run embeds the demo and fits the head; later runs read the cache.
TIMEOUT_S = 240


def demo_image_ids(root: Path) -> list[str]:
    from explorer.dataset import load_dataset

    return [str(image_id) for image_id in load_dataset(root).manifest["image_id"]]


def demo_manifest(root: Path):
    from explorer.dataset import load_dataset

    return load_dataset(root).manifest


def start(focus: str | None = None, selected: list[str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    if focus is not None:
        at.session_state["focus_image_id"] = focus
    if selected is not None:
        at.session_state["selected_ids"] = selected
    at.switch_page(PAGE)
    at.run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def widget(at: AppTest, kind: str, label: str):
    matches = [element for element in at.get(kind) if getattr(element, "label", None) == label]
    assert matches, f"no {kind} labelled {label!r}"
    return matches[0]


def test_saliency_page_starts_from_map_focus(app_env, demo_root: Path) -> None:
    focus = demo_image_ids(demo_root)[3]

    at = start(focus=focus)

    assert_clean(at)
    assert widget(at, "selectbox", "Image").value == focus
    assert at.get("image"), "no image on the page"


def test_saliency_page_shows_trust_numbers(app_env, demo_root: Path) -> None:
    at = start(focus=demo_image_ids(demo_root)[0])

    metrics = {metric.label: metric.value for metric in at.metric}

    assert_clean(at)
    correlation = float(metrics["Randomisation rank correlation"])
    assert -1.0 <= correlation <= 1.0
    assert "(" in metrics["Deletion area (random order)"]
    assert "%" in metrics["Attribution in feature regions (uniform map)"]
    assert any("Randomisation check" in markdown.value for markdown in at.markdown)


def test_saliency_page_switches_method_and_target(app_env, demo_root: Path) -> None:
    at = start(focus=demo_image_ids(demo_root)[0])
    widget(at, "selectbox", "Method").set_value("occlusion")
    target = widget(at, "selectbox", "Target")
    target.set_value(target.options[3])

    at.run()

    assert_clean(at)
    assert widget(at, "selectbox", "Method").value == "occlusion"


def test_teaching_mode_steps_and_exports(app_env, demo_root: Path) -> None:
    manifest = demo_manifest(demo_root)
    focus = str(manifest["image_id"].iloc[0])
    at = start(focus=focus)
    widget(at, "toggle", "Teaching mode").set_value(True)
    at.run()

    assert_clean(at)
    assert not [box for box in at.selectbox if box.label == "Method"], "technical controls are visible"
    chosen = widget(at, "multiselect", "Images to step through").value
    assert chosen[0] == focus
    condition = manifest.set_index(manifest["image_id"].astype(str))["condition"]
    assert len(chosen) > 1
    assert {condition[image_id] for image_id in chosen} == {condition[focus]}
    assert any(f"Image 1 of {len(chosen)}" in markdown.value for markdown in at.markdown)
    widget(at, "button", "Next ▶").click()
    at.run()
    assert any(f"Image 2 of {len(chosen)}" in markdown.value for markdown in at.markdown)
    downloads = at.get("download_button")
    assert downloads, "no PNG download button in teaching mode"
    assert downloads[0].proto.label == "Download this view (PNG)"


def test_teaching_mode_keeps_method_and_target(app_env, demo_root: Path) -> None:
    at = start(focus=demo_image_ids(demo_root)[0])
    widget(at, "selectbox", "Method").set_value("saliency")
    target = widget(at, "selectbox", "Target")
    condition = target.options[3]
    target.set_value(condition)
    at.run()

    widget(at, "toggle", "Teaching mode").set_value(True)
    at.run()

    assert_clean(at)
    explanation = [markdown.value for markdown in at.markdown if "Bright areas" in markdown.value]
    assert explanation, "no explanation under the teaching panel"
    assert "Bright areas of the Gradient saliency map" in explanation[0]
    assert f"score for **{condition}**" in explanation[0]

    widget(at, "toggle", "Teaching mode").set_value(False)
    at.run()
    assert widget(at, "selectbox", "Method").value == "saliency"
    assert widget(at, "selectbox", "Target").value == condition


def test_title_comes_before_teaching_toggle(app_env, demo_root: Path) -> None:
    at = start()

    assert at.title[0].value == "Saliency"
    elements = list(at.main)
    kinds = [element.type for element in elements]
    assert kinds.index("title") < kinds.index("toggle")


def test_mean_saliency_of_condition(app_env, demo_root: Path) -> None:
    at = start(focus=demo_image_ids(demo_root)[0])
    widget(at, "toggle", "Compute the mean maps").set_value(True)

    at.run()

    assert_clean(at)
    images = [str(element.proto) for element in at.get("image")]
    assert any("real: mean of" in proto for proto in images)
    assert any("synthetic: mean of" in proto for proto in images)
