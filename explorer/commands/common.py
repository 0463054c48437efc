"""Arguments shared by several commands: model choice, cache folder, dataset layout."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from explorer.embeddings import DEFAULT_MODEL, DEFAULT_PRETRAINED, ModelSpec
from explorer.settings import ENV_CACHE_DIR, ENV_CHECKPOINT, ENV_MODEL, ENV_PRETRAINED, ENV_WEIGHTS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--pretrained``, ``--checkpoint`` and ``--weights``."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=os.environ.get(ENV_MODEL, DEFAULT_MODEL),
        help=f"open_clip architecture or hf-hub: id (default {DEFAULT_MODEL}, env {ENV_MODEL})",
    )
    group.add_argument(
        "--pretrained",
        default=os.environ.get(ENV_PRETRAINED, DEFAULT_PRETRAINED),
        help=f"open_clip pretrained tag (default {DEFAULT_PRETRAINED}, env {ENV_PRETRAINED})",
    )
    group.add_argument(
        "--checkpoint",
        type=Path,
        default=os.environ.get(ENV_CHECKPOINT) or None,
        help=f"local weights file used instead of a download (env {ENV_CHECKPOINT})",
    )
    group.add_argument(
        "--weights",
        choices=("pretrained", "random"),
        default=os.environ.get(ENV_WEIGHTS, "pretrained"),
        help="'random' builds the model untrained, for trying the tool offline; "
        f"results are then marked as meaningless (env {ENV_WEIGHTS})",
    )


def model_spec_from_args(args: argparse.Namespace) -> ModelSpec:
    """Turn the parsed model arguments into a :class:`ModelSpec`."""
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    return ModelSpec(
        name=args.model,
        pretrained=args.pretrained or None,
        checkpoint=checkpoint,
        random_weights=args.weights == "random",
    )


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache-dir``."""
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache folder (default: env {ENV_CACHE_DIR}, else the user's cache directory)",
    )


def add_layout_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--layout`` to name a dataset layout instead of detecting it."""
    from explorer.dataset import LAYOUTS

    parser.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default=None,
        help="dataset layout; detected from the folder when omitted",
    )
