"""One saliency request end to end: image -> model input -> map -> image pixels."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from explorer.saliency.geometry import (
    DEFAULT_FIT_MODE,
    InputTransform,
    PreparedInput,
    map_to_image,
    prepare_input,
)
from explorer.saliency.methods import (
    Explainer,
    MethodSettings,
    ProgressCallback,
    method_spec,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaliencyResult:
    """A map for one image, method and target, on the model input and on the image.

    ``input_map`` is ``(H, W)`` in model-input pixels; ``image_map`` is
    ``(height, width)`` on the decoded image; ``probability`` is the softmax
    probability of the target class.
    """

    method: str
    target: int
    target_name: str
    predicted_name: str
    probability: float
    input_map: np.ndarray
    image_map: np.ndarray
    transform: InputTransform
    grid_map: np.ndarray | None = None


def panel_title(result: SaliencyResult, *, is_random: bool = False) -> str:
    """Return a panel's title: method label, target and its probability, and a random-weights note."""
    title = f"{method_spec(result.method).label} for {result.target_name} (p={result.probability:.2f})"
    return f"{title} · RANDOM WEIGHTS" if is_random else title


def settings_key(method: str, settings: MethodSettings | None) -> str:
    """Return a stable text form of a method and its settings, for cache keys."""
    settings = settings if settings is not None else method_spec(method).settings_type()
    return json.dumps({"method": method, "settings": dataclasses.asdict(settings)}, sort_keys=True, default=str)


def explain(
    explainer: Explainer,
    prepared: PreparedInput,
    method: str,
    *,
    target: str | int | None = None,
    true_condition: str | None = None,
    settings: MethodSettings | None = None,
    progress: ProgressCallback | None = None,
) -> SaliencyResult:
    """Compute a map for a prepared model input and map it back to the image.

    ``target`` is ``None`` or ``"predicted"``, ``"true"`` (needs
    ``true_condition``), a condition name or a score column.
    """
    import torch

    inputs = prepared.tensor
    with torch.no_grad():
        probabilities = torch.softmax(explainer.scores(inputs), dim=1)[0]
    if target is None or target == "predicted":
        target_index = int(probabilities.argmax())
    else:
        target_index = explainer.target_index(target, inputs, true_condition)
    attribution = explainer.attribute(inputs, target_index, method, settings, progress)
    return SaliencyResult(
        method=method,
        target=target_index,
        target_name=explainer.class_names[target_index],
        predicted_name=explainer.class_names[int(probabilities.argmax())],
        probability=float(probabilities[target_index]),
        input_map=attribution.input_map,
        image_map=map_to_image(attribution.input_map, prepared.transform),
        transform=prepared.transform,
        grid_map=attribution.grid_map,
    )


def explain_image(
    explainer: Explainer,
    image: Image.Image,
    preprocess_config: Any,
    method: str,
    *,
    fit_mode: str = DEFAULT_FIT_MODE,
    target: str | int | None = None,
    true_condition: str | None = None,
    settings: MethodSettings | None = None,
    progress: ProgressCallback | None = None,
) -> SaliencyResult:
    """Prepare a decoded RGB image for the model and compute its map (see :func:`explain`)."""
    prepared = prepare_input(image, preprocess_config, mode=fit_mode)
    return explain(
        explainer,
        prepared,
        method,
        target=target,
        true_condition=true_condition,
        settings=settings,
        progress=progress,
    )
