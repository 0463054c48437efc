"""open_clip model loading and batched image embedding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "openai"


@dataclass(frozen=True)
class ModelSpec:
    """Which open_clip model to load and where its weights come from.

    ``name`` is an open_clip architecture (``ViT-B-32``) or an ``hf-hub:`` id.
    ``checkpoint``, when set, is a local weights file that takes precedence
    over a download. ``random_weights`` builds the architecture untrained; it
    is only used when asked for, and every view that shows results says so.
    """

    name: str = DEFAULT_MODEL
    pretrained: str | None = DEFAULT_PRETRAINED
    checkpoint: Path | None = None
    random_weights: bool = False
