"""Saliency: where the benchmark classifier looks when it scores a condition."""

from __future__ import annotations

import streamlit as st

from explorer.images import png_bytes
from explorer.saliency import METHODS, OverlaySettings
from explorer.saliency.figures import curves_figure
from explorer.text import count_noun
from explorer.saliency.workflow import (
    SaliencyRequest,
    condition_image_ids,
    condition_mean_saliency,
    trust_report,
)
from explorer.ui.loaders import app_dataset
from explorer.ui.saliency import (
    CHOSEN_METHOD_KEY,
    CHOSEN_TARGET_KEY,
    DEFAULT_METHOD,
    DEFAULT_TARGET,
    METHOD_KEY,
    TARGET_KEY,
    TEACHING_IDS_KEY,
    TEACHING_INDEX_KEY,
    TEACHING_KEY,
    app_explainer,
    compute_result,
    current_image_id,
    image_label,
    mean_overlay,
    method_controls,
    remember_choices,
    restore_choices,
    result_panel,
    target_options,
    teaching_image_ids,
)

st.title("Saliency")
teaching = st.toggle("Teaching mode", key=TEACHING_KEY, help="Large images, technical controls hidden, PNG export")

dataset = app_dataset()
manifest = dataset.manifest
image_ids = [str(image_id) for image_id in manifest["image_id"]]
if not image_ids:
    st.info("The dataset has no usable image; see the Overview page's validation report.")
    st.stop()

bundle = app_explainer()
current_image = current_image_id(image_ids)

# ---------------------------------------------------------------- teaching mode
if teaching:
    method = st.session_state.get(CHOSEN_METHOD_KEY, DEFAULT_METHOD)
    target = st.session_state.get(CHOSEN_TARGET_KEY, DEFAULT_TARGET)
    chosen = st.multiselect(
        "Images to step through", image_ids, default=teaching_image_ids(manifest, current_image),
        key=TEACHING_IDS_KEY, format_func=lambda image_id: image_label(manifest, image_id),
    )
    if not chosen:
        st.info("Choose at least one image to show.")
        st.stop()
    index = min(st.session_state.get(TEACHING_INDEX_KEY, 0), len(chosen) - 1)
    previous_column, position_column, next_column = st.columns([1, 2, 1])
    if previous_column.button("◀ Previous", disabled=index == 0, width="stretch"):
        index -= 1
    if next_column.button("Next ▶", disabled=index >= len(chosen) - 1, width="stretch"):
        index += 1
    st.session_state[TEACHING_INDEX_KEY] = index
    position_column.markdown(f"**Image {index + 1} of {len(chosen)}**")

    image_id = chosen[index]
    result = compute_result(image_id, bundle, SaliencyRequest(method=method, target=target))
    panel = result_panel(image_id, result, OverlaySettings(), height=640, is_random=bundle.is_random)
    st.image(panel, width="stretch")
    st.markdown(
        f"The classifier's top condition is **{result.predicted_name}**. Bright areas of the "
        f"{METHODS[method].label} map are where the image most raised its score for **{result.target_name}**."
    )
    st.download_button(
        "Download this view (PNG)", png_bytes(panel), file_name=f"saliency-{image_id}.png", mime="image/png",
        key="saliency_teaching_download",
    )
    st.stop()

# ---------------------------------------------------------------- explore mode
st.caption(
    "Where the benchmark classifier (a linear probe on the image embeddings, trained on every real image) "
    "looks when it scores a condition. Maps are computed on the model input and mapped back to the photo."
)

restore_choices(bundle.explainer.class_names)
choose_image, choose_method, choose_target = st.columns(3)
image_id = choose_image.selectbox(
    "Image", image_ids, index=image_ids.index(current_image),
    format_func=lambda image_id: image_label(manifest, image_id), key="saliency_image",
)
method = choose_method.selectbox(
    "Method", list(METHODS), format_func=lambda name: METHODS[name].label, key=METHOD_KEY
)
target = choose_target.selectbox("Target", target_options(bundle.explainer.class_names), key=TARGET_KEY)
remember_choices(image_id, method, target)
st.caption(METHODS[method].description)

with st.expander("Method and display settings"):
    settings = method_controls(method)
    fit_mode = st.radio("Fit the photo into the model input by", ("pad", "crop"), horizontal=True, key="saliency_fit")
    mode = st.radio("Show", ("absolute", "signed", "positive"), horizontal=True, key="saliency_mode")
    alpha = st.slider("Heatmap opacity", 0.0, 1.0, 0.5, key="saliency_alpha")
    clip = st.slider("Clip colour scale at percentile", 50.0, 100.0, 99.0, key="saliency_clip")
overlay = OverlaySettings(alpha=alpha, mode=mode, clip_percentile=clip)
request = SaliencyRequest(method=method, target=target, settings=settings, fit_mode=fit_mode)

result = compute_result(image_id, bundle, request)
panel = result_panel(image_id, result, overlay, is_random=bundle.is_random)
st.image(panel, width="stretch")
st.download_button("Download panel (PNG)", png_bytes(panel), file_name=f"saliency-{image_id}.png",
                   mime="image/png", key="saliency_download")

st.subheader("Can this map be trusted?")
if st.toggle("Run the trust checks", value=True, key="saliency_trust"):
    with st.spinner("Running the randomisation check and deletion/insertion curves (cached afterwards)"):
        report = trust_report(dataset, image_id, bundle, request, result)
    metrics = st.columns(3)
    metrics[0].metric("Randomisation rank correlation", f"{report.randomisation.correlation:.2f}")
    metrics[1].metric("Deletion area (random order)",
                      f"{report.curves.deletion_area:.3f} ({report.curves.random_deletion_area:.3f})")
    if report.regions is not None:
        metrics[2].metric("Attribution in feature regions (uniform map)",
                          f"{report.regions.share:.0%} ({report.regions.baseline:.0%})")
    for line in report.describe(untrained_model=bundle.is_random):
        st.markdown(f"- {line}")
    st.plotly_chart(curves_figure(report.curves), width="stretch")

row = manifest.loc[manifest["image_id"].astype(str) == image_id].iloc[0]
condition = str(row["condition"])
st.subheader(f"Real and synthetic images of {condition}")
same_rows = manifest.loc[manifest["condition"].astype(str) == condition]
ids_by_source = {
    source: [str(image_id) for image_id in same_rows.loc[same_rows["source"] == source, "image_id"]]
    for source in ("real", "synthetic")
}
same_condition = SaliencyRequest(method=method, target=condition, settings=settings, fit_mode=fit_mode)
real_column, synthetic_column = st.columns(2)
for column, label in ((real_column, "real"), (synthetic_column, "synthetic")):
    ids = ids_by_source[label]
    if not ids:
        column.info(f"No {label} image of {condition}.")
        continue
    shown_id = column.selectbox(f"{label.capitalize()} image", ids, key=f"saliency_{label}_image")
    shown_result = compute_result(shown_id, bundle, same_condition)
    column.image(result_panel(shown_id, shown_result, overlay, height=256, is_random=bundle.is_random),
                 width="stretch")

st.subheader(f"Mean saliency of {condition}, faces aligned by their landmarks")
if st.toggle("Compute the mean maps", key="saliency_means"):
    real_column, synthetic_column = st.columns(2)
    for column, source in ((real_column, "real"), (synthetic_column, "synthetic")):
        ids = condition_image_ids(dataset, condition, source)
        if not ids:
            column.info(f"No {source} image of {condition} has landmarks.")
            continue
        bar = column.progress(0.0, text=f"Mean over {count_noun(len(ids), source + ' image')}")
        mean = condition_mean_saliency(dataset, ids, bundle, same_condition,
                                       progress=lambda done, total, bar=bar: bar.progress(done / total))
        bar.empty()
        column.image(mean_overlay(mean, overlay), caption=f"{source}: mean of {count_noun(mean.n_images, 'image')}",
                     width="stretch")
