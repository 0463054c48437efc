"""Tests for ``python -m explorer validate``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.__main__ import main

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def write_image(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def build_folders(root: Path) -> None:
    write_image(root / "real" / "Kabuki syndrome" / "k1.png", 1)
    write_image(root / "real" / "Kabuki syndrome" / "k2.png", 2)
    write_image(root / "real" / "Noonan" / "n1.png", 3)
    write_image(root / "synthetic" / "fastgan" / "Noonan" / "f1.png", 4)
    (root / "real" / "Noonan" / "broken.png").write_bytes(b"not a png")
    (root / "real" / ".DS_Store").write_bytes(b"\0")


def test_validate_prints_counts_and_entries(tmp_path, capsys):
    build_folders(tmp_path)

    exit_code = main(["validate", str(tmp_path)])

    output = capsys.readouterr().out
    assert exit_code == 0
    assert "Layout: folders" in output
    assert "Usable images: 4" in output
    assert "  real: 3" in output
    assert "  synthetic (fastgan): 1" in output
    assert "Kabuki syndrome" in output
    assert "OS junk files skipped: 1" in output
    assert "[error] unreadable: real/Noonan/broken.png:" in output
    assert "[warning] single_image_condition: real/Noonan/n1.png:" in output


def test_validate_with_explicit_layout(tmp_path, capsys):
    build_folders(tmp_path)

    exit_code = main(["validate", str(tmp_path), "--layout", "folders"])

    assert exit_code == 0
    assert "Layout: folders" in capsys.readouterr().out


def test_validate_exits_1_when_no_image_usable(tmp_path, capsys):
    (tmp_path / "real" / "A").mkdir(parents=True)
    (tmp_path / "real" / "A" / "x.png").write_bytes(b"not a png")

    exit_code = main(["validate", str(tmp_path)])

    output = capsys.readouterr().out
    assert exit_code == 1
    assert "Usable images: 0" in output
    assert "No usable images" in output


def test_validate_empty_folder_exits_1(tmp_path, capsys):
    exit_code = main(["validate", str(tmp_path)])

    assert exit_code == 1
    assert "is empty" in capsys.readouterr().out


def test_validate_missing_folder_exits_2(tmp_path, capsys):
    exit_code = main(["validate", str(tmp_path / "absent")])

    assert exit_code == 2
    assert "does not exist" in capsys.readouterr().err


def test_validate_rejects_unknown_layout_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["validate", str(tmp_path), "--layout", "imagenet"])

    assert caught.value.code == 2
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err


def test_validate_runs_as_module(tmp_path):
    build_folders(tmp_path)
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}

    result = subprocess.run(
        [sys.executable, "-m", "explorer", "validate", str(tmp_path)],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT, env=environment, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "Usable images: 4" in result.stdout


@pytest.mark.parametrize(("layout", "table"), [("manifest", "manifest.csv"), ("rdface-real", "disease_images.csv")])
def test_validate_wrong_layout_names_missing_table(tmp_path, capsys, layout, table):
    build_folders(tmp_path)

    exit_code = main(["validate", str(tmp_path), "--layout", layout])

    error = capsys.readouterr().err
    assert exit_code == 2
    assert f"Table {tmp_path / table} not found" in error
    assert "leave out --layout" in error
    assert "Traceback" not in error
