"""Sidebar shared by every page: which dataset and model the session uses."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.ui import state
from explorer.ui.config import check_dataset_choice


def dataset_sidebar() -> None:
    """Show the session's dataset and model, and offer another dataset when roots are configured."""
    root = st.session_state.get(state.DATASET_ROOT)
    spec = st.session_state[state.MODEL_SPEC]
    sidebar = st.sidebar
    sidebar.markdown("**Dataset:** " + (f"`{root}`" if root else "demo (procedural faces, no real photos)"))
    weights = "random weights" if spec.random_weights else (spec.pretrained or "checkpoint")
    sidebar.markdown(f"**Model:** `{spec.name}` ({weights})")

    allowed = st.session_state.get(state.ALLOWED_ROOTS) or ()
    if not allowed:
        return
    with sidebar.form("dataset_form", border=False):
        text = st.text_input(
            "Open dataset folder",
            placeholder=str(allowed[0]),
            help="A folder inside one of: " + ", ".join(allowed),
        )
        submitted = st.form_submit_button("Open")
    if submitted:
        try:
            chosen = check_dataset_choice(text, allowed)
        except ExplorerError as error:
            sidebar.error(str(error))
        else:
            state.set_dataset_root(str(chosen))
            st.rerun()
    if root is not None and sidebar.button("Back to the demo dataset"):
        state.set_dataset_root(None)
        st.rerun()
