"""Bad datasets opened in the app: every page shows a message with the cause and the next step, never a traceback.

Each test points the app (``RDFACE_EXPLORER_DATASET``) at a bad dataset built
by the shared builders of ``test_bad_inputs.py`` and drives the real pages
through ``AppTest``. ``app.py`` turns any exception that reaches it into an
"Unexpected error" message, so a crashed page shows that text instead of an
``at.exception``. Every test checks both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.settings import ENV_DATASET
from tests.test_bad_inputs import (
    HUGE_SIZE_AT_ONE_EIGHTH,
    SINGLE_CONDITION,
    SINGLE_IMAGE_ID,
    UNICODE_CONDITION,
    UNICODE_FILE,
    build_extreme_sizes,
    build_single_image_condition,
    build_synthetic_only,
    build_tiny,
    build_unicode_names,
    jpeg_decodes,  # noqa: F401 - fixture
    write_manifest,
    write_noise_png,
)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# The first Map run of a test session compiles UMAP's numba code.
TIMEOUT_S = 240
PAGES = ("overview", "map", "galleries", "compare", "benchmark", "saliency")
NEXT_STEP = "**Next step:**"


def open_page(page: str) -> AppTest:
    """Start the app and run one page of it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    if page != "overview":
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


def assert_no_traceback(at: AppTest) -> None:
    """Assert that the run raised nothing and no page fell through to the unexpected-error message."""
    assert not at.exception, [element.value for element in at.exception]
    unexpected = [element.value for element in at.error if "Unexpected error" in element.value]
    assert not unexpected, unexpected


def error_texts(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


def info_texts(at: AppTest) -> list[str]:
    return [element.value for element in at.info]


@pytest.fixture
def open_dataset(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Return a function that makes the app open ``root`` instead of the demo dataset."""

    def use(root: Path) -> Path:
        monkeypatch.setenv(ENV_DATASET, str(root))
        return root

    return use


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_synthetic_only(tmp_path_factory.mktemp("app-synthetic-only"))


@pytest.fixture(scope="module")
def single_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_single_image_condition(tmp_path_factory.mktemp("app-single-image-condition"))


# --- empty folder -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_empty_folder_page_suggests_validate(open_dataset, tmp_path, page):
    root = open_dataset(tmp_path / "empty")
    root.mkdir()

    at = open_page(page)

    assert_no_traceback(at)
    errors = error_texts(at)
    assert len(errors) == 1
    assert f"**DatasetError**: Dataset folder {root} is empty" in errors[0]
    assert "(for example real/<condition>/<image>)" in errors[0]
    assert f"{NEXT_STEP} Run `python -m explorer validate DIR`" in errors[0]


# --- only synthetic images ----------------------------------------------------------------------


def test_synthetic_only_overview_lists_conditions(open_dataset, synthetic_root):
    open_dataset(synthetic_root)

    at = open_page("overview")

    assert_no_traceback(at)
    assert not at.error
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Real"] == "0"
    assert metrics["Synthetic"] == "6"
    assert "Synthetic conditions without real images: A, B" in [element.value for element in at.markdown]


def test_synthetic_only_map_rejects_real_fit(open_dataset, synthetic_root):
    open_dataset(synthetic_root)

    at = open_page("map")

    assert_no_traceback(at)
    assert not at.error
    assert at.caption[0].value == "6 images on the map"

    at.radio(key="map_fit_mode").set_value("real").run()

    assert_no_traceback(at)
    errors = error_texts(at)
    assert len(errors) == 1
    assert "**ProjectionError**: UMAP needs at least 4 usable real images to fit, got 0" in errors[0]
    assert f"{NEXT_STEP} Loosen the filters or add images" in errors[0]


def test_synthetic_only_galleries_say_no_real_images(open_dataset, synthetic_root):
    open_dataset(synthetic_root)

    at = open_page("galleries")

    assert_no_traceback(at)
    assert not at.error
    assert info_texts(at) == ["A has no real images."]
    assert len(at.image) == 3


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("compare", "**ComparisonError**: the dataset has 6 synthetic images but no real image"),
        ("benchmark", "**ClassifierError**: the manifest has no real images"),
        ("saliency", "**ClassifierError**: the manifest has no real images"),
    ],
)
def test_synthetic_only_pages_request_real_images(open_dataset, synthetic_root, page, expected):
    open_dataset(synthetic_root)

    at = open_page(page)

    assert_no_traceback(at)
    errors = error_texts(at)
    assert len(errors) == 1
    assert expected in errors[0]
    assert "add real images" in errors[0]
    assert f"{NEXT_STEP} Fix the cause named above" in errors[0]


# --- a condition with a single image ----------------------------------------------------------------


def test_single_image_overview_flags_it(open_dataset, single_root):
    open_dataset(single_root)

    at = open_page("overview")

    assert_no_traceback(at)
    assert not at.error
    assert f"Conditions with a single real image: {SINGLE_CONDITION}" in [element.value for element in at.markdown]
    report = at.dataframe[-1].value
    assert report[["image_id", "reason", "severity"]].values.tolist() == [
        [SINGLE_IMAGE_ID, "single_image_condition", "warning"]
    ]


def test_single_image_map_draws_all(open_dataset, single_root):
    open_dataset(single_root)

    at = open_page("map")

    assert_no_traceback(at)
    assert not at.error
    assert at.caption[0].value == "13 images on the map"
    at.radio(key="map_fit_mode").set_value("real").run()
    assert_no_traceback(at)
    assert not at.error
    assert at.caption[0].value == "13 images on the map"


def test_single_image_gallery_shows_one_real(open_dataset, single_root):
    open_dataset(single_root)
    at = open_page("galleries")

    at.selectbox(key="gallery_condition").set_value(SINGLE_CONDITION).run()

    assert_no_traceback(at)
    assert not at.error
    rows = [element.value for element in at.main.markdown if element.value.startswith("**")]
    assert rows == ["**Real** — 1 image", "**Synthetic: gen** — 2 images"]
    assert len(at.image) == 3


def test_single_image_compare_page(open_dataset, single_root):
    open_dataset(single_root)
    at = open_page("compare")

    at.selectbox(key="compare_condition").set_value(SINGLE_CONDITION).run()

    assert_no_traceback(at)
    assert not at.error
    assert len(at.get("plotly_chart")) == 1
    assert "This dataset carries no facial landmarks, so the landmark filter is not available." in info_texts(at)


@pytest.mark.parametrize("protocol", ["rdface", "grouped", "rare"])
def test_single_image_benchmark_lists_untested(open_dataset, single_root, protocol):
    open_dataset(single_root)
    at = open_page("benchmark")

    at.radio(key="benchmark_protocol").set_value(protocol).run()

    assert_no_traceback(at)
    assert not at.error
    tables = [element.value for element in at.dataframe]
    untested = next(table for table in tables if "status" in table.columns)
    assert untested["condition"].tolist() == [SINGLE_CONDITION]
    assert untested["n_real"].tolist() == [1]
    tested = next(table for table in tables if "n_test_images" in table.columns)
    assert SINGLE_CONDITION not in tested["condition"].tolist()


def test_single_image_saliency_panel(open_dataset, single_root):
    open_dataset(single_root)
    at = open_page("saliency")

    at.selectbox(key="saliency_image").set_value(SINGLE_IMAGE_ID).run()
    at.toggle(key="saliency_means").set_value(True).run()

    assert_no_traceback(at)
    assert not at.error
    assert f"No real image of {SINGLE_CONDITION} has landmarks." in info_texts(at)
    assert at.metric[0].label == "Randomisation rank correlation"
    subheaders = [element.value for element in at.subheader]
    assert f"Real and synthetic images of {SINGLE_CONDITION}" in subheaders
    assert at.selectbox(key="saliency_real_image").options == [SINGLE_IMAGE_ID]
    assert len(at.image) == 3


# --- too few images for UMAP -------------------------------------------------------------------------


def test_tiny_dataset_map_needs_four_images(open_dataset, tmp_path):
    open_dataset(build_tiny(tmp_path / "tiny"))

    at = open_page("map")

    assert_no_traceback(at)
    errors = error_texts(at)
    assert len(errors) == 1
    assert (
        "**ProjectionError**: UMAP needs at least 4 usable images to fit, got 2 (2 images, 0 left out). Add images."
        in errors[0]
    )
    assert f"{NEXT_STEP} Loosen the filters or add images: a projection needs more points." in errors[0]


def test_tiny_dataset_compare_skips_map(open_dataset, tmp_path):
    open_dataset(build_tiny(tmp_path / "tiny"))

    at = open_page("compare")

    assert_no_traceback(at)
    assert not at.error
    assert "The map of Lonely is not drawn: UMAP needs at least 4 usable images to fit, got 2" in " ".join(
        info_texts(at)
    )
    assert not at.get("plotly_chart")
    assert "Most extreme cell per check" in [element.value for element in at.subheader]


# --- manifests the importer rejects or trims ----------------------------------------------------------


def test_missing_columns_overview_names_them(open_dataset, tmp_path):
    root = open_dataset(tmp_path / "bad-manifest")
    write_noise_png(root / "one.png", 1)
    write_manifest(root, ["image_id", "file", "label"], [["one", "one.png", "KS"]], sep=";", newline="\r\n", bom=True)

    at = open_page("overview")

    assert_no_traceback(at)
    errors = error_texts(at)
    assert len(errors) == 1
    assert "is missing required column(s) path, condition; found image_id, file, label" in errors[0]
    assert f"{NEXT_STEP} Run `python -m explorer validate DIR`" in errors[0]


def test_paths_escaping_root_listed_on_overview(open_dataset, tmp_path):
    import os

    root = open_dataset(tmp_path / "dataset")
    write_noise_png(root / "img" / "a.png", 1)
    write_noise_png(root / "img" / "b.png", 2)
    outside = write_noise_png(tmp_path / "private" / "c.png", 3)
    os.symlink(outside, root / "img" / "link.png")
    write_manifest(root, ["image_id", "path", "condition"], [
        ["a", "img/a.png", "A"], ["b", "img/b.png", "A"],
        ["dotdot", "../private/c.png", "A"], ["link", "img/link.png", "A"],
    ])

    at = open_page("overview")

    assert_no_traceback(at)
    assert not at.error
    assert {metric.label: metric.value for metric in at.metric}["Images"] == "2"
    report = at.dataframe[-1].value
    assert report[["image_id", "reason"]].values.tolist() == [["dotdot", "outside_root"], ["link", "outside_root"]]


# --- Unicode names, extreme image sizes, many images ------------------------------------------------------


def test_unicode_names_gallery_shows_both_images(open_dataset, tmp_path):
    open_dataset(build_unicode_names(tmp_path / "données à voir"))

    at = open_page("galleries")

    assert_no_traceback(at)
    assert not at.error
    assert at.selectbox(key="gallery_condition").value == UNICODE_CONDITION
    assert len(at.image) == 2
    captions = [caption for image in at.image for caption in image.captions]
    assert captions == [f"real/{UNICODE_CONDITION}/{UNICODE_FILE}", f"real/{UNICODE_CONDITION}/second photo.png"]


def test_huge_jpeg_gallery_decodes_once(open_dataset, tmp_path, jpeg_decodes):  # noqa: F811
    open_dataset(build_extreme_sizes(tmp_path / "sizes"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()  # the Overview imports the dataset, which probes the JPEG at 1/8 scale
    jpeg_decodes.clear()

    at.switch_page("pages/galleries.py")
    at.run()

    assert_no_traceback(at)
    assert not at.error
    assert len(at.image) == 2
    assert jpeg_decodes == [HUGE_SIZE_AT_ONE_EIGHTH]


def test_ten_thousand_images_overview(open_dataset, tmp_path):
    import numpy as np
    from PIL import Image

    root = open_dataset(tmp_path / "large")
    folder = root / "real" / "Large condition"
    folder.mkdir(parents=True)
    # (n_images, height, width, RGB): distinct 8x8 noise per file.
    pixels = np.random.default_rng(1).integers(0, 256, (10_000, 8, 8, 3), dtype=np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"img_{index:05d}.png")

    at = open_page("overview")

    assert_no_traceback(at)
    assert not at.error
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Images"] == "10,000"
    assert metrics["Conditions"] == "1"
    assert "Every image in the folder was imported." in [element.value for element in at.success]
