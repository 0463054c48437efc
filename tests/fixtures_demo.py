"""Demo dataset fixtures (owned by the demo module)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_root(session_cache_dir: Path) -> Path:
    """Render the default demo (seed 0) once per test session and return its root folder.

    It goes into the session's temporary cache through ``ensure_demo``, so the
    app and the library find the same folder there.
    """
    from explorer.demo import ensure_demo

    return ensure_demo(seed=0)
