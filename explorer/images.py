"""Safe image decoding shared by thumbnails, embeddings, saliency and exports.

Every module that reads pixels goes through :func:`decode_image` or
:func:`load_thumbnail`, so every view of an image agrees:

- the format is taken from the file content, never from the extension;
- EXIF orientation is applied exactly once;
- 16-bit integer and 32-bit float grayscale is rescaled to 8 bits by the
  image's own minimum and maximum, so a narrow range is stretched, not clipped;
- palette and alpha images go through RGBA and are composited onto
  :data:`BACKGROUND_RGB`, so transparent pixels never turn black or green;
- CMYK, L, LA and 1-bit images become RGB, and multi-frame files use frame 0;
- truncated files and decompression bombs raise :class:`ImageDecodeError`
  with a ``reason`` code (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays off);
- the returned image carries no metadata (no EXIF, GPS, ICC or text chunks),
  and :func:`png_bytes` / :func:`save_png` write none.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import warnings
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from explorer.errors import ImageDecodeError

log = logging.getLogger(__name__)

ImageSource = Union[str, os.PathLike, bytes]

# 150 megapixels: room for a 12,000 x 9,000 camera image (108 Mpx) while a
# decompression bomb claiming gigapixels is rejected from its header alone.
# Pillow 13 itself rejects anything above 2 x Image.MAX_IMAGE_PIXELS (about
# 179 Mpx), whatever this limit is set to.
MAX_IMAGE_PIXELS = 150_000_000

# Fixed background for transparent pixels: a light neutral grey, so a cut-out
# face neither disappears into white nor gains a dark halo.
BACKGROUND_RGB = (236, 236, 236)

# Grayscale modes with more than 8 bits per pixel, rescaled by their own range.
HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

# Modes whose alpha (or transparency key) must be composited onto the background.
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# Operating-system files that are skipped and counted, never reported as errors.
OS_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "thumbs.db", "desktop.ini", "Icon\r"})
OS_JUNK_FOLDERS = frozenset({"__MACOSX", ".Spotlight-V100", ".Trashes", ".fseventsd"})

_SHA256_CHUNK_BYTES = 1 << 20

# Errors Pillow raises on damaged or hostile files while reading headers or pixels.
_DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)

# The truncation check must stay on: a cut file is reported, never padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes in memory>"
    return str(source)


def _reason_for(error: BaseException) -> str:
    """Map a Pillow exception to a report reason code."""
    if isinstance(error, Image.DecompressionBombError):
        return "too_large"
    if isinstance(error, UnidentifiedImageError):
        return "unsupported"
    text = str(error).lower()
    if "truncated" in text or isinstance(error, EOFError):
        return "truncated"
    return "unreadable"


def _open_file(source: ImageSource) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    try:
        return open(source, "rb")
    except FileNotFoundError as error:
        raise ImageDecodeError(f"Image file {source} not found.", reason="missing") from error
    except IsADirectoryError as error:
        raise ImageDecodeError(
            f"Image path {source} is a folder, not an image file.", reason="unreadable"
        ) from error
    except OSError as error:
        raise ImageDecodeError(
            f"Image file {source} cannot be opened: {error}.", reason="unreadable"
        ) from error


def open_image(
    source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS, name: str | None = None
) -> Image.Image:
    """Open an image lazily: read its header and check its size, decode no pixels.

    Parameters
    ----------
    source : path or bytes
        Image file path, or the file's bytes.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Largest accepted width x height.
    name : str, optional
        File name used in error messages; the path (or byte count) by default.

    Returns
    -------
    PIL.Image.Image
        A lazily loaded image positioned on its first frame. The caller owns
        the open file handle and closes it with ``image.close()``.

    Raises
    ------
    ImageDecodeError
        ``reason`` is ``missing``, ``unsupported`` (content is not a known
        image format), ``too_large`` or ``unreadable``.
    """
    handle = _open_file(source)
    name = name or _describe(source)
    try:
        with warnings.catch_warnings():
            # Pillow warns between its own limit and twice that, but this module
            # applies max_pixels itself below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle)
    except UnidentifiedImageError as error:
        handle.close()
        raise ImageDecodeError(
            f"{name} is not an image in a format Pillow can read "
            "(expected JPEG, PNG, TIFF, BMP, WebP, GIF or similar).",
            reason="unsupported",
        ) from error
    except Image.DecompressionBombError as error:
        handle.close()
        raise ImageDecodeError(
            f"{name} is too large to decode safely ({error}).", reason="too_large"
        ) from error
    except _DECODER_ERRORS as error:
        handle.close()
        raise ImageDecodeError(
            f"{name} has an unreadable header: {error}.", reason=_reason_for(error)
        ) from error

    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageDecodeError(
            f"{name} is {width}x{height} pixels ({width * height:,}), above the limit of "
            f"{max_pixels:,} pixels; downscale it or raise max_pixels.",
            reason="too_large",
        )
    if width < 1 or height < 1:
        image.close()
        raise ImageDecodeError(f"{name} has no pixels ({width}x{height}).", reason="unreadable")
    return image


def _rescale_to_8bit(image: Image.Image) -> Image.Image:
    """Stretch a 16-bit or float grayscale image to 0..255 by its own min..max."""
    # (height, width) integer or float values
    values = np.asarray(image).astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("L", image.size, 0)
    low = float(values[finite].min())
    high = float(values[finite].max())
    values = np.where(finite, values, low)

    if high > low:
        scaled = (values - low) * (255.0 / (high - low))
    elif image.mode.startswith("I;16"):
        # A flat 16-bit image keeps its place on the 16-bit scale.
        scaled = np.full_like(values, low * 255.0 / 65535.0)
    else:
        # NOTE: a flat 32-bit image has no known scale; its value is read as 8-bit.
        scaled = np.full_like(values, low)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _composite_on_background(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, BACKGROUND_RGB)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any loaded Pillow mode to RGB following the module rules."""
    if image.mode in HIGH_DEPTH_MODES:
        return _rescale_to_8bit(image).convert("RGB")
    if image.mode in ALPHA_MODES or image.mode == "P" or "transparency" in image.info:
        return _composite_on_background(image)
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def _without_metadata(image: Image.Image) -> Image.Image:
    """Copy the pixels into a fresh image that carries no info, EXIF or ICC data."""
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _apply_orientation(image: Image.Image, name: str) -> Image.Image:
    """Rotate or flip a loaded image as its EXIF orientation tag requests."""
    try:
        return ImageOps.exif_transpose(image)
    except _DECODER_ERRORS as error:
        # A damaged EXIF block must not cost the pixels, which decoded fine.
        log.warning("Ignoring unreadable EXIF data of %s: %s", name, error)
        return image


def _finish(image: Image.Image, name: str) -> Image.Image:
    """Decode the pixels of an opened image, orient it and convert it to clean RGB."""
    try:
        image.load()
        oriented = _apply_orientation(image, name)
        rgb = _to_rgb(oriented)
    except _DECODER_ERRORS as error:
        reason = _reason_for(error)
        if reason == "truncated":
            message = f"{name} is truncated: the file ends before the image data does ({error})."
        elif isinstance(error, ValueError) and "conversion" in str(error).lower():
            reason = "unsupported"
            message = f"{name} uses pixel mode {image.mode!r}, which cannot be converted to RGB."
        else:
            message = f"{name} cannot be decoded: {error}."
        raise ImageDecodeError(message, reason=reason) from error
    return _without_metadata(rgb)


def decode_image(source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode an image file into a metadata-free RGB image.

    Parameters
    ----------
    source : path or bytes
        Image file path, or the file's bytes. The format is detected from the
        content, so a PNG name holding JPEG bytes decodes as JPEG.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Largest accepted width x height, checked from the header before any
        pixel is decoded.

    Returns
    -------
    PIL.Image.Image
        Mode ``RGB``, upright (EXIF orientation applied), first frame only,
        transparent pixels composited onto :data:`BACKGROUND_RGB`, empty ``info``.

    Raises
    ------
    ImageDecodeError
        With ``reason`` ``missing``, ``unsupported``, ``too_large``,
        ``truncated`` or ``unreadable``; the message names the file.

    Examples
    --------
    >>> image = decode_image("face.jpg")  # doctest: +SKIP
    >>> image.mode
    'RGB'
    """
    image = open_image(source, max_pixels=max_pixels)
    try:
        return _finish(image, _describe(source))
    finally:
        image.close()


def load_thumbnail(
    source: ImageSource, max_side: int, *, max_pixels: int = MAX_IMAGE_PIXELS
) -> Image.Image:
    """Decode an image at reduced size, cheaply for large files.

    JPEG files are decoded directly at 1/2, 1/4 or 1/8 scale (the decoder's
    DCT scaling), so a 12,000 x 9,000 photo is never decoded at full size.
    Other formats are decoded once and then reduced.

    Parameters
    ----------
    source : path or bytes
        Image file path or bytes.
    max_side : int
        Maximum width and height of the result in pixels; smaller images are not enlarged.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Largest accepted width x height of the file.

    Returns
    -------
    PIL.Image.Image
        RGB image, same rules as :func:`decode_image`.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}.")
    image = open_image(source, max_pixels=max_pixels)
    name = _describe(source)
    try:
        if image.format == "JPEG":
            # draft() picks the largest DCT scale that still covers max_side.
            image.draft(image.mode if image.mode in ("RGB", "L") else None, (max_side, max_side))
        rgb = _finish(image, name)
    finally:
        image.close()
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG bytes without any metadata chunk."""
    buffer = io.BytesIO()
    _metadata_free(image).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write an image as a PNG file without any metadata chunk and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _metadata_free(image).save(path, format="PNG")
    return path


def _metadata_free(image: Image.Image) -> Image.Image:
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode not in ("RGB", "RGBA", "L", "LA", "1", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.info or getattr(image, "_exif", None) is not None:
        image = _without_metadata(image)
    return image


def file_sha256(path: str | os.PathLike) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_SHA256_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_os_junk(relpath: str | os.PathLike) -> bool:
    """Return whether a path is operating-system clutter (``.DS_Store``, ``._*``, ``__MACOSX/``).

    Examples
    --------
    >>> is_os_junk("__MACOSX/real/a.png"), is_os_junk("real/._a.png"), is_os_junk("real/a.png")
    (True, True, False)
    """
    parts = PurePosixPath(Path(relpath).as_posix()).parts
    if not parts:
        return False
    if any(part in OS_JUNK_FOLDERS for part in parts[:-1]):
        return True
    name = parts[-1]
    return name in OS_JUNK_NAMES or name in OS_JUNK_FOLDERS or name.startswith("._")


def probe_image(
    source: ImageSource, *, name: str | None = None, max_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[str, tuple[int, int]]:
    """Check an image file cheaply, without a full-size decode.

    The header is read and the size checked. PNG files are verified chunk by
    chunk (CRC and completeness). JPEG files are decoded at 1/8 scale, which
    reads the whole compressed stream and so detects a truncated file at a
    fraction of the cost of a full decode. Files in other formats, which are
    rare in face datasets, are decoded fully.

    Parameters
    ----------
    source : path or bytes
        Image file path, or the file's bytes.
    name : str, optional
        File name used in error messages.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Largest accepted width x height.

    Returns
    -------
    tuple of (str, (int, int))
        Pillow format name and (width, height) as stored (before EXIF orientation).

    Raises
    ------
    ImageDecodeError
        Same reasons as :func:`decode_image`.
    """
    name = name or _describe(source)
    image = open_image(source, max_pixels=max_pixels, name=name)
    image_format, size = image.format or "unknown", image.size
    try:
        if image_format == "PNG":
            image.verify()
        elif image_format == "JPEG":
            image.draft(None, (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
        else:
            image.load()
    except _DECODER_ERRORS as error:
        reason = _reason_for(error)
        if reason == "truncated":
            message = f"{name} is truncated: the file ends before the image data does ({error})."
        else:
            message = f"{name} is damaged: {error}."
        raise ImageDecodeError(message, reason=reason) from error
    finally:
        image.close()
    return image_format, size
