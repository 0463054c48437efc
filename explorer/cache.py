"""On-disk artifact store keyed by content hashes.

Every artifact is one file that starts with a checksum of its payload, so a
file cut short by a crash or changed on disk is detected on read, logged,
deleted and treated as a miss. Files are written to a temp name in the same
folder and renamed into place, so a reader never sees half a file. A file
lock per key keeps two processes from computing the same artifact twice.

Layout under the cache root (``settings.cache_dir()``)::

    artifacts/<kind>/<key[:2]>/<key>.rdfx     generic artifacts (projections, results)
    embeddings/<model cache key>/<chunk>.rdfx  embedding chunks (see explorer.embeddings)
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from explorer.errors import CacheError
from explorer.settings import cache_dir

log = logging.getLogger(__name__)

# Bump when the layout or the meaning of stored artifacts changes; it is part of every key.
CACHE_FORMAT_VERSION = 1
FILE_MAGIC = b"RDFX1\n"
FILE_SUFFIX = ".rdfx"
CHECKSUM_LENGTH = 64  # hex digits of a sha256
# Seconds a process waits for another one holding the same lock before it logs that it is waiting.
LOCK_NOTICE_SECONDS = 2.0

T = TypeVar("T")


# --------------------------------------------------------------------------
# Serializers: how a value becomes payload bytes and back
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Serializer:
    """A pair of functions that turn a value into bytes and back."""

    name: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]


def _npz_dumps(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npz_loads(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True).encode("utf-8")


def _frame_dumps(frame: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _frame_loads(payload: bytes) -> Any:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(payload))


JSON = Serializer("json", _json_dumps, lambda payload: json.loads(payload.decode("utf-8")))
# A dict of numpy arrays; loading never unpickles.
NPZ = Serializer("npz", _npz_dumps, _npz_loads)
# A pandas DataFrame stored as parquet (index dropped).
DATAFRAME = Serializer("dataframe", _frame_dumps, _frame_loads)
RAW_BYTES = Serializer("bytes", bytes, bytes)
# NOTE: pickle runs code on load. The cache folder must be as trusted as the
# code itself; use JSON, NPZ or DATAFRAME when the value allows it.
PICKLE = Serializer("pickle", lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads)

SERIALIZERS = {serializer.name: serializer for serializer in (JSON, NPZ, DATAFRAME, RAW_BYTES, PICKLE)}


def _serializer(serialize: Serializer | str) -> Serializer:
    if isinstance(serialize, Serializer):
        return serialize
    try:
        return SERIALIZERS[serialize]
    except KeyError:
        raise ValueError(f"Unknown serializer {serialize!r}; use one of {sorted(SERIALIZERS)}.") from None


# --------------------------------------------------------------------------
# Checksummed files
# --------------------------------------------------------------------------


def write_checked(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically, prefixed with its sha256.

    Raises
    ------
    CacheError
        When the folder cannot be written.
    """
    checksum = hashlib.sha256(payload).hexdigest().encode("ascii")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(FILE_MAGIC + checksum + b"\n" + payload)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise CacheError(f"Cannot write cache file {path}: {error}. Check free space and permissions.") from error


def read_checked(path: Path) -> bytes | None:
    """Return the payload of a checksummed file, or None when it is missing or corrupt.

    A corrupt file (bad header, wrong checksum, cut short) is logged and deleted
    so the caller recomputes it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CacheError(f"Cannot read cache file {path}: {error}. Check its permissions.") from error

    header_length = len(FILE_MAGIC) + CHECKSUM_LENGTH + 1
    checksum = data[len(FILE_MAGIC) : header_length - 1]
    payload = data[header_length:]
    valid = (
        data.startswith(FILE_MAGIC)
        and len(data) >= header_length
        and hashlib.sha256(payload).hexdigest().encode("ascii") == checksum
    )
    if not valid:
        log.warning("cache file %s is corrupt (checksum mismatch); deleting it and recomputing", path)
        path.unlink(missing_ok=True)
        return None
    return payload


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an inter-process lock on ``path`` (a ``.lock`` file) for the block.

    The lock is an OS file lock, so it is released when its process dies.
    """
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=LOCK_NOTICE_SECONDS)
    except Timeout:
        log.info("lock %s is taken by another process; waiting for it", path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# --------------------------------------------------------------------------
# Generic artifacts
# --------------------------------------------------------------------------


def hash_key(kind: str, key_parts: dict[str, Any]) -> str:
    """Return the sha256 of a kind and a JSON-serialisable dict of inputs.

    Keys are sorted, so the order of ``key_parts`` does not matter. Values that
    JSON cannot encode (paths, tuples of numpy scalars) are written with ``str``.
    """
    payload = json.dumps(
        {"kind": kind, "version": CACHE_FORMAT_VERSION, "parts": key_parts}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_MISSING = object()


class ArtifactCache:
    """Content-addressed store of computed results under one root folder.

    Parameters
    ----------
    root : path, optional
        Cache root. Default: :func:`explorer.settings.cache_dir` (the
        ``RDFACE_EXPLORER_CACHE`` environment variable, else the user cache).

    Examples
    --------
    >>> cache = ArtifactCache(tmp_path)  # doctest: +SKIP
    >>> cache.get_or_compute("sums", {"values": [1, 2]}, lambda: 3, serialize="json")  # doctest: +SKIP
    3
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = cache_dir(root)

    def __repr__(self) -> str:
        return f"ArtifactCache({str(self.root)!r})"

    def path(self, kind: str, key: str) -> Path:
        """Return the file that contains artifact ``key`` of ``kind``."""
        return self.root / "artifacts" / kind / key[:2] / f"{key}{FILE_SUFFIX}"

    def get(self, kind: str, key_parts: dict[str, Any], *, serialize: Serializer | str = PICKLE) -> Any:
        """Return the stored value, or None when it is missing or was corrupt."""
        value = self._load(kind, hash_key(kind, key_parts), _serializer(serialize))
        return None if value is _MISSING else value

    def put(
        self, kind: str, key_parts: dict[str, Any], value: Any, *, serialize: Serializer | str = PICKLE
    ) -> Path:
        """Store ``value`` atomically and return its file."""
        key = hash_key(kind, key_parts)
        path = self.path(kind, key)
        write_checked(path, _serializer(serialize).dumps(value))
        log.debug("cache store %s %s", kind, key[:12])
        return path

    def contains(self, kind: str, key_parts: dict[str, Any]) -> bool:
        """Return whether an artifact file exists (without checking its checksum)."""
        return self.path(kind, hash_key(kind, key_parts)).is_file()

    def get_or_compute(
        self,
        kind: str,
        key_parts: dict[str, Any],
        compute: Callable[[], T],
        *,
        serialize: Serializer | str = PICKLE,
    ) -> T:
        """Return the stored value for the inputs, computing and storing it on a miss.

        A lock per key makes a second process wait for the first one and then
        read its result instead of computing it again.
        """
        serializer = _serializer(serialize)
        key = hash_key(kind, key_parts)
        value = self._load(kind, key, serializer)
        if value is not _MISSING:
            log.info("cache hit: %s %s", kind, key[:12])
            return value

        path = self.path(kind, key)
        with file_lock(path.with_suffix(".lock")):
            value = self._load(kind, key, serializer)
            if value is not _MISSING:
                log.info("cache hit after waiting for another process: %s %s", kind, key[:12])
                return value
            log.info("cache miss: computing %s %s", kind, key[:12])
            value = compute()
            write_checked(path, serializer.dumps(value))
        return value

    def _load(self, kind: str, key: str, serializer: Serializer) -> Any:
        path = self.path(kind, key)
        payload = read_checked(path)
        if payload is None:
            return _MISSING
        try:
            return serializer.loads(payload)
        except Exception as error:  # a payload that passed its checksum but no longer parses
            log.warning("cache file %s cannot be parsed (%s); deleting it and recomputing", path, error)
            path.unlink(missing_ok=True)
            return _MISSING
