"""Tests for the remembered per-file import checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

import explorer.dataset as dataset_module
from explorer.dataset import load_dataset


def write_png(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def build_folders(root: Path) -> None:
    for index in range(3):
        write_png(root / "real" / "Cond A" / f"a{index}.png", index)
        write_png(root / "real" / "Cond B" / f"b{index}.png", 10 + index)


def count_hashes(monkeypatch) -> list[str]:
    hashed: list[str] = []
    original = dataset_module.file_sha256

    def counting(path):
        hashed.append(Path(path).name)
        return original(path)

    monkeypatch.setattr(dataset_module, "file_sha256", counting)
    return hashed


def test_second_import_reads_no_unchanged_file(tmp_path, monkeypatch):
    build_folders(tmp_path / "data")
    first = load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    hashed = count_hashes(monkeypatch)

    second = load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")

    assert hashed == []
    assert list(second.manifest["sha256"]) == list(first.manifest["sha256"])
    assert list(second.manifest["image_id"]) == list(first.manifest["image_id"])


def test_changed_file_is_checked_again(tmp_path, monkeypatch):
    build_folders(tmp_path / "data")
    load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    changed = tmp_path / "data" / "real" / "Cond A" / "a1.png"
    changed.write_bytes(b"not an image any more")
    hashed = count_hashes(monkeypatch)

    result = load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")

    assert hashed == ["a1.png"]
    reasons = {entry.path: entry.reason for entry in result.report.errors}
    assert reasons == {"real/Cond A/a1.png": "unreadable"}
    assert "real/Cond A/a1.png" not in set(result.manifest["path"])


def test_same_size_rewrite_is_checked_again(tmp_path, monkeypatch):
    build_folders(tmp_path / "data")
    first = load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    target = tmp_path / "data" / "real" / "Cond B" / "b0.png"
    stat = target.stat()
    write_png(target, 99)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    hashed = count_hashes(monkeypatch)

    second = load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")

    assert hashed == ["b0.png"]
    before = first.manifest.set_index("path")["sha256"]
    after = second.manifest.set_index("path")["sha256"]
    assert after["real/Cond B/b0.png"] != before["real/Cond B/b0.png"]


def test_cache_dir_false_checks_every_file(tmp_path, monkeypatch):
    build_folders(tmp_path / "data")
    load_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    hashed = count_hashes(monkeypatch)

    load_dataset(tmp_path / "data", cache_dir=False)

    assert len(hashed) == 6
