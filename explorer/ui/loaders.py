"""Data access for the pages: dataset, model, embeddings and projections of the session.

Every loader reads the session's dataset root and model spec itself, so a page
only calls ``app_dataset()``, ``app_embeddings()`` and so on.

Caching follows the data's size and sharing:

- the model is a shared read-only resource (``st.cache_resource``).
- the dataset, embeddings and projections are kept per session in
  ``st.session_state`` (a bounded memo keyed by content hashes and parameters),
  because ``st.cache_data`` would copy large arrays on every rerun. Across
  sessions and restarts the on-disk artifact cache makes them cheap to reload.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from explorer.ui import state

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Results kept per session. The oldest entry is dropped first.
SESSION_MEMO_SIZE = 8
_MEMO_KEY = "_loader_memo"


def session_memo(key: Hashable, compute: Callable[[], T]) -> T:
    """Return the session's stored result for ``key``, computing it on a miss.

    ``key`` must contain everything the result depends on (content hashes,
    parameters), as for ``st.cache_data``.
    """
    memo: OrderedDict[Hashable, Any] = st.session_state.setdefault(_MEMO_KEY, OrderedDict())
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    value = compute()
    memo[key] = value
    while len(memo) > SESSION_MEMO_SIZE:
        memo.popitem(last=False)
    return value


class ProgressBar:
    """A ``st.progress`` bar fed by ``(done, total)`` callbacks and removed by ``close``."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._bar = st.progress(0.0, text=text)

    def __call__(self, done: int, total: int | None = None, *_: Any) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
        label = f"{self._text} ({done:,} of {total:,})" if total else self._text
        self._bar.progress(fraction, text=label)

    def close(self) -> None:
        self._bar.empty()


def app_dataset_root() -> Path:
    """Return the session's dataset folder, rendering the demo dataset on first use."""
    state.init_session_state()
    root = st.session_state.get(state.DATASET_ROOT)
    if root is not None:
        return Path(root)
    return session_memo(("demo-root",), _render_demo)


def _render_demo() -> Path:
    from explorer.demo import ensure_demo

    bar = ProgressBar("Rendering the demo dataset (first start only)")
    try:
        return ensure_demo(progress=bar)
    finally:
        bar.close()


def app_dataset():
    """Return the session's :class:`explorer.dataset.Dataset`, loaded once per session."""
    from explorer.dataset import load_dataset

    root = app_dataset_root()
    layout = st.session_state.get(state.LAYOUT)

    def load():
        with st.spinner(f"Reading dataset {root}"):
            return load_dataset(root, layout=layout)

    return session_memo(("dataset", str(root), layout), load)


@st.cache_resource(show_spinner="Loading the embedding model")
def _load_model_cached(name: str, pretrained: str | None, checkpoint: str | None, random_weights: bool):
    from explorer.embeddings import ModelSpec, load_model

    spec = ModelSpec(
        name=name,
        pretrained=pretrained,
        checkpoint=Path(checkpoint) if checkpoint else None,
        random_weights=random_weights,
    )
    return load_model(spec)


def app_model():
    """Return the session's :class:`explorer.embeddings.LoadedModel`, shared by all sessions."""
    state.init_session_state()
    spec = st.session_state[state.MODEL_SPEC]
    checkpoint = str(spec.checkpoint) if spec.checkpoint else None
    return _load_model_cached(spec.name, spec.pretrained, checkpoint, spec.random_weights)


def model_is_random() -> bool:
    """Return whether the session's model has random weights, without loading it."""
    state.init_session_state()
    return bool(st.session_state[state.MODEL_SPEC].random_weights)


def app_embeddings(progress: bool = True):
    """Return the session's :class:`explorer.embeddings.EmbeddingSet`, embedding on a miss.

    Vectors already in the on-disk cache are read back without loading the
    model, so a second session, or a restart, embeds nothing again.
    """
    from explorer.embeddings import embed_dataset

    dataset = app_dataset()
    spec = st.session_state[state.MODEL_SPEC]

    def embed():
        bar = ProgressBar("Embedding images") if progress else None
        try:
            return embed_dataset(dataset, spec, progress=bar)
        finally:
            if bar is not None:
                bar.close()

    return session_memo(("embeddings", dataset.fingerprint, spec), embed)


def app_projection(params):
    """Return the 2-D UMAP projection of the session's embeddings for ``params``.

    Parameters
    ----------
    params : explorer.projection.ProjectionParams
        UMAP settings and the fit mode (``"all"``, or ``"real"`` to fit on real
        images and place synthetic ones).

    Returns
    -------
    explorer.projection.Projection
    """
    from explorer.projection import project

    embeddings = app_embeddings()
    manifest = app_dataset().manifest
    sources = dict(zip(manifest["image_id"], manifest["source"]))

    def compute():
        with st.spinner("Computing the UMAP projection (stored for next time)"):
            return project(embeddings, params, sources=sources)

    return session_memo(("projection", embeddings.key, params), compute)
