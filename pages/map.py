"""Map page: UMAP scatter of the embeddings, selection gallery and nearest neighbours."""

from __future__ import annotations

import streamlit as st

from explorer.gallery import image_caption
from explorer.maps import (
    COLOR_FIELDS,
    REAL_GENERATOR_LABEL,
    MapFilters,
    build_map_figure,
    condition_centroids,
    downsample_for_drawing,
    filter_map_frame,
    map_frame,
    selection_table,
)
from explorer.projection import ProjectionParams
from explorer.text import count_noun
from explorer.ui import state
from explorer.ui.loaders import app_dataset, app_embeddings, app_projection, session_memo
from explorer.ui.map_view import CHART_KEY, chart_is_mounted, focus_panel, page_path_if_present, update_selection
from explorer.ui.widgets import thumbnail_grid

# Thumbnails shown for a selection. The CSV download always contains all of it.
MAX_SELECTION_THUMBNAILS = 36
FIT_MODES = {"all": "Fit on all images", "real": "Fit on real, place synthetic"}
SALIENCY_PAGE = "pages/saliency.py"

st.title("Map")
dataset = app_dataset()
manifest = dataset.manifest
embeddings = app_embeddings()

controls = st.columns([2, 2, 1, 1])
color_by = controls[0].radio("Colour by", COLOR_FIELDS, horizontal=True, key="map_color_by")
fit_mode = controls[1].radio(
    "Projection", list(FIT_MODES), format_func=FIT_MODES.get, horizontal=True, key="map_fit_mode",
    help="'Fit on real' learns the map from real images only and places synthetic ones on it.",
)
show_centroids = controls[2].checkbox("Centroids", value=True, key="map_centroids",
                                      help="Mean position of each condition's real and synthetic images, joined by a line.")
k = controls[3].number_input("Neighbours", min_value=1, max_value=24, value=6, key="map_k")

with st.expander("Filters"):
    generators = sorted(manifest["generator"].fillna("").replace("", REAL_GENERATOR_LABEL).unique())
    filters = MapFilters(
        conditions=tuple(st.multiselect("Conditions", sorted(manifest["condition"].unique()), key="map_conditions")),
        sources=tuple(st.multiselect("Sources", ["real", "synthetic"], key="map_sources")),
        generators=tuple(st.multiselect("Generators", generators, key="map_generators")),
    )

projection = app_projection(ProjectionParams(mode=fit_mode))
frame = session_memo(
    ("map-frame", dataset.fingerprint, projection.embedding_key, projection.params),
    lambda: map_frame(manifest, projection.image_ids, projection.coords[["x", "y"]].to_numpy()),
)
visible = filter_map_frame(frame, filters)
drawn = downsample_for_drawing(visible)
centroids = condition_centroids(visible) if show_centroids else None

mounted = chart_is_mounted()
event = st.plotly_chart(
    build_map_figure(drawn, color_by=color_by, centroids=centroids),
    key=CHART_KEY,
    on_select="rerun",
    selection_mode=("box", "lasso", "points"),
    width="stretch",
)
update_selection(event, visible, mounted, chart_settings=(color_by, fit_mode, filters, show_centroids))

caption = f"{count_noun(len(visible), 'image')} on the map"
if len(drawn) < len(visible):
    caption = (
        f"Drawing {len(drawn):,} of {len(visible):,} points (a fixed subsample that keeps every condition). "
        "Box and lasso selections count all points inside them."
    )
if len(frame) < len(manifest):
    missing = len(manifest) - len(frame)
    caption += f" {count_noun(missing, 'image')} {'has' if missing == 1 else 'have'} no point (embedding or projection failed)."
st.caption(caption)

selected = st.session_state[state.SELECTED_IDS]
st.subheader(f"Selection: {count_noun(len(selected), 'image')}")
if not selected:
    st.caption("Draw a box or lasso on the map, or click a point, to select images.")
# The inspected image is drawn here, above the selection thumbnails, so an
# "Inspect" click shows its result in view; the thumbnails are drawn first.
focus_slot = st.container()
if selected:
    table = selection_table(manifest, selected)
    st.download_button("Download selection as CSV", table.to_csv(index=False), file_name="selection.csv",
                       mime="text/csv", key="map_download")
    shown = table.iloc[:MAX_SELECTION_THUMBNAILS]
    if len(shown) < len(table):
        st.caption(f"Showing the first {len(shown)} of {len(table):,} selected images.")
    clicked = thumbnail_grid(
        dataset.root, shown, [f"{image_caption(row)} · {row['condition']}" for _, row in shown.iterrows()],
        button_label="Inspect", key_prefix="selection",
    )
    if clicked is not None:
        st.session_state[state.FOCUS_IMAGE_ID] = clicked

focus = st.session_state[state.FOCUS_IMAGE_ID]
if focus is not None:
    saliency = page_path_if_present(SALIENCY_PAGE)
    with focus_slot:
        picked = focus_panel(dataset.root, manifest, embeddings, focus, int(k), saliency)
    if picked is not None:
        st.session_state[state.FOCUS_IMAGE_ID] = picked
        st.rerun()
