"""Run every notebook top to bottom on the demo dataset with tiny random weights."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def test_expected_notebooks_exist():
    names = {path.name for path in NOTEBOOKS}

    assert {"quick_tour.ipynb", "benchmark.ipynb", "real_vs_synthetic.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)

    with_outputs = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert with_outputs == []


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, app_env, monkeypatch, tmp_path):
    from nbclient import NotebookClient

    # app_env has set the dataset, model and cache variables; the kernel
    # inherits this process's environment.
    monkeypatch.setenv("RDFACE_EXPLORER_NOTEBOOK_OUT", str(tmp_path))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR.parent)}},
    )

    client.execute(env=dict(os.environ))

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
