"""Shared pytest setup: offline model hubs, a per-session cache, shared fixtures.

Fixtures live in ``tests/fixtures_<area>.py`` modules and are re-exported here.
"""

from __future__ import annotations

import os

# Set before anything imports huggingface_hub or open_clip, so no test can
# reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Point the explorer's cache at a temp folder for the whole test session."""
    path = tmp_path_factory.mktemp("explorer-cache")
    previous = os.environ.get("RDFACE_EXPLORER_CACHE")
    os.environ["RDFACE_EXPLORER_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("RDFACE_EXPLORER_CACHE", None)
    else:
        os.environ["RDFACE_EXPLORER_CACHE"] = previous


from tests.fixtures_demo import *  # noqa: E402,F401,F403
from tests.fixtures_models import *  # noqa: E402,F401,F403
from tests.fixtures_app import *  # noqa: E402,F401,F403
