"""Procedural demo dataset: stylised faces with known phenotypes and known generator defects.

No photograph is involved. Each invented condition is a combination of HPO
features drawn at an intensity that varies per image. The real part is scarce
(1 to 7 images per condition). Two demo generators add synthetic images, and
their behaviour per condition (keep, drift, copy, collapse) is recorded in the
manifest. Landmarks, region masks and ground-truth vectors make the demo a test
oracle for comparison metrics and saliency maps.

Typical use::

    from explorer.demo import ensure_demo, load_truth
    root = ensure_demo()          # rendered once into the cache, then reused
    truth = load_truth(root)      # (n_images, n_features + n_identity) table
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from explorer.demo.conditions import DEMO_CONDITIONS, DEMO_GENERATORS, DemoCondition, DemoGenerator
from explorer.demo.features import DEMO_FEATURES, FEATURE_LANDMARKS, IDENTITY_PARAMS
from explorer.demo.output import (
    DEMO_VERSION,
    MANIFEST_FILE,
    DemoAnnotation,
    DemoOutputError,
    DemoParameterError,
    ProgressCallback,
    check_seed,
    load_annotation,
    load_truth,
    render_demo,
)
from explorer.settings import cache_dir

log = logging.getLogger(__name__)


def demo_cache_path(seed: int = 0, cache: str | os.PathLike | None = None) -> Path:
    """Return the cache folder of the demo rendered with ``seed`` (it may not exist yet)."""
    return cache_dir(cache) / "demo" / f"seed-{seed}-v{DEMO_VERSION}"


def _remove_interrupted_renders(root: Path) -> None:
    """Delete temporary folders that a killed render of ``root`` left beside it.

    Only call this while holding the lock of ``root``: no render of it can be running then.
    """
    for leftover in root.parent.glob(f".{root.name}.*.tmp"):
        log.info("Removing an interrupted demo render: %s", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def ensure_demo(
    seed: int = 0,
    cache: str | os.PathLike | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """Return the root of the default demo, rendering it into the cache on first use.

    A file lock beside the folder makes concurrent callers (two app sessions,
    a test run beside the app) wait for one render instead of rendering twice.

    Parameters
    ----------
    seed : int, default 0
        Seed of the demo.
    cache : path, optional
        Cache folder. By default :func:`explorer.settings.cache_dir` decides.
    progress : callable, optional
        Called as ``progress(done, total)`` after each image when it renders.
    """
    from filelock import FileLock

    check_seed(seed)
    root = demo_cache_path(seed, cache)
    if (root / MANIFEST_FILE).is_file():
        log.debug("Demo cache hit: %s", root)
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if (root / MANIFEST_FILE).is_file():
            log.debug("Demo rendered by another process meanwhile: %s", root)
            return root
        _remove_interrupted_renders(root)
        log.info("Demo cache miss: rendering seed %d into %s", seed, root)
        render_demo(root, seed, progress=progress)
    return root


__all__ = [
    "DEMO_CONDITIONS",
    "DEMO_FEATURES",
    "DEMO_GENERATORS",
    "DEMO_VERSION",
    "FEATURE_LANDMARKS",
    "IDENTITY_PARAMS",
    "DemoAnnotation",
    "DemoCondition",
    "DemoGenerator",
    "DemoOutputError",
    "DemoParameterError",
    "demo_cache_path",
    "ensure_demo",
    "load_annotation",
    "load_truth",
    "render_demo",
]
