"""``python -m explorer build``: import, embed and project a dataset into the cache."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from explorer.commands.common import (
    add_cache_argument,
    add_layout_argument,
    add_model_arguments,
    model_spec_from_args,
)

if TYPE_CHECKING:
    from explorer.pipeline import BuildResult

HELP = "import a dataset, embed its images and compute its UMAP maps, all cached for the app"

# Failed images listed by id in the summary; the rest are counted.
MAX_LISTED_FAILURES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dataset, model, cache and projection arguments."""
    parser.add_argument("dataset", help="dataset folder, or the word 'demo' for the built-in demo dataset")
    add_model_arguments(parser)
    add_cache_argument(parser)
    add_layout_argument(parser)
    group = parser.add_argument_group("embedding and projection")
    group.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help="image decoding processes (default: none for small jobs, else CPU cores minus one, at most 4)",
    )
    group.add_argument(
        "--mode",
        choices=("all", "real", "both"),
        default="both",
        help="UMAP fitted on all images, on real images with synthetic ones placed, or both (default)",
    )
    group.add_argument("--n-components", type=int, choices=(2, 3), default=2, help="map dimensions (default 2)")
    group.add_argument("--n-neighbors", type=int, default=15, help="UMAP neighbourhood size (default 15)")
    group.add_argument("--min-dist", type=float, default=0.1, help="UMAP minimum distance (default 0.1)")
    group.add_argument("--seed", type=int, default=0, help="UMAP random seed (default 0)")
    group.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the build and print a summary with the time of each stage."""
    from explorer.embeddings import tqdm_progress
    from explorer.pipeline import all_modes, build
    from explorer.projection import ProjectionParams

    params = ProjectionParams(
        n_components=args.n_components,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        seed=args.seed,
        mode="all" if args.mode == "both" else args.mode,
    )
    projection = all_modes(params) if args.mode == "both" else params
    progress = None if args.no_progress or not sys.stderr.isatty() else tqdm_progress("embedding")

    result = build(
        args.dataset,
        model_spec_from_args(args),
        cache_dir=args.cache_dir,
        layout=args.layout,
        projection=projection,
        progress=progress,
        batch_size=args.batch_size,
        num_workers=args.workers,
    )
    print(format_summary(result))
    return 0


def format_summary(result: BuildResult) -> str:
    """Return the multi-line summary printed after a build."""
    dataset = result.dataset
    embeddings = result.embeddings
    manifest = dataset.manifest
    n_conditions = manifest["condition"].nunique() if "condition" in manifest.columns else 0
    left_out = len(dataset.report.errors)
    flagged = len(dataset.report.warnings)

    lines = [
        f"dataset   {dataset.root} (layout {dataset.layout}): {len(manifest)} images, "
        f"{n_conditions} conditions, {left_out} left out, {flagged} flagged "
        f"(python -m explorer validate lists them)",
        f"model     {result.model.description}",
        f"embedded  {len(embeddings)} images, dim {embeddings.vectors.shape[1] if len(embeddings) else 0}, "
        f"{len(embeddings.failures)} failed",
    ]
    for image_id, message in embeddings.failures[:MAX_LISTED_FAILURES]:
        lines.append(f"          failed {image_id}: {message}")
    if len(embeddings.failures) > MAX_LISTED_FAILURES:
        lines.append(f"          ... and {len(embeddings.failures) - MAX_LISTED_FAILURES} more")
    for mode, projection in result.projections.items():
        lines.append(
            f"map {mode:<5} {len(projection.coords)} points in {projection.params.n_components}-D "
            f"(n_neighbors {projection.n_neighbors}, {len(projection.excluded)} left out)"
        )
    for mode, reason in result.projection_errors.items():
        lines.append(f"map {mode:<5} skipped: {reason}")
    stages = " · ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.timings.items())
    lines.append(f"time      {stages} · total {result.total_seconds:.2f} s")
    lines.append(f"cache     {result.cache_root}")
    return "\n".join(lines)
