"""``python -m explorer validate DATASET_DIR``: import a dataset and print its report."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.commands.common import add_layout_argument

HELP = "import a dataset folder and print its validation report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dataset folder and ``--layout``."""
    parser.add_argument("dataset_dir", type=Path, metavar="DATASET_DIR", help="dataset folder, or 'demo' for the demo dataset")
    add_layout_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Print the report; return 1 when no image is usable, else 0."""
    from explorer.dataset import load_dataset
    from explorer.pipeline import resolve_dataset_root
    from explorer.errors import DatasetError

    try:
        dataset = load_dataset(resolve_dataset_root(args.dataset_dir), layout=args.layout)
    except DatasetError as error:
        print(f"No usable images: {error}")
        return 1

    print(f"Dataset: {dataset.root}")
    print(f"Layout: {dataset.layout}")
    print(dataset.report.format_text())
    if dataset.manifest.empty:
        print("No usable images: every file was left out (reasons above).")
        return 1
    return 0
