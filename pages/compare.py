"""Compare page: real vs synthetic per condition and generator, with intervals, copies and landmarks."""

from __future__ import annotations

import streamlit as st

from explorer.compare.report import METRIC_LABELS, OVERALL
from explorer.compare.tables import (
    TABLE_METRICS,
    condition_options,
    defect_findings,
    faithful_extremes,
    flagged_pairs,
    generator_options,
    pair_image,
    styled_table,
    wide_table,
)
from explorer.errors import ProjectionError
from explorer.landmarks import MEASUREMENTS, filter_summary, landmark_filter
from explorer.text import count_noun
from explorer.ui.compare import (
    app_comparison,
    comparison_settings,
    condition_map,
    image_rows,
    landmark_filter_controls,
)
from explorer.ui.loaders import app_dataset
from explorer.ui.widgets import thumbnail_grid

# Images per row of the faithful/unfaithful and landmark grids, and pairs shown.
GRID_COLUMNS = 6
MAX_PAIRS = 8

st.title("Compare real and synthetic")
dataset = app_dataset()
settings = comparison_settings()
comparison = app_comparison(settings)
report = comparison.report
st.caption(f"Embeddings: {comparison.embedding_source}")

st.subheader("Most extreme cell per check")
st.dataframe(defect_findings(report.metrics), hide_index=True, width="stretch")
st.caption("Each check names its most extreme cell, even when nothing is wrong; read the value with its interval.")

st.subheader("Condition × generator")
shown = st.multiselect(
    "Metrics", list(TABLE_METRICS), default=list(TABLE_METRICS[:9]), format_func=METRIC_LABELS.get, key="compare_metrics"
)
table = wide_table(report.metrics, tuple(shown))
st.dataframe(styled_table(table), hide_index=True, width="stretch", key="compare_table")
st.caption(
    "Click a column heading to sort. Yellow: worth a look; red: likely problem. "
    f"Rows '{OVERALL}' pool every condition of a generator."
)
st.download_button("Download the table (CSV)", table.frame.to_csv(index=False), "compare_table.csv", "text/csv")
with st.expander("How these numbers are computed"):
    for note in report.notes:
        st.markdown(f"- {note}")
    st.dataframe(report.pooled, hide_index=True)

st.header("One condition")
controls = st.columns([3, 2])
condition = controls[0].selectbox("Condition", condition_options(report), key="compare_condition")
generator = controls[1].selectbox("Generator", ["(all)", *generator_options(report)], key="compare_generator")
chosen_generator = None if generator == "(all)" else generator

try:
    st.plotly_chart(condition_map(condition), width="stretch", key="compare_map")
except ProjectionError as error:
    st.info(f"The map of {condition} is not drawn: {error}")

most, least = faithful_extremes(report, condition, chosen_generator, n=GRID_COLUMNS)
st.subheader("Most faithful synthetic images")
thumbnail_grid(dataset.root, image_rows(most["image_id"]), [f"{s:.3f}" for s in most["centroid_similarity"]], n_columns=GRID_COLUMNS, key_prefix="most")
st.subheader("Least faithful synthetic images")
thumbnail_grid(dataset.root, image_rows(least["image_id"]), [f"{s:.3f}" for s in least["centroid_similarity"]], n_columns=GRID_COLUMNS, key_prefix="least")
st.caption("Score: cosine similarity to the condition's mean real embedding.")

st.subheader("Possible copies of real images")
st.caption(report.threshold.describe())
pairs = flagged_pairs(report, condition, limit=MAX_PAIRS)
if pairs.empty:
    st.write(report.threshold.describe_no_flags())
for _, pair in pairs.iterrows():
    st.image(
        pair_image(dataset.root, dataset.manifest, pair["image_id"], pair["nearest_real_id"]),
        caption=f"{pair['image_id']} (left) vs real {pair['nearest_real_id']}: cosine {pair['similarity']:.4f}",
    )

st.subheader("Landmark filter")
if comparison.landmark_scores.empty:
    st.info("This dataset carries no facial landmarks, so the landmark filter is not available.")
else:
    score, threshold = landmark_filter_controls(comparison.landmark_scores, condition)
    filtered = landmark_filter(comparison.landmark_scores[comparison.landmark_scores["condition"] == condition], threshold, score)
    if chosen_generator:
        filtered = filtered[filtered["generator"] == chosen_generator]
    counts = filtered["decision"].value_counts()
    kept, rejected, unscored = (int(counts.get(name, 0)) for name in ("accepted", "rejected", "unscored"))
    st.markdown(f"**Kept {kept} of {count_noun(kept + rejected, 'scored synthetic image')}**" + (f"; {unscored} unscored (too few real images)" if unscored else ""))
    st.dataframe(filter_summary(filtered), hide_index=True)
    for decision in ("accepted", "rejected"):
        rows = filtered[filtered["decision"] == decision].sort_values(score, ascending=decision == "accepted")
        st.markdown(f"{decision.capitalize()} ({len(rows)})")
        thumbnail_grid(dataset.root, image_rows(rows["image_id"]), [f"{v:.3f}" for v in rows[score]], n_columns=GRID_COLUMNS, key_prefix=decision)

    if not comparison.measurements.empty:
        st.subheader("Facial measurements, synthetic minus real")
        measured = comparison.measurements[comparison.measurements["condition"] == condition]
        st.dataframe(measured.assign(measurement=measured["metric"].map(MEASUREMENTS)), hide_index=True)
