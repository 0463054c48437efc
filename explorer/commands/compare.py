"""``python -m explorer compare DATASET_DIR --out DIR``: real-vs-synthetic tables as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.commands.common import (
    add_cache_argument,
    add_layout_argument,
    add_model_arguments,
    model_spec_from_args,
)

HELP = "compare real and synthetic images per condition and generator and write the tables as CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dataset, model, cache, output and metric arguments."""
    from explorer.compare.memorisation import MEMORISATION_PERCENTILE
    from explorer.compare.report import (
        DEFAULT_BOOTSTRAP,
        DEFAULT_NEAREST_K,
        DEFAULT_PERMUTATIONS,
    )

    parser.add_argument("dataset", metavar="DATASET_DIR", help="dataset folder, or the word 'demo' for the demo dataset")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files (created if missing)")
    add_model_arguments(parser)
    add_cache_argument(parser)
    add_layout_argument(parser)
    group = parser.add_argument_group("metrics")
    group.add_argument(
        "--nearest-k",
        type=int,
        default=DEFAULT_NEAREST_K,
        help=f"neighbours of precision/recall/density/coverage (default {DEFAULT_NEAREST_K})",
    )
    group.add_argument(
        "--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, help=f"bootstrap resamples per interval (default {DEFAULT_BOOTSTRAP})"
    )
    group.add_argument(
        "--permutations",
        type=int,
        default=DEFAULT_PERMUTATIONS,
        help=f"permutations per p-value (default {DEFAULT_PERMUTATIONS})",
    )
    group.add_argument(
        "--memorisation-percentile",
        type=float,
        default=MEMORISATION_PERCENTILE,
        help="percentile of nearest different-subject real similarities that calibrates the copy "
        f"threshold (default {MEMORISATION_PERCENTILE:g})",
    )
    group.add_argument(
        "--memorisation-threshold",
        type=float,
        default=None,
        help="fixed cosine similarity above which a synthetic image counts as a copy (replaces the calibration)",
    )
    group.add_argument("--seed", type=int, default=0, help="seed of resampling and folds (default 0)")
    group.add_argument(
        "--demo-truth",
        action="store_true",
        help="use the demo dataset's ground-truth feature vectors instead of model embeddings, "
        "to check the metrics without trained weights",
    )


def _settings(args: argparse.Namespace):
    """Build the comparison settings; invalid values raise ComparisonError, which the CLI reports."""
    from explorer.compare import CompareSettings

    return CompareSettings(
        nearest_k=args.nearest_k,
        n_bootstrap=args.bootstrap,
        n_permutations=args.permutations,
        memorisation_percentile=args.memorisation_percentile,
        memorisation_threshold=args.memorisation_threshold,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Embed (or read cached embeddings), compare, write the CSV files and print the findings."""
    from explorer.cache import ArtifactCache
    from explorer.compare.runner import (
        DEMO_TRUTH,
        compare_dataset,
        demo_truth_vectors,
        write_tables,
    )
    from explorer.compare.tables import defect_findings
    from explorer.dataset import load_dataset
    from explorer.pipeline import resolve_dataset_root

    settings = _settings(args)
    cache = ArtifactCache(args.cache_dir)
    dataset = load_dataset(
        resolve_dataset_root(args.dataset, cache_dir=cache.root), layout=args.layout, cache_dir=cache.root
    )

    if args.demo_truth:
        image_ids, vectors = demo_truth_vectors(dataset)
        source, key, is_random = DEMO_TRUTH, f"{DEMO_TRUTH}:{dataset.fingerprint}", False
    else:
        from explorer.embeddings import embed_dataset, tqdm_progress

        progress = tqdm_progress("embedding") if sys.stderr.isatty() else None
        embeddings = embed_dataset(dataset, model_spec_from_args(args), cache=cache, progress=progress)
        image_ids, vectors = embeddings.image_ids, embeddings.vectors
        source, key, is_random = embeddings.model_id, embeddings.key, embeddings.is_random
        for image_id, message in embeddings.failures:
            print(f"skipped {image_id}: {message}", file=sys.stderr)

    comparison = compare_dataset(
        dataset,
        image_ids,
        vectors,
        settings,
        embedding_source=source,
        embedding_key=key,
        is_random=is_random,
        cache=cache,
    )
    written = write_tables(comparison, args.out)

    print(f"Embeddings: {source}")
    if is_random:
        print("WARNING: the model has random weights; these numbers say nothing about the images.")
    findings = defect_findings(comparison.report.metrics)
    if not findings.empty:
        print("Most extreme cell per check:")
        for _, row in findings.iterrows():
            print(f"  {row['defect']:<15} {row['metric']}: {row['condition']} / {row['generator']}  {row['text']}")
    print(comparison.report.threshold.describe())
    print(f"Wrote {len(written)} files to {args.out}")
    return 0
