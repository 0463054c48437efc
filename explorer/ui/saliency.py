"""Streamlit helpers of the Saliency page: the cached explainer, method controls, progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from explorer.saliency import (
    METHODS,
    GradCamSettings,
    GradientShapSettings,
    InputXGradientSettings,
    IntegratedGradientsSettings,
    OcclusionSettings,
    OverlaySettings,
    SaliencySettings,
    saliency_panel,
)
from explorer.saliency.explain import panel_title
from explorer.saliency.workflow import (
    TARGET_CHOICES,
    DatasetExplainer,
    SaliencyRequest,
    build_dataset_explainer,
    explain_dataset_image,
)
from explorer.ui import state
from explorer.ui.loaders import app_dataset, app_embeddings, app_model

# Methods that finish well under a second on ViT-B-32; the others get a progress bar.
FAST_METHODS = ("gradcam", "saliency", "inputxgradient")
TEACHING_KEY = "saliency_teaching"
TEACHING_INDEX_KEY = "saliency_teaching_index"
TEACHING_IDS_KEY = "saliency_teaching_ids"
METHOD_KEY = "saliency_method"
TARGET_KEY = "saliency_target"
# Plain session-state copies of the explore-mode choices. Streamlit drops a
# widget's state while it is not drawn, so these outlive teaching mode.
CHOSEN_IMAGE_KEY = "saliency_chosen_image"
CHOSEN_METHOD_KEY = "saliency_chosen_method"
CHOSEN_TARGET_KEY = "saliency_chosen_target"
CHOSEN_FOCUS_KEY = "saliency_chosen_focus"
DEFAULT_METHOD = "gradcam"
DEFAULT_TARGET = "predicted"
# Images teaching mode offers by default: the current image and others of its condition.
TEACHING_DEFAULT_IMAGES = 6


@st.cache_resource(show_spinner="Fitting the benchmark head for saliency", max_entries=2)
def _explainer_cached(dataset_fingerprint: str, model_key: str, _dataset: Any, _loaded: Any,
                      _embeddings: Any) -> DatasetExplainer:
    # Keyed by the dataset fingerprint and the model's cache key; the underscored
    # arguments are the objects those keys identify.
    return build_dataset_explainer(_dataset, _loaded, _embeddings)


def app_explainer() -> DatasetExplainer:
    """Return the session's benchmark head on its model, prepared for attribution."""
    dataset = app_dataset()
    loaded = app_model()
    embeddings = app_embeddings()
    return _explainer_cached(dataset.fingerprint, loaded.info.cache_key, dataset, loaded, embeddings)


def image_label(manifest: Any, image_id: str) -> str:
    """Return "id · condition · source" for an image select box."""
    row = manifest.loc[manifest["image_id"].astype(str) == image_id]
    if row.empty:
        return image_id
    row = row.iloc[0]
    generator = f" ({row['generator']})" if row.get("generator") else ""
    return f"{image_id} · {row['condition']} · {row['source']}{generator}"


def method_controls(method: str, key: str = "saliency") -> Any:
    """Render the method's settings as number inputs and return its settings dataclass."""
    if method == "ig":
        steps = st.number_input("Integration steps", 4, 256, 32, key=f"{key}_ig_steps")
        batch = st.number_input("Steps per batch", 1, 256, 16, key=f"{key}_ig_batch")
        return IntegratedGradientsSettings(steps=int(steps), internal_batch_size=int(batch))
    if method == "gradshap":
        samples = st.number_input("Samples", 2, 256, 16, key=f"{key}_gs_samples")
        chunk = st.number_input("Samples per batch", 1, 64, 8, key=f"{key}_gs_chunk")
        return GradientShapSettings(samples=int(samples), chunk_size=int(chunk))
    if method == "occlusion":
        window = st.number_input("Window (model-input pixels)", 4, 128, 32, key=f"{key}_occ_window")
        stride = st.number_input("Stride (model-input pixels)", 2, 128, 16, key=f"{key}_occ_stride")
        return OcclusionSettings(window=int(window), stride=int(stride))
    if method == "saliency":
        return SaliencySettings()
    if method == "inputxgradient":
        return InputXGradientSettings()
    return GradCamSettings()


def teaching_image_ids(manifest: Any, image_id: str, limit: int = TEACHING_DEFAULT_IMAGES) -> list[str]:
    """Return ``image_id`` followed by other images of its condition, at most ``limit`` in all."""
    ids = manifest["image_id"].astype(str)
    condition = manifest.loc[ids == image_id, "condition"]
    if condition.empty:
        return []
    others = [other for other in ids[manifest["condition"] == condition.iloc[0]] if other != image_id]
    return [image_id, *others][:limit]


def current_image_id(image_ids: Sequence[str]) -> str:
    """Return the image to start from: the last one chosen here, unless the Map has focused another since."""
    focus = st.session_state.get(state.FOCUS_IMAGE_ID)
    chosen = st.session_state.get(CHOSEN_IMAGE_KEY)
    if chosen in image_ids and st.session_state.get(CHOSEN_FOCUS_KEY) == focus:
        return chosen
    return focus if focus in image_ids else image_ids[0]


def restore_choices(class_names: Sequence[str]) -> None:
    """Put the last chosen method and target back into their select boxes after teaching mode."""
    method = st.session_state.get(CHOSEN_METHOD_KEY)
    if METHOD_KEY not in st.session_state and method in METHODS:
        st.session_state[METHOD_KEY] = method
    target = st.session_state.get(CHOSEN_TARGET_KEY)
    if TARGET_KEY not in st.session_state and target in target_options(class_names):
        st.session_state[TARGET_KEY] = target


def remember_choices(image_id: str, method: str, target: str) -> None:
    """Keep the explore-mode image, method and target for teaching mode."""
    st.session_state[CHOSEN_IMAGE_KEY] = image_id
    st.session_state[CHOSEN_FOCUS_KEY] = st.session_state.get(state.FOCUS_IMAGE_ID)
    st.session_state[CHOSEN_METHOD_KEY] = method
    st.session_state[CHOSEN_TARGET_KEY] = target


def target_options(class_names: Sequence[str]) -> list[str]:
    """Return the target choices: predicted, true, then every condition."""
    return [*TARGET_CHOICES, *class_names]


def compute_result(image_id: str, bundle: DatasetExplainer, request: SaliencyRequest) -> Any:
    """Compute or read back a map, with a progress bar for slow methods."""
    dataset = app_dataset()
    if request.method in FAST_METHODS:
        return explain_dataset_image(dataset, image_id, bundle, request)
    bar = st.progress(0.0, text=f"Computing {METHODS[request.method].label} (cached afterwards)")
    try:
        return explain_dataset_image(
            dataset, image_id, bundle, request, progress=lambda fraction: bar.progress(float(fraction))
        )
    finally:
        bar.empty()


def result_panel(image_id: str, result: Any, overlay: OverlaySettings, *, height: int = 448,
                 is_random: bool = False) -> Image.Image:
    """Build the image / overlay / map panel of a result, titled with method and target."""
    from explorer.images import decode_image

    image = decode_image(app_dataset().image_path(image_id))
    return saliency_panel(image, result.image_map, overlay, title=panel_title(result, is_random=is_random),
                          height=height)


def mean_overlay(mean: Any, overlay: OverlaySettings) -> Image.Image:
    """Draw an aligned mean map over the mean face."""
    from explorer.saliency import overlay_heatmap

    return overlay_heatmap(Image.fromarray(np.asarray(mean.mean_image)), mean.mean_map, overlay)
