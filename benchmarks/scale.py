"""Time and memory of the explorer on a large demo dataset (100,000 synthetic images).

Each step is one subcommand, run from the repository root, and prints one JSON
line with its figures (and appends it to ``--json FILE`` when given):

- ``render``: render the demo in large mode into a new folder;
- ``import``: import and validate it with :func:`explorer.dataset.load_dataset`;
- ``build``: run ``python -m explorer build`` on it, once into an empty cache
  folder (cold) and then ``--warm`` more times on the same folder;
- ``throughput``: embed the first ``--images`` large-mode images with one
  model and the cache switched off, and extrapolate to the whole set;
- ``umap``: fit UMAP on the cached embeddings in mode ``all`` and ``real``,
  with the projection cache switched off;
- ``map-page``: run ``app.py`` under Streamlit's ``AppTest`` on the built
  dataset with a warm cache. It times the opening page of a new session (which
  imports the dataset), the first run of the Map page (which reads the cached
  vectors and map) and then reruns of the Map page.

Typical sequence::

    python benchmarks/scale.py render --out /tmp/scale/demo100k --images 100000
    python benchmarks/scale.py import /tmp/scale/demo100k
    python benchmarks/scale.py build /tmp/scale/demo100k --cache-dir /tmp/scale/cache
    python benchmarks/scale.py throughput /tmp/scale/demo100k --model ViT-B-32 --images 2000
    python benchmarks/scale.py umap /tmp/scale/demo100k --cache-dir /tmp/scale/cache
    python benchmarks/scale.py map-page /tmp/scale/demo100k --cache-dir /tmp/scale/cache

Peak memory is reported two ways. ``peak_rss_mb`` is the largest resident set
of any single process (the kernel's ``ru_maxrss``). ``peak_tree_rss_mb`` is the
largest sum over the process and its children (DataLoader and render workers).
It is sampled from ``/proc`` every :data:`SAMPLE_SECONDS`, so a short spike
between samples can be missed. Shared pages of forked workers count once per
process in the sum, so it overstates real use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explorer.ui.apptest import keep_navigation_mode  # noqa: E402

# Interval of the /proc sampler of the process tree's resident memory.
SAMPLE_SECONDS = 0.25
TINY_MODEL = "explorer-tiny-vit"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------
# Memory measurement
# --------------------------------------------------------------------------


def _children_of() -> dict[int, list[int]]:
    """Return a map of parent pid to child pids from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_bytes(root_pid: int) -> int:
    """Return the summed resident memory of a process and all its descendants."""
    children = _children_of()
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += _rss_bytes(pid)
        stack.extend(children.get(pid, []))
    return total


class TreeSampler:
    """Sampler of the resident memory of a process tree, run in a background thread, that keeps the peak."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root_pid))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a command and return its wall time, exit code, output tail and peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    with TreeSampler(process.pid) as sampler:
        output = process.stdout.read() if process.stdout else ""
        # wait4 gives the rusage of this child alone (its ru_maxrss covers its waited-for children too).
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(command),
        "returncode": process.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_rss_mb": round(sampler.peak / 2**20, 1),
        "output_tail": output.strip().splitlines()[-12:],
    }


def self_peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def machine() -> dict:
    """Return the machine description and current load average."""
    return {
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def step_render(args: argparse.Namespace) -> dict:
    command = [
        sys.executable, "-m", "explorer", "demo", "--out", str(args.out),
        "--large-synthetic", str(args.images), "--large-size", str(args.size),
    ]
    result = run_measured(command)
    result["images"] = sum(1 for _ in Path(args.out).rglob("*.png"))
    return result


def step_import(args: argparse.Namespace) -> dict:
    from explorer.dataset import load_dataset

    started = time.perf_counter()
    dataset = load_dataset(args.dataset)
    wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 2),
        "usable_images": len(dataset.manifest),
        "report_entries": len(dataset.report.entries),
        "peak_rss_mb": self_peak_rss_mb(),
    }


def _build_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "explorer", "build", str(args.dataset), "--model", args.model,
        "--weights", "random", "--pretrained", "", "--cache-dir", str(args.cache_dir), "--no-progress",
    ]


def step_build(args: argparse.Namespace) -> dict:
    command = _build_command(args)
    cold = run_measured(command) if not args.warm_only else None
    warm = [run_measured(command) for _ in range(args.warm)]
    result: dict = {"cold": cold, "warm": warm}
    if warm:
        result["warm_median_s"] = statistics.median(run["wall_s"] for run in warm)
    return result


def step_throughput(args: argparse.Namespace) -> dict:
    import torch

    from explorer.dataset import load_dataset
    from explorer.embeddings import ModelSpec, embed_images, load_model

    dataset = load_dataset(args.dataset)
    manifest = dataset.manifest
    from explorer.demo.conditions import LARGE_GENERATOR

    large = manifest[manifest["generator"] == LARGE_GENERATOR.name]
    rows = large if len(large) >= args.images else manifest
    ids = [str(image_id) for image_id in rows["image_id"].iloc[: args.images]]
    sources = [dataset.image_path(image_id) for image_id in ids]

    loaded = load_model(ModelSpec(name=args.model, pretrained=None, random_weights=True))
    started = time.perf_counter()
    embeddings = embed_images(sources, loaded, image_ids=ids, cache=False, batch_size=args.batch_size)
    wall = time.perf_counter() - started
    rate = len(embeddings) / wall
    return {
        "model": loaded.model_id,
        "images": len(ids),
        "embedded": len(embeddings),
        "torch_threads": torch.get_num_threads(),
        "wall_s": round(wall, 1),
        "images_per_s": round(rate, 2),
        "extrapolated_s_for_all": round(len(manifest) / rate),
        "all_images": len(manifest),
        "peak_rss_mb": self_peak_rss_mb(),
    }


def step_umap(args: argparse.Namespace) -> dict:
    from explorer.cache import ArtifactCache
    from explorer.dataset import load_dataset
    from explorer.embeddings import ModelSpec, embed_dataset
    from explorer.projection import ProjectionParams, project

    dataset = load_dataset(args.dataset)
    cache = ArtifactCache(args.cache_dir)
    spec = ModelSpec(name=args.model, pretrained=None, random_weights=True)
    started = time.perf_counter()
    embeddings = embed_dataset(dataset, spec, cache=cache)
    read_s = time.perf_counter() - started
    manifest = dataset.manifest
    sources = dict(zip(manifest["image_id"].astype(str), manifest["source"].astype(str), strict=True))
    if args.random_dim:
        embeddings = _random_vectors(embeddings, manifest, args.random_dim)

    result: dict = {"points": len(embeddings), "dim": int(embeddings.vectors.shape[1]), "read_cached_s": round(read_s, 1)}
    for mode in args.modes:
        started = time.perf_counter()
        projection = project(embeddings, ProjectionParams(mode=mode), sources=sources, cache=False)
        result[f"{mode}_s"] = round(time.perf_counter() - started, 1)
        result[f"{mode}_fitted"] = projection.n_fitted
        result[f"{mode}_peak_rss_mb"] = self_peak_rss_mb()
    return result


def _random_vectors(embeddings, manifest, dim: int):  # noqa: ANN001, ANN202 - EmbeddingSet in and out
    """Return the embedding set with unit vectors of ``dim`` dimensions, one cluster per condition.

    It replaces a large model's output (``ViT-B-32`` gives 512 dimensions) without
    embedding the images with that model.
    """
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(0)
    conditions = manifest.set_index(manifest["image_id"].astype(str))["condition"]
    labels = conditions.loc[embeddings.image_ids].to_numpy()
    names, codes = np.unique(labels, return_inverse=True)
    centres = rng.normal(size=(len(names), dim)).astype(np.float32)
    vectors = centres[codes] + rng.normal(scale=0.7, size=(len(codes), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return dataclasses.replace(embeddings, vectors=vectors)


def step_map_page(args: argparse.Namespace) -> dict:
    from explorer.settings import ENV_CACHE_DIR, ENV_CHECKPOINT, ENV_DATASET, ENV_DATASET_ROOTS, ENV_MODEL
    from explorer.settings import ENV_PRETRAINED, ENV_WEIGHTS

    os.environ.update(
        {
            ENV_DATASET: str(Path(args.dataset).resolve()),
            ENV_MODEL: args.model,
            ENV_PRETRAINED: "",
            ENV_WEIGHTS: "random",
            ENV_CACHE_DIR: str(Path(args.cache_dir).resolve()),
            "HF_HUB_OFFLINE": "1",
        }
    )
    os.environ.pop(ENV_CHECKPOINT, None)
    os.environ.pop(ENV_DATASET_ROOTS, None)
    keep_navigation_mode()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=1800)
    started = time.perf_counter()
    at.run()
    opening = time.perf_counter() - started
    _raise_page_exception(at)
    started = time.perf_counter()
    at.switch_page("pages/map.py")
    at.run()
    first = time.perf_counter() - started
    _raise_page_exception(at)

    reruns = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - started)
    _raise_page_exception(at)
    return {
        "opening_page_new_session_s": round(opening, 2),
        "first_map_run_s": round(first, 2),
        "rerun_median_s": round(statistics.median(reruns), 2),
        "reruns_s": [round(value, 2) for value in reruns],
        "captions": [caption.value for caption in at.caption][:3],
        "peak_rss_mb": self_peak_rss_mb(),
    }


def _raise_page_exception(at) -> None:  # noqa: ANN001 - an AppTest
    if at.exception:
        raise RuntimeError(f"The page failed with an exception: {at.exception[0].value}")


STEPS = {
    "render": step_render,
    "import": step_import,
    "build": step_build,
    "throughput": step_throughput,
    "umap": step_umap,
    "map-page": step_map_page,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the benchmark's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also append the result to this JSON-lines file")
    steps = parser.add_subparsers(dest="step", required=True)

    render = steps.add_parser("render", help="render the large demo")
    render.add_argument("--out", type=Path, required=True, help="new output folder (keep it outside the repository)")
    render.add_argument("--images", type=int, default=100_000, help="large-mode images (default 100000)")
    render.add_argument("--size", type=int, default=64, help="side of the large-mode images in pixels (default 64)")

    imported = steps.add_parser("import", help="import and validate the dataset")
    imported.add_argument("dataset", type=Path)

    for name, helptext in (
        ("build", "cold and warm python -m explorer build"),
        ("throughput", "embedding rate of one model on a subset, cache off"),
        ("umap", "UMAP time on the cached embeddings"),
        ("map-page", "Map page script run under AppTest with a warm cache"),
    ):
        step = steps.add_parser(name, help=helptext)
        step.add_argument("dataset", type=Path)
        default_model = "ViT-B-32" if name == "throughput" else TINY_MODEL
        step.add_argument("--model", default=default_model, help=f"open_clip architecture, random weights (default {default_model})")
        if name != "throughput":
            step.add_argument("--cache-dir", type=Path, required=True, help="cache folder the build fills")
        if name == "build":
            step.add_argument("--warm", type=int, default=3, help="warm builds after the cold one (default 3)")
            step.add_argument("--warm-only", action="store_true", help="skip the cold build (cache already filled)")
        if name == "throughput":
            step.add_argument("--images", type=int, default=2000, help="images to embed (default 2000)")
            step.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
        if name == "umap":
            step.add_argument("--modes", nargs="+", default=["all", "real"], choices=["all", "real"])
            step.add_argument(
                "--random-dim", type=int, default=0,
                help="replace the cached vectors by clustered random unit vectors of this size (512 for ViT-B-32)",
            )
        if name == "map-page":
            step.add_argument("--repeats", type=int, default=5, help="timed reruns (default 5)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    before = machine()
    result = STEPS[args.step](args)
    record = {"step": args.step, "machine": before, "load_average_after": machine()["load_average"], **result}
    line = json.dumps(record, default=str)
    print(line)
    if args.json is not None:
        with open(args.json, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
