"""Overview page: what the dataset contains and what the import left out."""

from __future__ import annotations

import streamlit as st

from explorer.overview import (
    condition_generator_counts,
    counts_bar_figure,
    images_per_condition_histogram,
    source_generator_counts,
)
from explorer.text import count_noun
from explorer.ui.loaders import app_dataset

st.title("Overview")
dataset = app_dataset()
manifest = dataset.manifest
report = dataset.report

n_real = int((manifest["source"] == "real").sum())
n_synthetic = int((manifest["source"] == "synthetic").sum())
metrics = st.columns(4)
metrics[0].metric("Images", f"{len(manifest):,}")
metrics[1].metric("Real", f"{n_real:,}")
metrics[2].metric("Synthetic", f"{n_synthetic:,}")
metrics[3].metric("Conditions", f"{manifest['condition'].nunique():,}")
st.caption(f"Folder `{dataset.root}`, layout `{dataset.layout}`.")

st.subheader("Images by source and generator")
st.dataframe(source_generator_counts(manifest), hide_index=True, key="source_counts")

st.subheader("Images by condition")
st.plotly_chart(counts_bar_figure(manifest), key="condition_bar_chart")
st.dataframe(condition_generator_counts(manifest), key="condition_counts")
st.plotly_chart(images_per_condition_histogram(manifest), key="condition_histogram")

st.subheader("Validation report")
errors, warnings = report.errors, report.warnings
st.markdown(
    f"**{count_noun(len(errors), 'image')}** left out, **{count_noun(len(warnings), 'image')}** flagged but kept, "
    f"**{count_noun(report.junk_skipped, 'OS clutter file')}** skipped."
)
if report.single_image_conditions:
    st.markdown("Conditions with a single real image: " + ", ".join(report.single_image_conditions))
if report.synthetic_only_conditions:
    st.markdown("Synthetic conditions without real images: " + ", ".join(report.synthetic_only_conditions))
if report.merged_labels:
    merged = "; ".join(f"{label} ← {', '.join(variants)}" for label, variants in sorted(report.merged_labels.items()))
    st.markdown(f"Merged condition labels: {merged}")
if report.entries:
    st.dataframe(report.to_frame(), hide_index=True, key="validation_report")
else:
    st.success("Every image in the folder was imported.")
st.download_button(
    "Download the validation report",
    report.format_text(),
    file_name="validation-report.txt",
    mime="text/plain",
)
