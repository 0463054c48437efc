"""Map page pieces: selection kept in session state and the panel of one clicked image."""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer.gallery import image_caption
from explorer.maps import nearest_neighbours, selection_image_ids
from explorer.text import count_noun
from explorer.ui import state
from explorer.ui.thumbnails import LARGE_IMAGE_SIDE, row_thumbnail
from explorer.ui.widgets import thumbnail_grid

# Folder of app.py, against which page paths such as "pages/saliency.py" resolve.
APP_ROOT = Path(__file__).resolve().parents[2]

CHART_KEY = "map_chart"
_EVENT_SIGNATURE = "_map_event_signature"

# Metadata rows left out of the clicked image's table (shown elsewhere or internal).
HIDDEN_METADATA = ("path", "sha256")


def page_path_if_present(relative_path: str) -> str | None:
    """Return ``relative_path`` when that page file exists next to app.py, else None."""
    return relative_path if (APP_ROOT / relative_path).is_file() else None


def chart_is_mounted() -> bool:
    """Return whether the map chart was drawn in the previous run of this page.

    A chart drawn for the first time (or again after a visit to another page)
    sends an empty selection, which must not erase the stored one.
    """
    return CHART_KEY in st.session_state


def update_selection(event, frame: pd.DataFrame, mounted: bool, chart_settings: Hashable = None) -> None:
    """Store the selected image_ids when the user changed the chart's selection.

    ``frame`` is every point the map stands for, drawn or not, so box and lasso
    selections on a downsampled drawing count all points inside them. A chart
    drawn anew (first visit, return from another page, or other
    ``chart_settings`` such as colouring and filters) starts with an empty
    selection, which keeps the stored one instead of clearing it.
    """
    selection = dict(event.get("selection", {})) if event is not None else {}
    signature = json.dumps(selection, sort_keys=True, default=str)
    previous = st.session_state.get(_EVENT_SIGNATURE)
    same_chart = mounted and previous is not None and previous[0] == chart_settings
    changed = previous is None or previous[1] != signature
    has_selection = any(selection.get(part) for part in ("points", "box", "lasso"))
    if changed and (same_chart or has_selection):
        st.session_state[state.SELECTED_IDS] = selection_image_ids(selection, frame)
    st.session_state[_EVENT_SIGNATURE] = (chart_settings, signature)


def focus_panel(root: Path, manifest: pd.DataFrame, embeddings, image_id: str, k: int, saliency_page: str | None) -> str | None:
    """Show one image large with its metadata and its nearest real and synthetic neighbours.

    Returns
    -------
    str or None
        The image_id of a neighbour whose button was clicked, if any.
    """
    rows = manifest[manifest["image_id"] == image_id]
    if rows.empty:
        st.info(f"Image {image_id} is not in the current dataset.")
        return None
    row = rows.iloc[0]

    st.subheader(f"Image {image_id}")
    image_column, metadata_column = st.columns([1, 1])
    with image_column:
        data = row_thumbnail(root, row, LARGE_IMAGE_SIDE)
        if data is None:
            st.warning("This image could not be decoded.")
        else:
            st.image(data, caption=image_caption(row))
    with metadata_column:
        metadata = row.drop(labels=[c for c in HIDDEN_METADATA if c in row.index]).astype(str)
        st.dataframe(metadata.rename("value").to_frame(), key="focus_metadata")
        if saliency_page is not None:
            st.page_link(saliency_page, label="Explain this image on the Saliency page", icon=":material/visibility:")

    if image_id not in set(embeddings.image_ids):
        st.info("This image has no embedding, so it has no neighbours.")
        return None
    clicked = None
    for source in ("real", "synthetic"):
        candidates = manifest.loc[manifest["source"] == source, "image_id"].tolist()
        neighbours = nearest_neighbours(embeddings.vectors, embeddings.image_ids, image_id, candidates, k=k)
        st.markdown(f"**{count_noun(k, 'nearest ' + source + ' image')}** (cosine similarity of embeddings)")
        if neighbours.empty:
            st.caption(f"No other {source} image has an embedding.")
            continue
        neighbour_rows = manifest.set_index("image_id", drop=False).loc[neighbours["image_id"]].reset_index(drop=True)
        captions = [
            f"{image_caption(r)} · {r['condition']} · cos {s:.3f}"
            for (_, r), s in zip(neighbour_rows.iterrows(), neighbours["similarity"])
        ]
        picked = thumbnail_grid(
            root, neighbour_rows, captions, n_columns=min(k, 6), button_label="Inspect", key_prefix=f"nn-{source}"
        )
        clicked = clicked or picked
    return clicked
