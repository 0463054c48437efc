"""Cached thumbnails for the pages, encoded as small PNGs.

Only thumbnails reach the browser: an image is decoded at reduced size by
``explorer.images.load_thumbnail`` and re-encoded without metadata.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from explorer.errors import ImageDecodeError

logger = logging.getLogger(__name__)

# Maximum side, in pixels, of gallery thumbnails and of the enlarged view.
GRID_THUMBNAIL_SIDE = 160
LARGE_IMAGE_SIDE = 512
MAX_CACHED_THUMBNAILS = 4_096


def content_key(path: Path, sha256: str | None = None) -> str:
    """Return a key that changes when the file changes: its hash, else size and mtime."""
    if isinstance(sha256, str) and sha256:
        return sha256
    stat = os.stat(path)
    return f"{stat.st_size}-{stat.st_mtime_ns}"


@st.cache_data(max_entries=MAX_CACHED_THUMBNAILS, show_spinner=False)
def thumbnail_png(path: str, key: str, max_side: int) -> bytes | None:
    """Return a PNG thumbnail of ``path``, or None when the image cannot be decoded.

    ``key`` (see :func:`content_key`) is part of the cache key, so an edited
    file gets a new thumbnail.
    """
    from explorer.images import load_thumbnail, png_bytes

    try:
        return png_bytes(load_thumbnail(Path(path), max_side))
    except (ImageDecodeError, OSError) as error:
        logger.warning("thumbnail of %s failed: %s", path, error)
        return None


def row_thumbnail(root: Path, row, max_side: int = GRID_THUMBNAIL_SIDE) -> bytes | None:
    """Return the PNG thumbnail of one manifest row (``path`` relative to ``root``)."""
    path = Path(root) / str(row["path"])
    try:
        key = content_key(path, row.get("sha256"))
    except OSError as error:
        logger.warning("thumbnail of %s failed: %s", path, error)
        return None
    return thumbnail_png(str(path), key, max_side)
