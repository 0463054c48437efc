"""Time each saliency method on ViT-B-32 (random weights, built locally) on the CPU.

Run ``python benchmarks/saliency.py [--repeats 3] [--threads N]`` from the
repository root. It prints
one Markdown table: the median per-image latency of every method at its
default settings, and integrated gradients against the same number of
forward+backward passes sent as one batch. Nothing is downloaded: the model
is built with random weights, which cost the same time as trained ones.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Let the script import the explorer package from a checkout without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """Run ``action`` once to warm up, then ``repeats`` times; return the median wall time."""
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Build the model, time every method and print the table."""
    import open_clip
    import torch
    from PIL import Image
    from torch import nn

    from explorer.classifier import EndToEndClassifier
    from explorer.embeddings import PreprocessConfig
    from explorer.saliency import (
        METHODS,
        Explainer,
        IntegratedGradientsSettings,
        prepare_input,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods to time (default: all)")
    parser.add_argument("--classes", type=int, default=103, help="head size (RDFace has 103 conditions)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    config = PreprocessConfig.from_open_clip(dict(model.visual.preprocess_cfg))

    class Loaded:
        """The two attributes EndToEndClassifier reads from a LoadedModel."""

        def __init__(self) -> None:
            self.model = model
            self.preprocess = None

    head = nn.Linear(model.visual.output_dim, args.classes)
    classifier = EndToEndClassifier(Loaded(), head, [f"condition {i}" for i in range(args.classes)])
    explainer = Explainer(classifier, classifier.class_names)

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (480, 360, 3), dtype=np.uint8))
    inputs = prepare_input(image, config).tensor
    target = 0

    rows = []
    for name in args.methods or ["ig", *[other for other in METHODS if other != "ig"]]:
        seconds = median_seconds(lambda name=name: explainer.attribute(inputs, target, name), args.repeats)
        rows.append((METHODS[name].label, name, seconds))

    ig_settings = IntegratedGradientsSettings()
    steps = ig_settings.steps

    def batched_passes() -> None:
        batch = inputs.repeat(steps, 1, 1, 1).requires_grad_(True)
        with torch.enable_grad():
            explainer.model(batch)[:, target].sum().backward()

    ig_seconds = next((seconds for _, name, seconds in rows if name == "ig"), None)
    passes_seconds = median_seconds(batched_passes, args.repeats) if ig_seconds is not None else None

    print(f"machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    print(f"input: 480 x 360 image padded to {tuple(inputs.shape)}, head of {args.classes} classes, "
          f"median of {args.repeats} runs after one warm-up\n")
    print("| method | name | seconds per image |")
    print("|---|---|---|")
    for label, name, seconds in rows:
        print(f"| {label} | `{name}` | {seconds:.3f} |")
    if ig_seconds is None:
        return
    print(f"\nIntegrated gradients, {steps} steps in batches of {ig_settings.internal_batch_size}: "
          f"{ig_seconds:.3f} s; {steps} forward+backward passes as one batch: {passes_seconds:.3f} s; "
          f"ratio {ig_seconds / passes_seconds:.2f}")


if __name__ == "__main__":
    main()
