"""RDFace Explorer: look at small facial-image benchmarks of rare genetic conditions.

The library computes; the Streamlit pages in ``pages/`` only render. Logging goes
to the ``explorer`` logger, at WARNING unless ``RDFACE_EXPLORER_LOG_LEVEL`` sets
another level.
"""

from __future__ import annotations

import logging
import os

from explorer.errors import (
    CacheError,
    DatasetError,
    DatasetNotFoundError,
    ExplorerError,
    ImageDecodeError,
    LayoutError,
    ModelLoadError,
    ProjectionError,
    WeightsNotFoundError,
)
from explorer.settings import ENV_LOG_LEVEL

__version__ = "0.1.0"

logger = logging.getLogger("explorer")
logger.setLevel(os.environ.get(ENV_LOG_LEVEL, "WARNING").upper())

__all__ = [
    "CacheError",
    "DatasetError",
    "DatasetNotFoundError",
    "ExplorerError",
    "ImageDecodeError",
    "LayoutError",
    "ModelLoadError",
    "ProjectionError",
    "WeightsNotFoundError",
    "__version__",
]
