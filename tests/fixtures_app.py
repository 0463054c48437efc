"""Streamlit app fixtures: the app on the demo dataset with a tiny random-weight model."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.embeddings import TINY_VIT
from explorer.settings import (
    ENV_CACHE_DIR,
    ENV_CHECKPOINT,
    ENV_DATASET,
    ENV_DATASET_ROOTS,
    ENV_MODEL,
    ENV_PRETRAINED,
    ENV_WEIGHTS,
)


def _navigation_only_pages_manager():
    """Return a PagesManager class that keeps Streamlit's ``pages/`` folder mode off.

    AppTest resets Streamlit's folder-mode flag before every run. The app then
    leaves that mode by rerunning (``explorer.ui.state.leave_pages_directory_mode``),
    which a server does once but AppTest would do on every run, dropping
    button clicks. This class clears the flag as soon as AppTest sets it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    class NavigationOnlyPagesManager(PagesManager):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    return NavigationOnlyPagesManager


@pytest.fixture
def app_env(
    monkeypatch: pytest.MonkeyPatch, demo_root: Path, tiny_vit_checkpoint: Path, session_cache_dir: Path
) -> dict[str, str]:
    """Set the environment so ``app.py`` opens the demo dataset with the tiny ViT, random weights.

    Returns the variables set, so a test can pass them to a ``streamlit run``
    subprocess. The cache is the test session's, so embeddings and projections
    computed by one test are read back by the next.
    """
    variables = {
        ENV_DATASET: str(demo_root),
        ENV_MODEL: TINY_VIT,
        ENV_PRETRAINED: "",
        ENV_CHECKPOINT: str(tiny_vit_checkpoint),
        ENV_WEIGHTS: "random",
        ENV_CACHE_DIR: str(session_cache_dir),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(ENV_DATASET_ROOTS, raising=False)

    import streamlit.testing.v1.app_test as app_test_module

    monkeypatch.setattr(app_test_module, "PagesManager", _navigation_only_pages_manager())
    return variables
