"""Locations and environment variables shared by the library, the app and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

# Environment variables read by the explorer. They are documented in the README.
ENV_CACHE_DIR = "RDFACE_EXPLORER_CACHE"
ENV_DATASET = "RDFACE_EXPLORER_DATASET"
ENV_DATASET_ROOTS = "RDFACE_EXPLORER_DATASET_ROOTS"
ENV_MODEL = "RDFACE_EXPLORER_MODEL"
ENV_PRETRAINED = "RDFACE_EXPLORER_PRETRAINED"
ENV_CHECKPOINT = "RDFACE_EXPLORER_CHECKPOINT"
ENV_WEIGHTS = "RDFACE_EXPLORER_WEIGHTS"
ENV_LOG_LEVEL = "RDFACE_EXPLORER_LOG_LEVEL"

APP_NAME = "rdface-explorer"


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the cache directory, creating it when missing.

    The order is: ``override`` (a ``--cache-dir`` flag), then the
    ``RDFACE_EXPLORER_CACHE`` environment variable, then the user's cache
    directory (``~/.cache/rdface-explorer`` on Linux).
    """
    if override is not None:
        path = Path(override)
    elif os.environ.get(ENV_CACHE_DIR):
        path = Path(os.environ[ENV_CACHE_DIR])
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir(APP_NAME))
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
