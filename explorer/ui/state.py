"""Session-state keys of the app, initialised once per browser session by ``app.py``."""

from __future__ import annotations

import logging
import os
from typing import Any

import streamlit as st

from explorer.settings import ENV_CACHE_DIR
from explorer.ui.config import AppConfig

logger = logging.getLogger(__name__)

# Keys shared between pages.
SELECTED_IDS = "selected_ids"  # list[str]: images selected on the Map page
FOCUS_IMAGE_ID = "focus_image_id"  # str | None: image clicked on the Map page
DATASET_ROOT = "dataset_root"  # str | None: dataset folder, None for the demo
MODEL_SPEC = "model_spec"  # ModelSpec of the embedding model
ALLOWED_ROOTS = "allowed_dataset_roots"  # tuple[str, ...] the sidebar may open
LAYOUT = "dataset_layout"  # str | None: dataset layout, None to detect


def session_defaults(config: AppConfig) -> dict[str, Any]:
    """Return the initial value of every shared session-state key."""
    return {
        SELECTED_IDS: [],
        FOCUS_IMAGE_ID: None,
        DATASET_ROOT: str(config.dataset_root) if config.dataset_root is not None else None,
        MODEL_SPEC: config.model_spec,
        ALLOWED_ROOTS: tuple(str(root) for root in config.allowed_roots),
        LAYOUT: config.layout,
    }


def leave_pages_directory_mode() -> None:
    """Rerun through ``app.py`` when Streamlit started this run in its ``pages/`` folder mode.

    Streamlit runs an app whose folder contains ``pages/`` in its older
    multipage mode until some run calls ``st.navigation``. In that mode a page
    opened by URL on the server's first run executes without ``app.py`` (no
    sidebar, no banner). Clearing the flag (a class attribute of Streamlit's
    PagesManager, read at the start of each run) and rerunning sends this
    same page through ``app.py``'s navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        logger.info("left Streamlit's pages-folder mode, rerunning through app.py")
        st.rerun()


def init_session_state(config: AppConfig | None = None) -> None:
    """Set every shared key that is not set yet, keeping existing values.

    ``config`` defaults to the script arguments and environment variables
    (see :func:`explorer.ui.config.app_config_from_environment`). Loaders call
    this too, so a page that runs without ``app.py`` still finds its keys.
    """
    leave_pages_directory_mode()
    if all(key in st.session_state for key in (SELECTED_IDS, FOCUS_IMAGE_ID, DATASET_ROOT, MODEL_SPEC)):
        return
    if config is None:
        from explorer.ui.config import app_config_from_environment

        config = app_config_from_environment()
    if config.cache_dir is not None:
        # Every cache user in the server process reads this variable, so the
        # --cache-dir script argument reaches all of them.
        os.environ[ENV_CACHE_DIR] = str(config.cache_dir)
    for key, value in session_defaults(config).items():
        if key not in st.session_state:
            st.session_state[key] = value


def set_dataset_root(root: str | None) -> None:
    """Switch the session to another dataset and clear what belonged to the old one."""
    st.session_state[DATASET_ROOT] = root
    st.session_state[SELECTED_IDS] = []
    st.session_state[FOCUS_IMAGE_ID] = None
