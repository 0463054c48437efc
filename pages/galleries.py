"""Galleries page: one condition's real images beside its synthetic images, one row per generator."""

from __future__ import annotations

import streamlit as st

from explorer.gallery import (
    condition_counts,
    condition_gallery,
    condition_label,
    image_caption,
    similarity_to_nearest_real,
    sort_by_similarity,
)
from explorer.text import count_noun
from explorer.ui.loaders import app_dataset, app_embeddings
from explorer.ui.thumbnails import GRID_THUMBNAIL_SIDE
from explorer.ui.widgets import thumbnail_grid

# Thumbnail sizes offered, in pixels of the longest side, and the columns that fit them.
THUMBNAIL_SIZES = {"small": (96, 10), "medium": (GRID_THUMBNAIL_SIDE, 7), "large": (256, 4)}

st.title("Galleries")
dataset = app_dataset()
counts = condition_counts(dataset.manifest)
labels = {row["condition"]: condition_label(row) for _, row in counts.iterrows()}

controls = st.columns([3, 1, 1])
condition = controls[0].selectbox(
    "Condition", options=list(labels), format_func=labels.get, key="gallery_condition",
    help="Type to search. The counts are real and synthetic images.",
)
size = controls[1].selectbox("Thumbnail size", options=list(THUMBNAIL_SIZES), index=1, key="gallery_size")
max_images = controls[2].number_input(
    "Images shown per group", min_value=1, max_value=200, value=14, key="gallery_max",
    help="Thumbnails drawn for the real images and for each generator; the heading of each group "
    "gives its full count. The thumbnail size sets how many fit on one line.",
)
sort_synthetic = st.toggle("Sort synthetic images by similarity to their nearest real image", key="gallery_sort")
max_side, n_columns = THUMBNAIL_SIZES[size]

gallery = condition_gallery(dataset.manifest, condition)
similarity = None
if sort_synthetic:
    embeddings = app_embeddings()
    synthetic_ids = [i for rows in gallery.synthetic.values() for i in rows["image_id"]]
    similarity = similarity_to_nearest_real(
        embeddings.vectors, embeddings.image_ids, synthetic_ids, gallery.real["image_id"].tolist()
    )
    if similarity.empty:
        st.info("No real image of this condition has an embedding, so synthetic images keep their order.")


def draw_row(title: str, rows, scores=None) -> None:
    """Draw one labelled gallery row, at most ``max_images`` thumbnails."""
    shown = rows.iloc[: int(max_images)]
    st.markdown(f"**{title}** — {count_noun(len(rows), 'image')}" + (f", first {len(shown)} shown" if len(shown) < len(rows) else ""))
    captions = [
        image_caption(row, None if scores is None else scores.get(row["image_id"]))
        for _, row in shown.iterrows()
    ]
    thumbnail_grid(dataset.root, shown, captions, n_columns=n_columns, max_side=max_side, key_prefix=f"gallery-{title}")


if gallery.real.empty:
    st.info(f"{condition} has no real images.")
else:
    draw_row("Real", gallery.real)
if not gallery.synthetic:
    st.info(f"{condition} has no synthetic images.")
for generator, rows in gallery.synthetic.items():
    if similarity is not None and not similarity.empty:
        rows = sort_by_similarity(rows, similarity)
    draw_row(f"Synthetic: {generator or 'unknown generator'}", rows, similarity)
