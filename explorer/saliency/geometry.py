"""Model-input preprocessing with a recorded transform box, and the way back.

Attributions are computed on the model input (a normalised square tensor) and
must land on the same pixels of the photo on screen. The preprocessing
here resizes and pads (or crops) the decoded image itself and records where
the image sits inside the model input, so a map on the model input can be
mapped back exactly. Open_clip's own ``preprocess`` does not expose that box,
so it is rebuilt here from the model's ``preprocess_config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

# Fitting modes: "pad" keeps the whole image (a tall portrait keeps the chin
# and the forehead), "crop" matches open_clip's default resize-and-centre-crop.
FIT_MODES = ("pad", "crop")
DEFAULT_FIT_MODE = "pad"

_INTERPOLATIONS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class InputTransform:
    """Placement of the original image inside the model input.

    Sizes are ``(width, height)`` in pixels. ``resized_size`` is the image after
    scaling, and ``offset`` is the model-input position of the scaled image's
    top-left corner. The offset is non-negative when padding and may be
    negative when cropping, because then the scaled image overhangs the input.
    """

    image_size: tuple[int, int]
    input_size: tuple[int, int]
    resized_size: tuple[int, int]
    offset: tuple[int, int]
    mode: str

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Model-input pixels per image pixel, along x and along y."""
        return (
            self.resized_size[0] / self.image_size[0],
            self.resized_size[1] / self.image_size[1],
        )

    def image_to_input(self, points: np.ndarray) -> np.ndarray:
        """Map ``(n, 2)`` image pixel coordinates (x, y) to model-input coordinates."""
        scale = np.asarray(self.scale_xy)
        return np.asarray(points, dtype=float) * scale + np.asarray(self.offset)

    def input_to_image(self, points: np.ndarray) -> np.ndarray:
        """Map ``(n, 2)`` model-input coordinates (x, y) back to image pixels."""
        scale = np.asarray(self.scale_xy)
        return (np.asarray(points, dtype=float) - np.asarray(self.offset)) / scale


@dataclass(frozen=True)
class PreparedInput:
    """A model-input tensor ``(1, 3, H, W)`` and the transform that made it."""

    tensor: Any
    transform: InputTransform
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _config_value(config: Any, name: str, default: Any = None) -> Any:
    if isinstance(config, dict):
        return config.get(name, default)
    return getattr(config, name, default)


def input_size_from_config(config: Any) -> tuple[int, int]:
    """Return the model input ``(width, height)`` from a preprocess config."""
    size = _config_value(config, "image_size", 224)
    if isinstance(size, int):
        return (size, size)
    height, width = (int(value) for value in size)
    return (width, height)


def plan_transform(
    image_size: tuple[int, int], input_size: tuple[int, int], mode: str = DEFAULT_FIT_MODE
) -> InputTransform:
    """Compute the resize and pad or crop box that fits an image into the model input.

    Parameters
    ----------
    image_size : tuple of int
        ``(width, height)`` of the decoded image.
    input_size : tuple of int
        ``(width, height)`` of the model input.
    mode : {"pad", "crop"}, default "pad"
        ``"pad"`` scales the longer side to fit and pads the rest. ``"crop"``
        scales the shorter side to fit and cuts the overhang equally on both sides.
    """
    if mode not in FIT_MODES:
        raise ValueError(f"fit mode {mode!r} is not supported; use one of {', '.join(FIT_MODES)}")
    width, height = image_size
    input_width, input_height = input_size
    if mode == "pad":
        scale = min(input_width / width, input_height / height)
    else:
        scale = max(input_width / width, input_height / height)
    resized_width = max(1, round(width * scale))
    resized_height = max(1, round(height * scale))
    if mode == "pad":
        resized_width, resized_height = min(resized_width, input_width), min(resized_height, input_height)
    else:
        resized_width, resized_height = max(resized_width, input_width), max(resized_height, input_height)

    # Padding centres the image; cropping centres the cut (torchvision rounds the same way).
    offset_x = round((input_width - resized_width) / 2)
    offset_y = round((input_height - resized_height) / 2)
    return InputTransform(
        image_size=(width, height),
        input_size=(input_width, input_height),
        resized_size=(resized_width, resized_height),
        offset=(offset_x, offset_y),
        mode=mode,
    )


def prepare_input(image: Image.Image, preprocess_config: Any, *, mode: str = DEFAULT_FIT_MODE) -> PreparedInput:
    """Resize, pad or crop, and normalise an RGB image into a model-input tensor.

    Padding uses the normalisation mean colour, so padded pixels are zero in
    the model input, which is also the default attribution baseline.

    Returns
    -------
    PreparedInput
        ``tensor`` has shape ``(1, 3, H, W)``, float32.
    """
    import torch

    mean = tuple(float(value) for value in _config_value(preprocess_config, "mean", (0.5, 0.5, 0.5)))
    std = tuple(float(value) for value in _config_value(preprocess_config, "std", (0.5, 0.5, 0.5)))
    interpolation = _INTERPOLATIONS.get(
        str(_config_value(preprocess_config, "interpolation", "bicubic")), Image.Resampling.BICUBIC
    )
    rgb = image.convert("RGB")
    transform = plan_transform(rgb.size, input_size_from_config(preprocess_config), mode)

    resized = rgb.resize(transform.resized_size, interpolation)
    fill = tuple(round(channel * 255) for channel in mean)
    canvas = Image.new("RGB", transform.input_size, fill)
    canvas.paste(resized, transform.offset)

    # (H, W, 3) uint8 -> (1, 3, H, W) normalised float32
    pixels = np.asarray(canvas, dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
    return PreparedInput(tensor=tensor, transform=transform, mean=mean, std=std)


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D float map to ``(width, height)`` with bilinear interpolation."""
    array = np.asarray(values, dtype=np.float32)
    if (array.shape[1], array.shape[0]) == tuple(size):
        return array.copy()
    resized = Image.fromarray(array, mode="F").resize(tuple(size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def map_to_image(input_map: np.ndarray, transform: InputTransform) -> np.ndarray:
    """Map a ``(H, W)`` model-input map back onto the original image.

    The map is cut to the box the image occupies in the model input (padding
    is dropped), placed on the scaled image (cropped-away parts get zero
    attribution), and resized to the original ``(height, width)``.
    """
    values = np.asarray(input_map, dtype=np.float32)
    input_width, input_height = transform.input_size
    if values.shape != (input_height, input_width):
        values = resize_map(values, transform.input_size)
    resized_width, resized_height = transform.resized_size
    offset_x, offset_y = transform.offset

    # (resized_height, resized_width) canvas in scaled-image pixels
    canvas = np.zeros((resized_height, resized_width), dtype=np.float32)
    left, top = max(0, -offset_x), max(0, -offset_y)
    source_left, source_top = max(0, offset_x), max(0, offset_y)
    width = min(resized_width - left, input_width - source_left)
    height = min(resized_height - top, input_height - source_top)
    canvas[top : top + height, left : left + width] = values[
        source_top : source_top + height, source_left : source_left + width
    ]
    return resize_map(canvas, transform.image_size)
