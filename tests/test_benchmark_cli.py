"""``python -m explorer benchmark`` on the demo dataset with the tiny random-weight model."""

from __future__ import annotations

import pytest

from explorer.__main__ import main


@pytest.fixture
def model_flags(tiny_vit_checkpoint) -> list[str]:
    from explorer.embeddings import TINY_VIT

    return ["--model", TINY_VIT, "--pretrained", "", "--checkpoint", str(tiny_vit_checkpoint)]


@pytest.mark.parametrize(
    ("protocol", "first_split", "untested_status"),
    [
        ("rdface", "fold 1", "a single subject"),
        ("grouped", "fold 1", "a single subject"),
        ("rare", "split 1", "not evaluable: a single subject"),
    ],
)
def test_benchmark_cli_prints_tables(demo_root, model_flags, capsys, protocol, first_split, untested_status):
    status = main(
        ["benchmark", str(demo_root), "--protocol", protocol, "--variant", "synthetic:flawed", "--splits", "3"]
        + model_flags
    )
    output = capsys.readouterr().out

    assert status == 0
    assert f"Protocol: {protocol}" in output
    assert "Mean ± SD over splits:" in output
    assert "top-1 (images)" in output
    assert "synthetic:flawed gain" in output
    assert "Demo syndrome D" in output
    assert untested_status in output
    assert "fewer than 5 test images" in output


def test_benchmark_cli_writes_csv(demo_root, model_flags, capsys, tmp_path):
    import pandas as pd

    path = tmp_path / "per_condition.csv"

    status = main(
        ["benchmark", str(demo_root), "--protocol", "grouped", "--variant", "real", "--head",
         "nearest_class_mean", "--csv", str(path)] + model_flags
    )
    table = pd.read_csv(path)

    assert status == 0
    assert list(table.columns[:4]) == ["condition", "n_real", "n_test_images", "real top-1"]
    assert len(table) == 12


def test_benchmark_cli_rejects_unknown_generator(demo_root, model_flags, capsys):
    status = main(["benchmark", str(demo_root), "--variant", "synthetic:stylegan"] + model_flags)
    error = capsys.readouterr().err

    assert status == 2
    assert "generator(s) ['stylegan'] not in the dataset" in error
    assert "known generators: faithful, flawed" in error
