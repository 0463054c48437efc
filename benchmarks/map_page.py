"""Time the Map page's script run under AppTest with a warm cache, at 10,000 and 100,000 points.

Usage::

    python benchmarks/map_page.py                    # 10,000 and 100,000 points, 5 runs each
    python benchmarks/map_page.py --points 10000 --repeats 7 --append BENCHMARKS.md

"Warm cache" means the session already contains the dataset, embeddings and
projection, as after its first visit to the page. The benchmark puts a
synthetic set of that size straight into the page's loaders (no images are
decoded and UMAP does not run), so the figure measures what every later rerun
pays: filtering, downsampling, building the plotly figure, serialising it,
and mapping a selection back to rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explorer.ui.apptest import keep_navigation_mode, send_chart_selection  # noqa: E402

N_CONDITIONS = 100
REAL_FRACTION = 0.05
GENERATORS = ("dreambooth", "fastgan")
EMBEDDING_DIM = 32


@dataclass
class _Report:
    entries: list = field(default_factory=list)


@dataclass
class _Dataset:
    root: Path
    manifest: pd.DataFrame
    report: _Report = field(default_factory=_Report)
    layout: str = "manifest"
    fingerprint: str = "benchmark"


def synthetic_map_data(n_points: int, seed: int = 0):
    """Build a manifest, an embedding set and a projection of ``n_points`` images."""
    from explorer.embeddings import EmbeddingSet, ModelInfo, PreprocessConfig
    from explorer.projection import Projection, ProjectionParams

    rng = np.random.default_rng(seed)
    condition_index = rng.integers(0, N_CONDITIONS, n_points)
    is_real = rng.random(n_points) < REAL_FRACTION
    generator = np.where(is_real, "", np.array(GENERATORS)[rng.integers(0, len(GENERATORS), n_points)])
    image_ids = [f"img{i:06d}" for i in range(n_points)]
    manifest = pd.DataFrame(
        {
            "image_id": image_ids,
            "path": [f"images/{i}.png" for i in image_ids],
            "condition": [f"Condition {c:03d}" for c in condition_index],
            "condition_code": [f"C{c:03d}" for c in condition_index],
            "source": np.where(is_real, "real", "synthetic"),
            "generator": generator,
            "subject_id": "",
        }
    )

    # Condition clusters in the plane: (n_points, 2).
    centres = rng.normal(scale=10.0, size=(N_CONDITIONS, 2))
    coordinates = centres[condition_index] + rng.normal(size=(n_points, 2))
    vectors = rng.normal(size=(n_points, EMBEDDING_DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    info = ModelInfo(
        model_id="benchmark:random",
        name="benchmark",
        preprocess_config=PreprocessConfig(image_size=(64, 64), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        is_random=True,
    )
    embeddings = EmbeddingSet(image_ids=image_ids, vectors=vectors, info=info)
    coords = pd.DataFrame({"image_id": image_ids, "x": coordinates[:, 0], "y": coordinates[:, 1]})
    projection = Projection(coords=coords, params=ProjectionParams(), n_fitted=n_points, embedding_key=f"bench-{n_points}")
    return manifest, embeddings, projection


def _patch_loaders(manifest: pd.DataFrame, embeddings, projection) -> None:
    import explorer.ui.loaders as loaders

    dataset = _Dataset(root=REPO / "benchmark-images-not-present", manifest=manifest)
    loaders.app_dataset = lambda: dataset
    loaders.app_embeddings = lambda progress=True: embeddings
    loaders.app_projection = lambda params: projection


def _select_box(at, box: dict) -> None:
    """Make the next run carry a box selection on the map chart, as the browser sends it."""
    send_chart_selection(at, {"points": [], "point_indices": [], "box": [box], "lasso": []})


def time_map_page(n_points: int, repeats: int) -> dict:
    """Return the median and all timings of warm Map page runs, without and with a selection."""
    from streamlit.testing.v1 import AppTest

    manifest, embeddings, projection = synthetic_map_data(n_points)
    _patch_loaders(manifest, embeddings, projection)

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("pages/map.py")
    at.run()  # warm-up: first run of the page in this session
    if at.exception:
        raise RuntimeError(at.exception[0].value)

    plain = []
    for _ in range(repeats):
        started = time.perf_counter()
        at.run()
        plain.append(time.perf_counter() - started)

    # A box around the first condition's cluster, in data units.
    first = projection.coords[manifest["condition"] == manifest["condition"].iloc[0]]
    box = {"xref": "x", "yref": "y", "x": [first["x"].min(), first["x"].max()], "y": [first["y"].min(), first["y"].max()]}
    selected = []
    n_selected = 0
    for _ in range(repeats):
        _select_box(at, box)
        started = time.perf_counter()
        at.run()
        selected.append(time.perf_counter() - started)
        n_selected = len(at.session_state["selected_ids"])
        box = {**box, "x": [box["x"][0], box["x"][1] + 1e-6]}  # a new event each time
    caption = at.caption[0].value
    return {
        "points": n_points,
        "median_s": statistics.median(plain),
        "runs_s": plain,
        "median_with_selection_s": statistics.median(selected),
        "selected": n_selected,
        "caption": caption,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000], help="map sizes to time")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size")
    parser.add_argument("--append", type=Path, default=None, help="Markdown file to append the results to")
    args = parser.parse_args(argv)

    os.environ.setdefault("RDFACE_EXPLORER_WEIGHTS", "random")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    keep_navigation_mode()
    results = [time_map_page(n, args.repeats) for n in args.points]

    command = "python benchmarks/map_page.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    lines = []
    for result in results:
        line = (
            f"| {result['points']:,} | {result['median_s']:.2f} s | {result['median_with_selection_s']:.2f} s "
            f"| {result['selected']:,} | {result['caption']} |"
        )
        lines.append(line)
        print(f"{result['points']:>7,} points: median {result['median_s']:.2f} s, "
              f"with a box selection {result['median_with_selection_s']:.2f} s "
              f"({result['selected']:,} selected); runs {', '.join(f'{t:.2f}' for t in result['runs_s'])}")

    if args.append is not None:
        table = "\n".join(
            [
                "",
                f"Command: `{command.strip()}` ({args.repeats} timed runs per size, median). Machine: {machine}.",
                "",
                "| points | median page run | with a box selection | selected | caption |",
                "|---|---|---|---|---|",
                *lines,
                "",
            ]
        )
        with open(args.append, "a", encoding="utf-8") as handle:
            handle.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
