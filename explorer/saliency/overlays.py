"""Heatmap overlays and side-by-side panels as PIL images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Panel captions are drawn in a strip this many pixels high above each tile.
CAPTION_HEIGHT = 22
PANEL_GAP = 8
# Font sizes in pixels of the tile captions and of the panel title above them.
CAPTION_FONT_SIZE = 14
TITLE_FONT_SIZE = 16
# Margin in pixels around the title text and between its lines.
TITLE_PADDING = 6
TITLE_LINE_GAP = 4
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


def panel_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Return Pillow's built-in font at ``size`` pixels (its fixed bitmap font without FreeType)."""
    return ImageFont.load_default(size=size)


def wrap_text(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Split ``text`` into lines no wider than ``width`` pixels, breaking between words.

    A single word wider than ``width`` is broken between characters.
    """
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if measure.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for character in word:
            if line and measure.textlength(line + character, font=font) > width:
                lines.append(line)
                line = ""
            line += character
    if line:
        lines.append(line)
    return lines


def _title_strip(title: str, width: int) -> Image.Image:
    """Draw ``title`` wrapped onto as many lines as ``width`` needs, on white."""
    font = panel_font(TITLE_FONT_SIZE)
    lines = wrap_text(title, font, width - 2 * TITLE_PADDING)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_height = measure.textbbox((0, 0), "Ag|", font=font)[3] + TITLE_LINE_GAP
    strip = Image.new("RGB", (width, 2 * TITLE_PADDING + line_height * len(lines)), "white")
    draw = ImageDraw.Draw(strip)
    for index, line in enumerate(lines):
        draw.text((TITLE_PADDING, TITLE_PADDING + index * line_height), line, fill="black", font=font)
    return strip


def _caption_tile(tile: Image.Image, caption: str) -> Image.Image:
    framed = Image.new("RGB", (tile.width, tile.height + CAPTION_HEIGHT), "white")
    framed.paste(tile, (0, CAPTION_HEIGHT))
    ImageDraw.Draw(framed).text((4, 3), caption, fill="black", font=panel_font(CAPTION_FONT_SIZE))
    return framed


def side_by_side(tiles: list[tuple[str, Image.Image]], height: int | None = None, *, title: str = "") -> Image.Image:
    """Place captioned images in one row, each scaled to the same height.

    A ``title`` goes in its own strip above the row, wrapped onto as many lines
    as the row's width needs.
    """
    if not tiles:
        raise ValueError("side_by_side needs at least one image")
    height = height or max(tile.height for _, tile in tiles)
    scaled = []
    for caption, tile in tiles:
        width = max(1, round(tile.width * height / tile.height))
        scaled.append(_caption_tile(tile.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), caption))
    total_width = sum(tile.width for tile in scaled) + PANEL_GAP * (len(scaled) - 1)
    header = _title_strip(title, total_width) if title else None
    top = header.height if header is not None else 0
    panel = Image.new("RGB", (total_width, top + scaled[0].height), "white")
    if header is not None:
        panel.paste(header, (0, 0))
    left = 0
    for tile in scaled:
        panel.paste(tile, (left, top))
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
    """Build the three-tile panel: image, overlay, map alone, with ``title`` above them."""
    overlay = overlay_heatmap(image, values, settings)
    heat = colorize_map(np.asarray(values, dtype=np.float32), settings).resize(image.size, Image.Resampling.BILINEAR)
    return side_by_side(
        [("image", image), ("overlay", overlay), (f"map ({settings.mode})", heat)], height=height, title=title
    )
