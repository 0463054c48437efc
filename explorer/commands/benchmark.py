"""``python -m explorer benchmark DATASET_DIR --protocol ...``: classifier benchmark tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.commands.common import add_cache_argument, add_layout_argument, add_model_arguments

HELP = "train classifier heads on the embeddings and print benchmark tables for one protocol"

PROTOCOL_CHOICES = ("rdface", "grouped", "rare")
HEAD_CHOICES = ("linear_probe", "nearest_class_mean")
# The k values every run computes (explorer.classifier.TOP_K), repeated here so --help imports nothing heavy.
TOP_K_CHOICES = (1, 5, 10, 30)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dataset folder, protocol, variant and head options, and the model flags."""
    parser.add_argument(
        "dataset_dir", type=Path, metavar="DATASET_DIR", help="dataset folder, or 'demo' for the demo dataset"
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOL_CHOICES,
        default="rdface",
        help="rdface: fixed 25%% test part and 5-fold models; grouped: k-fold grouped by "
        "subject; rare: one test subject per condition, rest as gallery (default rdface)",
    )

    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        metavar="VARIANT",
        help="training set, repeatable: real, real+synthetic, real+synthetic:GENERATOR, "
        "real+filtered[:COLUMN[>=VALUE]], synthetic, synthetic:GENERATOR, or 'all' "
        "(default: real, real+synthetic and synthetic when the dataset has synthetic images); "
        "'real' always runs as the baseline for gains",
    )
    parser.add_argument(
        "--head",
        choices=HEAD_CHOICES,
        default="linear_probe",
        help="linear_probe: logistic regression; nearest_class_mean: cosine similarity to "
        "class means (default linear_probe)",
    )

    parser.add_argument(
        "--folds", type=int, default=5, help="folds of the rdface and grouped protocols (default 5)"
    )
    parser.add_argument(
        "--splits", type=int, default=10, help="repetitions of the rare protocol (default 10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random split (default 0)")

    parser.add_argument(
        "--top-k",
        type=int,
        choices=TOP_K_CHOICES,
        default=1,
        help="k of the per-condition table and its gains (default 1)",
    )
    parser.add_argument(
        "--csv", type=Path, default=None, metavar="FILE",
        help="also write the per-condition table to this CSV file",
    )

    add_layout_argument(parser)
    add_model_arguments(parser)
    add_cache_argument(parser)


def protocol_from_args(args: argparse.Namespace):
    """Build the protocol settings the arguments name."""
    from explorer.classifier import make_protocol

    if args.protocol == "rare":
        return make_protocol("rare", n_splits=args.splits, seed=args.seed)
    return make_protocol(args.protocol, n_folds=args.folds, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    """Embed the dataset (reusing the cache), run the protocol and print the tables."""
    from explorer.cache import ArtifactCache
    from explorer.classifier import HeadSettings, benchmark_report
    from explorer.commands.common import model_spec_from_args
    from explorer.embeddings import tqdm_progress
    from explorer.pipeline import build

    protocol = protocol_from_args(args)
    cache = ArtifactCache(args.cache_dir)
    built = build(
        args.dataset_dir,
        model_spec_from_args(args),
        cache_dir=cache.root,
        layout=args.layout,
        projection=None,
        progress=tqdm_progress(),
    )
    dataset, embeddings = built.dataset, built.embeddings

    report = benchmark_report(
        dataset.manifest,
        embeddings.image_ids,
        embeddings.vectors,
        protocol,
        args.variant,
        HeadSettings(kind=args.head),
        embedding_key=embeddings.key,
        cache=cache,
    )
    print(f"Dataset: {dataset.root}")
    print(f"Model: {embeddings.info.description}")
    if embeddings.is_random:
        print("WARNING: the model has RANDOM weights; these accuracies carry no meaning.")
    for image_id, message in embeddings.failures:
        print(f"skipped {image_id}: {message}")
    print()
    print(report.format_text(args.top_k))
    if args.csv is not None:
        report.per_condition_table(args.top_k).to_csv(args.csv, index=False)
        print(f"\nPer-condition table written to {args.csv}")
    return 0
