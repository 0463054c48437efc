"""The app's favicon, drawn locally.

A Material icon name as ``page_icon`` makes the browser fetch the icon from
Google's font server, which would break the promise that the app contacts no
host but its own server. An image is served by the app itself.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw

ICON_SIZE_PX = 64
ICON_BACKGROUND = (38, 70, 83)
ICON_FOREGROUND = (233, 196, 106)


@lru_cache(maxsize=1)
def app_icon() -> Image.Image:
    """Draw the favicon: a stylised face on a dark square, ``ICON_SIZE_PX`` wide."""
    size = ICON_SIZE_PX
    icon = Image.new("RGB", (size, size), ICON_BACKGROUND)
    draw = ImageDraw.Draw(icon)
    draw.ellipse((10, 6, size - 10, size - 4), fill=ICON_FOREGROUND)
    for eye_x in (24, 40):
        draw.ellipse((eye_x - 4, 24, eye_x + 4, 32), fill=ICON_BACKGROUND)
    draw.arc((22, 32, 42, 50), start=20, end=160, fill=ICON_BACKGROUND, width=3)
    return icon
