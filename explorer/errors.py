"""Exception hierarchy of the explorer.

Every error the library raises on bad input derives from :class:`ExplorerError`
and also from the matching built-in, so callers can catch either
(``except ExplorerError`` or ``except FileNotFoundError``).
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class of every error raised by the explorer library."""


class DatasetError(ExplorerError, ValueError):
    """A dataset folder or manifest cannot be imported as a whole."""


class LayoutError(DatasetError):
    """The dataset layout is unknown or cannot be detected."""


class DatasetNotFoundError(ExplorerError, FileNotFoundError):
    """A dataset folder, manifest or listed file does not exist."""


class ImageDecodeError(ExplorerError, ValueError):
    """An image file cannot be decoded safely.

    ``reason`` is a short machine-readable code (for example ``"truncated"``)
    and the message explains it in words.
    """

    def __init__(self, message: str, *, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


class ModelLoadError(ExplorerError, RuntimeError):
    """A model name, pretrained tag or checkpoint cannot be loaded."""


class WeightsNotFoundError(ModelLoadError, FileNotFoundError):
    """No weights are available offline for the requested model."""


class ProjectionError(ExplorerError, ValueError):
    """An embedding set cannot be projected (too few or invalid points)."""


class CacheError(ExplorerError, OSError):
    """The on-disk cache cannot be read or written."""
