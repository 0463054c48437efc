"""Tests of ``python -m explorer compare`` on the demo dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.__main__ import main
from explorer.embeddings import TINY_VIT

EXPECTED_FILES = {
    "metrics_long.csv",
    "metrics_table.csv",
    "findings.csv",
    "memorisation.csv",
    "phenotype_agreement.csv",
    "frechet_pooled.csv",
    "landmark_scores.csv",
    "landmark_measurements.csv",
    "notes.txt",
}
FAST_FLAGS = ["--bootstrap", "30", "--permutations", "30"]


def test_compare_demo_truth_writes_csvs(demo_root, tmp_path, capsys):
    out = tmp_path / "tables"

    status = main(["compare", str(demo_root), "--demo-truth", "--out", str(out), *FAST_FLAGS])
    printed = capsys.readouterr().out

    assert status == 0
    assert {path.name for path in out.iterdir()} == EXPECTED_FILES
    long = pd.read_csv(out / "metrics_long.csv", keep_default_na=False, na_values=[""])
    assert {"condition", "generator", "metric", "value", "low", "high", "n_real", "n_synthetic", "status", "reason"} <= set(long.columns)
    not_computable = long[long["status"] == "not computable"]
    assert len(not_computable) > 0
    assert not_computable["value"].isna().all()
    assert "Embeddings: demo ground truth" in printed
    assert "Wrote 9 files" in printed


def test_compare_demo_truth_findings_name_defects(demo_root, tmp_path):
    from explorer.dataset import load_dataset

    out = tmp_path / "tables"
    main(["compare", str(demo_root), "--demo-truth", "--out", str(out), *FAST_FLAGS])
    manifest = load_dataset(demo_root).manifest
    behaviour = manifest[manifest["source"] == "synthetic"].groupby(["condition", "generator"])["demo_behaviour"].first()

    findings = pd.read_csv(out / "findings.csv").set_index("defect")

    for defect, expected in [("drift", "drift"), ("lost phenotype", "drift"), ("copy", "copy"), ("collapse", "collapse")]:
        cell = (findings.loc[defect, "condition"], findings.loc[defect, "generator"])
        assert behaviour[cell] == expected, defect


def test_compare_tiny_model_warns_random_weights(demo_root, tiny_vit_checkpoint, tmp_path, capsys):
    out = tmp_path / "tables"

    status = main(
        [
            "compare",
            str(demo_root),
            "--model",
            TINY_VIT,
            "--pretrained",
            "",
            "--checkpoint",
            str(tiny_vit_checkpoint),
            "--weights",
            "random",
            "--out",
            str(out),
            *FAST_FLAGS,
        ]
    )
    printed = capsys.readouterr().out

    assert status == 0
    assert "random weights" in printed
    table = pd.read_csv(out / "metrics_table.csv")
    assert len(table) == 14 * 2 + 2
    assert "random weights" in (out / "notes.txt").read_text()


def test_compare_rejects_zero_neighbours(demo_root, tmp_path, capsys):
    status = main(["compare", str(demo_root), "--demo-truth", "--out", str(tmp_path), "--nearest-k", "0"])

    assert status == 2
    assert "nearest_k must be at least 1, got 0" in capsys.readouterr().err


def test_compare_requires_out(demo_root):
    with pytest.raises(SystemExit):
        main(["compare", str(demo_root)])
