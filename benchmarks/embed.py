"""Embedding throughput and cold/warm build time on the demo dataset.

Measures, with the same model and batch size:

- end to end: :func:`explorer.embeddings.embed_dataset` without the cache
  (decode in DataLoader workers, preprocess, forward), in images per second;
- raw forward: ``model.encode_image`` on ready-made random tensors;
- one at a time: decode, preprocess and forward one image per call;
- cold and warm ``python -m explorer build`` wall time in a fresh cache folder.

Run from the repository root::

    python benchmarks/embed.py --weights random

It prints a Markdown table and, with ``--json FILE``, writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Images timed in the one-at-a-time loop; it is slow and its rate settles quickly.
SINGLE_IMAGE_SAMPLE = 48


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the benchmark's command line."""
    from explorer.commands.common import add_model_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo", help="dataset folder, or 'demo' (default)")
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader decode processes (default: automatic)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per throughput figure (default 3)")
    parser.add_argument("--skip-build", action="store_true", help="skip the cold/warm build timing")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def time_raw_forward(loaded, n_images: int, batch_size: int) -> float:
    """Return images per second of ``encode_image`` on ready random tensors."""
    import torch

    height, width = loaded.preprocess_config.image_size
    batches = [torch.randn(min(batch_size, n_images - start), 3, height, width) for start in range(0, n_images, batch_size)]
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            loaded.model.encode_image(batch)
    return n_images / (time.perf_counter() - started)


def time_end_to_end(dataset, loaded, batch_size: int, workers: int | None) -> float:
    """Return images per second of embed_dataset with caching switched off."""
    from explorer.embeddings import embed_dataset

    started = time.perf_counter()
    result = embed_dataset(dataset, loaded, cache=False, batch_size=batch_size, num_workers=workers)
    return len(result) / (time.perf_counter() - started)


def time_one_at_a_time(dataset, loaded, sample: int) -> float:
    """Return images per second of decoding, preprocessing and embedding one image per call."""
    import torch

    from explorer.images import decode_image

    image_ids = list(dataset.manifest["image_id"])[:sample]
    started = time.perf_counter()
    with torch.inference_mode():
        for image_id in image_ids:
            tensor = loaded.preprocess(decode_image(dataset.image_path(image_id)))
            loaded.model.encode_image(tensor.unsqueeze(0))
    return len(image_ids) / (time.perf_counter() - started)


def time_build(dataset_arg: str, model_args: list[str], cache_root: Path) -> float:
    """Return the wall time in seconds of one ``python -m explorer build`` process."""
    command = [sys.executable, "-m", "explorer", "build", dataset_arg, *model_args, "--cache-dir", str(cache_root), "--no-progress"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"build command failed with exit status {completed.returncode}: {completed.stderr[-2000:]}")
    return elapsed


def model_arguments(args: argparse.Namespace) -> list[str]:
    """Return the model flags that reproduce ``args`` on the build command line."""
    flags = ["--model", args.model, "--weights", args.weights]
    if args.pretrained:
        flags += ["--pretrained", args.pretrained]
    if args.checkpoint:
        flags += ["--checkpoint", str(args.checkpoint)]
    return flags


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the results."""
    import torch

    from explorer.commands.common import model_spec_from_args
    from explorer.dataset import load_dataset
    from explorer.embeddings import load_model
    from explorer.pipeline import resolve_dataset_root

    args = parse_args(argv)
    root = resolve_dataset_root(args.dataset)
    dataset = load_dataset(root)
    loaded = load_model(model_spec_from_args(args))
    n_images = len(dataset.manifest)

    # Warm up allocator and kernels so the first timed run is not an outlier.
    time_raw_forward(loaded, min(args.batch_size, n_images), args.batch_size)

    raw, end_to_end = [], []
    for _ in range(args.repeats):
        # Interleaved so load from other processes affects both figures alike.
        raw.append(time_raw_forward(loaded, n_images, args.batch_size))
        end_to_end.append(time_end_to_end(dataset, loaded, args.batch_size, args.workers))
    single = time_one_at_a_time(dataset, loaded, SINGLE_IMAGE_SAMPLE)

    results = {
        "dataset": str(root),
        "n_images": n_images,
        "model": loaded.info.description,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "repeats": args.repeats,
        "raw_forward_images_per_s": statistics.median(raw),
        "end_to_end_images_per_s": statistics.median(end_to_end),
        "one_at_a_time_images_per_s": single,
        "end_to_end_over_raw": statistics.median(end_to_end) / statistics.median(raw),
        "raw_runs": raw,
        "end_to_end_runs": end_to_end,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }

    if not args.skip_build:
        with tempfile.TemporaryDirectory(prefix="explorer-bench-cache-") as cache_root:
            cold = time_build(str(root), model_arguments(args), Path(cache_root))
            warm = [time_build(str(root), model_arguments(args), Path(cache_root)) for _ in range(args.repeats)]
        results["build_cold_s"] = cold
        results["build_warm_s"] = statistics.median(warm)
        results["build_warm_runs_s"] = warm
        results["build_warm_over_cold"] = statistics.median(warm) / cold

    print(format_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def format_table(results: dict) -> str:
    """Return the results as a Markdown table."""
    rows = [
        ("images", f"{results['n_images']}"),
        ("model", results["model"]),
        ("batch size", f"{results['batch_size']}"),
        ("raw forward (median)", f"{results['raw_forward_images_per_s']:.1f} images/s"),
        ("end to end (median)", f"{results['end_to_end_images_per_s']:.1f} images/s"),
        ("one image at a time", f"{results['one_at_a_time_images_per_s']:.1f} images/s"),
        ("end to end / raw forward", f"{results['end_to_end_over_raw']:.2f}"),
    ]
    if "build_cold_s" in results:
        rows += [
            ("build, cold cache", f"{results['build_cold_s']:.1f} s"),
            ("build, warm cache (median)", f"{results['build_warm_s']:.2f} s"),
            ("warm / cold", f"{results['build_warm_over_cold']:.3f}"),
        ]
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
