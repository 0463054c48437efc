"""Heatmap overlays and side-by-side panels as PIL images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# Panel captions are drawn in a strip this many pixels high above each tile.
CAPTION_HEIGHT = 22
PANEL_GAP = 8
OVERLAY_MODES = ("absolute", "signed", "positive")


@dataclass(frozen=True)
class OverlaySettings:
    """Drawing options of a map over an image.

    ``mode`` is ``"absolute"`` (magnitude, sequential colormap), ``"signed"``
    (evidence for and against, diverging colormap centred on zero) or
    ``"positive"`` (evidence for the target only). ``clip_percentile`` caps the
    colour scale at that percentile of the magnitudes, so a few extreme pixels
    do not wash out the rest. ``alpha`` is the heatmap's maximum opacity.
    """

    alpha: float = 0.5
    colormap: str = "inferno"
    signed_colormap: str = "RdBu_r"
    mode: str = "absolute"
    clip_percentile: float = 99.0


def normalise_map(values: np.ndarray, mode: str = "absolute", clip_percentile: float = 99.0) -> np.ndarray:
    """Scale a map for display: ``[0, 1]`` for absolute and positive, ``[-1, 1]`` for signed."""
    if mode not in OVERLAY_MODES:
        raise ValueError(f"overlay mode {mode!r} is not supported; use one of {', '.join(OVERLAY_MODES)}")
    if not 0 < clip_percentile <= 100:
        raise ValueError(f"clip_percentile must be in (0, 100], not {clip_percentile}")
    array = np.nan_to_num(np.asarray(values, dtype=np.float32))
    if mode == "absolute":
        array = np.abs(array)
    elif mode == "positive":
        array = np.clip(array, 0, None)
    magnitudes = np.abs(array)
    scale = float(np.percentile(magnitudes, clip_percentile)) if magnitudes.size else 0.0
    if scale <= 0:
        scale = float(magnitudes.max()) if magnitudes.size else 0.0
    if scale <= 0:
        return np.zeros_like(array)
    lower = -1.0 if mode == "signed" else 0.0
    return np.clip(array / scale, lower, 1.0)


def colorize_map(values: np.ndarray, settings: OverlaySettings = OverlaySettings()) -> Image.Image:
    """Render a map as an RGB image with a matplotlib colormap."""
    from matplotlib import colormaps

    scaled = normalise_map(values, settings.mode, settings.clip_percentile)
    if settings.mode == "signed":
        colormap = colormaps[settings.signed_colormap]
        rgba = colormap((scaled + 1.0) / 2.0)
    else:
        rgba = colormaps[settings.colormap](scaled)
    return Image.fromarray((rgba[..., :3] * 255).round().astype(np.uint8), mode="RGB")


def overlay_heatmap(
    image: Image.Image, values: np.ndarray, settings: OverlaySettings = OverlaySettings()
) -> Image.Image:
    """Blend a map over an image; opacity grows with the map's strength.

    ``values`` is ``(height, width)`` in image pixels; a map of another size is
    resized to the image.
    """
    from explorer.saliency.geometry import resize_map

    if not 0 <= settings.alpha <= 1:
        raise ValueError(f"alpha must be between 0 and 1, not {settings.alpha}")
    rgb = image.convert("RGB")
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (rgb.height, rgb.width):
        array = resize_map(array, rgb.size)
    heat = np.asarray(colorize_map(array, settings), dtype=np.float32)
    strength = np.abs(normalise_map(array, settings.mode, settings.clip_percentile))

    # (height, width, 1) per-pixel opacity
    opacity = (settings.alpha * strength)[..., None]
    base = np.asarray(rgb, dtype=np.float32)
    blended = base * (1 - opacity) + heat * opacity
    return Image.fromarray(blended.round().clip(0, 255).astype(np.uint8), mode="RGB")


def _caption_tile(tile: Image.Image, caption: str) -> Image.Image:
    framed = Image.new("RGB", (tile.width, tile.height + CAPTION_HEIGHT), "white")
    framed.paste(tile, (0, CAPTION_HEIGHT))
    ImageDraw.Draw(framed).text((4, 4), caption, fill="black")
    return framed


def side_by_side(tiles: list[tuple[str, Image.Image]], height: int | None = None) -> Image.Image:
    """Place captioned images in one row, each scaled to the same height."""
    if not tiles:
        raise ValueError("side_by_side needs at least one image")
    height = height or max(tile.height for _, tile in tiles)
    scaled = []
    for caption, tile in tiles:
        width = max(1, round(tile.width * height / tile.height))
        scaled.append(_caption_tile(tile.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), caption))
    total_width = sum(tile.width for tile in scaled) + PANEL_GAP * (len(scaled) - 1)
    panel = Image.new("RGB", (total_width, scaled[0].height), "white")
    left = 0
    for tile in scaled:
        panel.paste(tile, (left, 0))
        left += tile.width + PANEL_GAP
    return panel


def saliency_panel(
    image: Image.Image,
    values: np.ndarray,
    settings: OverlaySettings = OverlaySettings(),
    *,
    title: str = "",
    height: int | None = None,
) -> Image.Image:
    """Build the three-tile panel: image, overlay, map alone."""
    overlay = overlay_heatmap(image, values, settings)
    heat = colorize_map(np.asarray(values, dtype=np.float32), settings).resize(image.size, Image.Resampling.BILINEAR)
    prefix = f"{title} · " if title else ""
    return side_by_side(
        [("image", image), (f"{prefix}overlay", overlay), (f"map ({settings.mode})", heat)], height=height
    )
