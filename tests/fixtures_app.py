"""Streamlit app fixtures: the app on the demo dataset with a tiny random-weight model."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.embeddings import TINY_VIT
from explorer.ui.apptest import navigation_only_pages_manager
from explorer.settings import (
    ENV_CACHE_DIR,
    ENV_CHECKPOINT,
    ENV_DATASET,
    ENV_DATASET_ROOTS,
    ENV_MODEL,
    ENV_PRETRAINED,
    ENV_WEIGHTS,
)


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

    monkeypatch.setattr(app_test_module, "PagesManager", navigation_only_pages_manager())
    return variables
