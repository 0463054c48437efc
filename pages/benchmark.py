"""Benchmark page: classifier heads on the embeddings, per protocol and training-set variant."""

from __future__ import annotations

import streamlit as st

from explorer.classifier import TOP_K, condition_gains, confusion_figure, gain_figure
from explorer.ui.benchmark import (
    app_benchmark_report,
    few_images_caption,
    head_picker,
    protocol_picker,
    variant_picker,
)
from explorer.ui.loaders import app_dataset

st.title("Benchmark")
st.caption(
    "Heads trained on frozen image embeddings and tested on real images only. "
    "Synthetic images never enter a test set."
)
manifest = app_dataset().manifest

protocol = protocol_picker()
controls = st.columns([3, 2])
with controls[0]:
    variant_names = variant_picker(manifest)
with controls[1]:
    head = head_picker()

report = app_benchmark_report(protocol, variant_names, head)
for note in report.notes():
    st.info(note)

st.subheader("Results (mean ± SD over splits)")
st.dataframe(report.summary_table(), key="benchmark_summary")
st.dataframe(report.split_counts(), hide_index=True, key="benchmark_counts")

st.subheader("Per condition")
k = st.selectbox("Top-k of the per-condition table", TOP_K, key="benchmark_condition_k")
st.caption(
    "Click a column header to sort; the table starts sorted by the first variant's gain. "
    + few_images_caption()
)
st.dataframe(report.per_condition_table(k), hide_index=True, key="benchmark_per_condition")
others = [name for name in report.variant_names if name != "real"]
if others:
    gain_variant = st.selectbox("Gain chart for", others, key="benchmark_gain_variant")
    gains = condition_gains(report.baseline, report.results[gain_variant], k=1)
    st.plotly_chart(gain_figure(gains, gain_variant), key="benchmark_gain_chart")

st.subheader("Confusions")
confused_variant = st.selectbox("Variant", report.variant_names, key="benchmark_confusion_variant")
st.plotly_chart(confusion_figure(report.results[confused_variant]), key="benchmark_confusion")
st.caption(
    "Only conditions involved in a top-1 error are shown. Row labels give the number of distinct "
    "test images; '*' marks fewer than five. " + few_images_caption()
)

untested = report.untested_conditions()
if len(untested):
    with st.expander(f"{len(untested)} condition(s) never tested"):
        st.dataframe(untested, hide_index=True, key="benchmark_untested")
