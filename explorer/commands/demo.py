"""``python -m explorer demo``: render the procedural demo dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.commands.common import add_cache_argument

HELP = "render the procedural demo dataset (stylised faces, no photos)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo command's options."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder; it must be new, empty or an earlier demo render "
        "(default: the demo folder in the cache, rendered only once)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed (default 0); the same seed gives identical files",
    )
    parser.add_argument(
        "--large-synthetic",
        type=int,
        default=0,
        metavar="N",
        help="add N extra synthetic images for scale tests (default 0); needs --out",
    )
    parser.add_argument(
        "--large-size",
        type=int,
        default=64,
        metavar="PX",
        help="side of the extra images in pixels (default 64)",
    )
    parser.add_argument(
        "--conditions",
        nargs="+",
        default=None,
        metavar="CODE",
        help="render only these condition codes (for example DSA DSB); needs --out",
    )
    add_cache_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Render the demo and print where it went and what it contains."""
    import pandas as pd
    from tqdm import tqdm

    from explorer.demo import DemoParameterError, ensure_demo, render_demo
    from explorer.demo.output import MANIFEST_FILE

    custom = args.large_synthetic or args.conditions is not None
    if custom and args.out is None:
        raise DemoParameterError(
            "--large-synthetic and --conditions change the dataset, so it is not the cached "
            "default demo; add --out DIR to choose where it goes."
        )

    with tqdm(total=0, unit="image", desc="Rendering demo", disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if args.out is None:
            out = ensure_demo(args.seed, args.cache_dir, progress=progress)
        else:
            out = render_demo(
                args.out,
                args.seed,
                progress=progress,
                large_synthetic=args.large_synthetic,
                large_size=args.large_size,
                conditions=args.conditions,
            )
    print(f"Demo dataset in {out}")

    manifest = pd.read_csv(out / MANIFEST_FILE, dtype=str, keep_default_na=False)
    n_real = int((manifest["source"] == "real").sum())
    generators = (
        manifest.loc[manifest["source"] == "synthetic", "generator"].value_counts().sort_index()
    )
    n_conditions = manifest["condition"].nunique()
    n_synthetic = len(manifest) - n_real
    print(f"{n_conditions} conditions, {n_real} real images, {n_synthetic} synthetic images")
    for generator, count in generators.items():
        print(f"  {generator}: {count} images")
    print(f"Explore it with: python -m explorer validate {out}")
    return 0
