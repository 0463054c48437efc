"""Remembered results of the per-file import check, so an unchanged dataset imports fast.

Importing hashes every image file (sha256) and probes its header. On a dataset
of 100,000 images that takes tens of seconds, and the app and every ``build``
import the dataset again. A file whose resolved path, size, modification time
and inode are unchanged since it passed the check gets its stored hash back
instead. Files that failed the check are checked again every time, so the
report always states the current reason.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from explorer.cache import JSON, ArtifactCache

log = logging.getLogger(__name__)

MEMO_KIND = "file-checks"
# Bump when the check itself changes, so results of an older check are not reused.
CHECK_VERSION = 1


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


class FileCheckMemo:
    """Stored sha256 of the files of one dataset folder that passed the import check.

    Parameters
    ----------
    root_real : Path
        The dataset folder with symbolic links resolved.
    max_pixels : int
        Pixel limit of the check; results for another limit are not reused.
    cache : ArtifactCache or None
        Where results are stored; None keeps nothing between imports.
    """

    def __init__(self, root_real: Path, max_pixels: int, cache: ArtifactCache | None) -> None:
        self._cache = cache
        self._key = {"root": str(root_real), "max_pixels": max_pixels, "version": CHECK_VERSION}
        stored = cache.get(MEMO_KIND, self._key, serialize=JSON) if cache is not None else None
        self._entries: dict[str, list] = stored if isinstance(stored, dict) else {}
        self._seen: dict[str, list] = {}
        self._reused = 0

    def lookup(self, resolved: Path) -> tuple[str | None, list[int] | None]:
        """Return the stored sha256 of an unchanged file (or None) and the file's signature.

        Pass the signature on to :meth:`remember` after checking the file, so a
        file changed during the check is not stored under its old signature.
        """
        try:
            signature = _signature(resolved.stat())
        except OSError:
            return None, None
        entry = self._entries.get(str(resolved))
        if entry is not None and entry[:3] == signature:
            self._seen[str(resolved)] = entry
            self._reused += 1
            return entry[3], signature
        return None, signature

    def remember(self, resolved: Path, signature: list[int] | None, digest: str) -> None:
        """Record that a file with ``signature`` passed the check with hash ``digest``."""
        if signature is not None:
            self._seen[str(resolved)] = [*signature, digest]

    def save(self) -> None:
        """Store the results of this import, dropping files no longer in the dataset."""
        if self._cache is None or self._seen == self._entries:
            return
        self._cache.put(MEMO_KIND, self._key, self._seen, serialize=JSON)
        log.info(
            "file checks: %d of %d files unchanged since the last import", self._reused, len(self._seen)
        )
