"""Artifact cache: keys, serializers, checksums and the inter-process lock."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cache import ArtifactCache, hash_key, read_checked, write_checked


def test_hash_key_ignores_dict_order():
    result = hash_key("kind", {"a": 1, "b": [1, 2]})
    expected = hash_key("kind", {"b": [1, 2], "a": 1})

    assert result == expected


def test_hash_key_depends_on_kind_and_values():
    base = hash_key("kind", {"a": 1})

    assert hash_key("other", {"a": 1}) != base
    assert hash_key("kind", {"a": 2}) != base


def test_get_or_compute_computes_once(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"value": 42}

    first = cache.get_or_compute("numbers", {"x": 1}, compute, serialize="json")
    second = cache.get_or_compute("numbers", {"x": 1}, compute, serialize="json")

    assert first == {"value": 42}
    assert second == {"value": 42}
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("serialize", "value"),
    [
        ("json", {"a": [1, 2.5, "x"]}),
        ("pickle", {"tuple": (1, 2), "set": {3}}),
        ("bytes", b"\x00\x01payload"),
    ],
)
def test_put_get_round_trip(tmp_path, serialize, value):
    cache = ArtifactCache(tmp_path)
    cache.put("things", {"k": 1}, value, serialize=serialize)

    result = cache.get("things", {"k": 1}, serialize=serialize)

    assert result == value


def test_npz_round_trip(tmp_path):
    cache = ArtifactCache(tmp_path)
    arrays = {"ids": np.array(["a", "b"]), "values": np.arange(6, dtype=np.float32).reshape(2, 3)}
    cache.put("arrays", {"k": 1}, arrays, serialize="npz")

    result = cache.get("arrays", {"k": 1}, serialize="npz")

    np.testing.assert_array_equal(result["ids"], arrays["ids"])
    np.testing.assert_array_equal(result["values"], arrays["values"])


def test_dataframe_round_trip(tmp_path):
    cache = ArtifactCache(tmp_path)
    frame = pd.DataFrame({"image_id": ["a", "b"], "x": [0.5, 1.5]})
    cache.put("frames", {"k": 1}, frame, serialize="dataframe")

    result = cache.get("frames", {"k": 1}, serialize="dataframe")

    pd.testing.assert_frame_equal(result, frame)


def test_get_missing_returns_none(tmp_path):
    assert ArtifactCache(tmp_path).get("things", {"k": "absent"}) is None


def test_unknown_serializer_rejected(tmp_path):
    with pytest.raises(ValueError, match="'yaml'"):
        ArtifactCache(tmp_path).put("things", {"k": 1}, 1, serialize="yaml")


def test_corrupt_file_is_logged_deleted_and_recomputed(tmp_path, caplog):
    cache = ArtifactCache(tmp_path)
    cache.put("numbers", {"x": 1}, [1, 2, 3], serialize="json")
    path = cache.path("numbers", hash_key("numbers", {"x": 1}))
    path.write_bytes(path.read_bytes()[:-2] + b"9]")

    with caplog.at_level(logging.WARNING, logger="explorer.cache"):
        result = cache.get_or_compute("numbers", {"x": 1}, lambda: [4, 5], serialize="json")

    assert result == [4, 5]
    assert "corrupt" in caplog.text
    assert str(path) in caplog.text
    assert cache.get("numbers", {"x": 1}, serialize="json") == [4, 5]


def test_truncated_file_reads_as_missing(tmp_path):
    path = tmp_path / "blob.rdfx"
    write_checked(path, b"some payload")
    path.write_bytes(path.read_bytes()[:20])

    assert read_checked(path) is None
    assert not path.exists()


def test_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "blob.rdfx"

    write_checked(path, b"payload")

    assert read_checked(path) == b"payload"
    assert [p.name for p in path.parent.iterdir()] == ["blob.rdfx"]


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from explorer.cache import ArtifactCache

    root, log_file = sys.argv[1], Path(sys.argv[2])

    def compute():
        with log_file.open("a") as handle:
            handle.write("computed\\n")
        time.sleep(1.0)
        return {"answer": 42}

    print(ArtifactCache(root).get_or_compute("slow", {"k": 1}, compute, serialize="json"))
    """
)


def test_two_processes_compute_once(tmp_path):
    log_file = tmp_path / "calls.txt"
    command = [sys.executable, "-c", WORKER, str(tmp_path / "cache"), str(log_file)]
    repo = Path(__file__).resolve().parents[1]

    processes = [subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0]
    assert outputs == ["{'answer': 42}\n", "{'answer': 42}\n"]
    assert log_file.read_text().count("computed") == 1
