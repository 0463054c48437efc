"""Widgets and the cached report loader of the Benchmark page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.classifier import (
    HEAD_KINDS,
    MIN_TEST_IMAGES,
    BenchmarkReport,
    HeadSettings,
    available_variants,
    benchmark_report,
    default_variant_names,
    make_protocol,
)
from explorer.classifier.protocols import GroupedKFoldProtocol, RareGalleryProtocol, RDFaceProtocol
from explorer.ui.loaders import ProgressBar, app_dataset, app_embeddings, session_memo

PROTOCOL_LABELS = {
    RDFaceProtocol.name: "RDFace (fixed test part, k-fold models)",
    GroupedKFoldProtocol.name: "Grouped k-fold (by subject)",
    RareGalleryProtocol.name: "Rare conditions (gallery/test)",
}
HEAD_LABELS = {
    "linear_probe": "Linear probe (logistic regression)",
    "nearest_class_mean": "Nearest class mean (cosine)",
}
PROTOCOL_HELP = (
    "RDFace: conditions with one subject always train; 25% of the rest is a fixed test part, and "
    "each of k fold models trains on the rest. Grouped k-fold: stratified folds that never split "
    "a subject. Rare conditions: one subject per condition is the test case, the rest the gallery, "
    "repeated over several splits (GestaltMatcher style)."
)
MAX_FOLDS = 20
MAX_RARE_SPLITS = 50


def protocol_picker():
    """Draw the protocol radio and its settings; return the protocol settings."""
    name = st.radio(
        "Protocol",
        list(PROTOCOL_LABELS),
        format_func=PROTOCOL_LABELS.get,
        horizontal=True,
        key="benchmark_protocol",
        help=PROTOCOL_HELP,
    )
    with st.expander("Protocol settings"):
        columns = st.columns(2)
        seed = int(columns[1].number_input("Seed", min_value=0, value=0, step=1, key="benchmark_seed"))
        if name == RareGalleryProtocol.name:
            splits = columns[0].number_input(
                "Splits", min_value=1, max_value=MAX_RARE_SPLITS, value=10, key="benchmark_splits"
            )
            return make_protocol(name, n_splits=int(splits), seed=seed)
        folds = columns[0].number_input(
            "Folds", min_value=2, max_value=MAX_FOLDS, value=5, key="benchmark_folds"
        )
        return make_protocol(name, n_folds=int(folds), seed=seed)


def variant_picker(manifest: pd.DataFrame) -> tuple[str, ...]:
    """Draw the training-set variant picker; return the chosen names (``real`` always runs)."""
    options = [variant.name for variant in available_variants(manifest)]
    chosen = st.multiselect(
        "Training-set variants",
        options,
        default=default_variant_names(manifest),
        key="benchmark_variants",
        help="Synthetic images only ever train. 'synthetic' trains on synthetic images alone and "
        "tests on real ones. Every gain is measured against 'real' (real images only).",
    )
    return tuple(chosen)


def head_picker() -> HeadSettings:
    """Draw the head picker; return its settings."""
    kind = st.selectbox("Head", HEAD_KINDS, format_func=HEAD_LABELS.get, key="benchmark_head")
    return HeadSettings(kind=kind)


def app_benchmark_report(protocol, variant_names: tuple[str, ...], head: HeadSettings) -> BenchmarkReport:
    """Return the benchmark report of the session's dataset and embeddings.

    Results are kept for the session and stored in the on-disk cache, keyed by
    the embedding set, the labels, the protocol settings, the variant and the head.
    """
    dataset = app_dataset()
    embeddings = app_embeddings()

    def compute() -> BenchmarkReport:
        bar = ProgressBar("Training and scoring heads (stored for next time)")
        try:
            return benchmark_report(
                dataset.manifest,
                embeddings.image_ids,
                embeddings.vectors,
                protocol,
                list(variant_names),
                head,
                embedding_key=embeddings.key,
                progress=bar,
            )
        finally:
            bar.close()

    key = ("benchmark", embeddings.key, dataset.fingerprint, protocol, variant_names, head)
    return session_memo(key, compute)


def few_images_caption() -> str:
    """Return the caption that explains the few-test-images mark."""
    return (
        f"Rows noted 'fewer than {MIN_TEST_IMAGES} test images' rest on very few real test images; "
        "treat their accuracies and gains as anecdotes, not estimates."
    )
