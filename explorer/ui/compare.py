"""Compare page pieces: the session's comparison, the zoomed map, image grids and the landmark filter."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.compare import CompareSettings
from explorer.compare.report import DEFAULT_BOOTSTRAP, DEFAULT_PERMUTATIONS
from explorer.compare.runner import DatasetComparison
from explorer.landmarks import DEFAULT_SHAPE_THRESHOLD, SCORE_HIGHER_IS_BETTER
from explorer.ui.loaders import (
    app_dataset,
    app_embeddings,
    app_projection,
    session_memo,
)

BOOTSTRAP_KEY = "compare_bootstrap"
PERMUTATIONS_KEY = "compare_permutations"

# Landmark score -> label shown in the filter.
LANDMARK_SCORE_LABELS = {
    "shape_score": "Procrustes shape distance / real spread (lower is closer)",
    "rdface_score": "RDFace landmark similarity (higher is closer)",
}
# Upper end of the shape-score slider, in units of the real within-condition spread.
SHAPE_SLIDER_MAX = 6.0


def comparison_settings() -> CompareSettings:
    """Draw the resampling controls and return the settings they select."""
    st.session_state.setdefault(BOOTSTRAP_KEY, DEFAULT_BOOTSTRAP)
    st.session_state.setdefault(PERMUTATIONS_KEY, DEFAULT_PERMUTATIONS)
    with st.expander("Resampling"):
        columns = st.columns(2)
        columns[0].number_input("Bootstrap resamples", min_value=0, max_value=5000, step=50, key=BOOTSTRAP_KEY)
        columns[1].number_input("Permutations", min_value=0, max_value=5000, step=50, key=PERMUTATIONS_KEY)
    return CompareSettings(n_bootstrap=int(st.session_state[BOOTSTRAP_KEY]), n_permutations=int(st.session_state[PERMUTATIONS_KEY]))


def app_comparison(settings: CompareSettings) -> DatasetComparison:
    """Return the comparison of the session's dataset and embeddings, computed once and cached on disk."""
    from explorer.cache import ArtifactCache
    from explorer.compare.runner import compare_dataset

    dataset = app_dataset()
    embeddings = app_embeddings()

    def compute() -> DatasetComparison:
        with st.spinner("Comparing real and synthetic images (stored for next time)"):
            return compare_dataset(
                dataset,
                embeddings.image_ids,
                embeddings.vectors,
                settings,
                embedding_source=embeddings.model_id,
                embedding_key=embeddings.key,
                is_random=embeddings.is_random,
                cache=ArtifactCache(),
            )

    return session_memo(("comparison", dataset.fingerprint, embeddings.key, settings), compute)


def condition_map(condition: str):
    """Return the Map figure zoomed to one condition (all its images, coloured by generator)."""
    from explorer.maps import (
        MapFilters,
        build_map_figure,
        condition_centroids,
        filter_map_frame,
        map_frame,
    )
    from explorer.projection import ProjectionParams

    manifest = app_dataset().manifest
    projection = app_projection(ProjectionParams())
    frame = map_frame(manifest, projection.image_ids, projection.coords[["x", "y"]].to_numpy())
    visible = filter_map_frame(frame, MapFilters(conditions=(condition,)))
    return build_map_figure(visible, color_by="generator", centroids=condition_centroids(visible), height=420)


def image_rows(image_ids: pd.Series) -> pd.DataFrame:
    """Return the manifest rows of the given image ids, in that order."""
    manifest = app_dataset().manifest.set_index("image_id", drop=False)
    ids = [i for i in image_ids.astype(str) if i in manifest.index]
    return manifest.loc[ids].reset_index(drop=True)


def landmark_filter_controls(scores: pd.DataFrame, condition: str) -> tuple[str, float]:
    """Draw the score choice and the threshold slider; return the score column and threshold."""
    columns = st.columns([2, 3])
    score = columns[0].radio(
        "Landmark score", list(LANDMARK_SCORE_LABELS), format_func=LANDMARK_SCORE_LABELS.get, key="compare_landmark_score"
    )
    values = scores.loc[scores["condition"] == condition, score].dropna()
    if SCORE_HIGHER_IS_BETTER[score]:
        low = float(min(values.min(), 0.99)) if len(values) else 0.9
        threshold = columns[1].slider(
            "Accept synthetic images with a score of at least", min_value=round(low, 4), max_value=1.0,
            value=round(low, 4), step=0.0001, format="%.4f", key=f"compare_threshold_{score}",
        )
    else:
        threshold = columns[1].slider(
            "Accept synthetic images with a score of at most", min_value=0.0, max_value=SHAPE_SLIDER_MAX,
            value=DEFAULT_SHAPE_THRESHOLD, step=0.1, key=f"compare_threshold_{score}",
        )
    return score, float(threshold)
