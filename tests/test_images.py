"""Tests for safe image decoding, thumbnails and metadata-free export."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from explorer.errors import ImageDecodeError
from explorer.images import (
    BACKGROUND_RGB,
    decode_image,
    file_sha256,
    is_os_junk,
    load_thumbnail,
    png_bytes,
    probe_image,
    save_png,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)
EXIF_ORIENTATION_TAG = 0x0112


def encode(image: Image.Image, image_format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def noise_image(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_with_claimed_size(width: int, height: int) -> bytes:
    """Build a PNG whose header claims width x height (its pixel data is a stub)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


# --- bit depth --------------------------------------------------------------------------------


def test_decode_16bit_gradient_keeps_range():
    gradient = np.tile(np.linspace(1000, 3000, 256).astype(np.uint16), (16, 1))
    data = encode(Image.fromarray(gradient), "PNG")

    result = np.asarray(decode_image(data))

    assert result.shape == (16, 256, 3)
    assert result.min() != result.max()
    assert result.min() == 0
    assert result.max() == 255
    assert abs(result.mean() - 127.5) < 2


def test_decode_16bit_big_endian_gradient_keeps_range():
    gradient = np.tile(np.linspace(0, 500, 64).astype(">u2"), (8, 1))
    image = Image.fromarray(gradient)
    assert image.mode == "I;16B"

    result = np.asarray(decode_image(encode(image, "TIFF")))

    assert result.min() == 0
    assert result.max() == 255


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_decode_32bit_grayscale_rescaled_not_clipped(dtype):
    # Values far outside 0..255 would clip to flat white without rescaling.
    ramp = np.tile(np.linspace(-5000, 90000, 100).astype(dtype), (10, 1))
    data = encode(Image.fromarray(ramp), "TIFF")

    result = np.asarray(decode_image(data))[..., 0]

    assert result[0, 0] == 0
    assert result[0, -1] == 255
    assert 100 < result[0, 50] < 155


def test_decode_flat_16bit_image_keeps_its_level():
    flat = np.full((4, 4), 65535, dtype=np.uint16)

    result = np.asarray(decode_image(encode(Image.fromarray(flat), "PNG")))

    assert (result == 255).all()


# --- orientation and metadata -----------------------------------------------------------------


def jpeg_with_orientation(orientation: int) -> bytes:
    """A 60x30 JPEG (wide as stored) with a red marker in the stored top-left corner."""
    image = Image.new("RGB", (60, 30), BLUE)
    image.paste(RED, (0, 0, 12, 12))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    exif[0x010F] = "CameraMaker"
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


def test_decode_applies_exif_orientation_6():
    result = decode_image(jpeg_with_orientation(6))

    # Orientation 6 is displayed rotated 90 degrees clockwise: the stored
    # top-left corner lands at the top-right.
    assert result.size == (30, 60)
    top_right = result.getpixel((26, 3))
    top_left = result.getpixel((3, 3))
    assert top_right[0] > 200
    assert top_right[2] < 60
    assert top_left[2] > 200
    assert top_left[0] < 60


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_decode_ignores_damaged_exif():
    image = Image.new("RGB", (8, 6), RED)
    data = encode(image, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")

    result = decode_image(data)

    assert result.size == (8, 6)
    assert result.getpixel((4, 3))[0] > 240


def test_decode_result_has_no_metadata():
    result = decode_image(jpeg_with_orientation(6))

    assert result.info == {}
    assert dict(result.getexif()) == {}


def test_thumbnail_applies_orientation_once():
    result = load_thumbnail(jpeg_with_orientation(6), 20)

    assert result.size == (10, 20)
    assert result.getpixel((8, 1))[0] > 180


# --- transparency and modes -------------------------------------------------------------------


def test_decode_rgba_transparent_half_shows_background():
    image = Image.new("RGBA", (20, 10), (0, 255, 0, 255))
    image.paste((0, 255, 0, 0), (0, 0, 10, 10))

    result = decode_image(encode(image, "PNG"))

    assert result.mode == "RGB"
    assert result.getpixel((2, 5)) == BACKGROUND_RGB
    assert result.getpixel((17, 5)) == (0, 255, 0)


def test_decode_palette_transparent_index_shows_background():
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 255, 0, 200, 30, 40] + [0, 0, 0] * 254)
    image.paste(1, (5, 0, 10, 10))

    result = decode_image(encode(image, "PNG", transparency=0))

    assert result.getpixel((1, 1)) == BACKGROUND_RGB
    assert result.getpixel((8, 1)) == (200, 30, 40)


def test_decode_la_image_composites_alpha():
    image = Image.new("LA", (4, 4), (90, 0))

    result = decode_image(encode(image, "PNG"))

    assert result.getpixel((0, 0)) == BACKGROUND_RGB


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("L", 77, (77, 77, 77)),
        ("1", 1, (255, 255, 255)),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
    ],
)
def test_decode_converts_mode_to_rgb(mode, color, expected):
    image_format = "JPEG" if mode == "CMYK" else "PNG"
    data = encode(Image.new(mode, (8, 8), color), image_format)

    result = decode_image(data)

    assert result.mode == "RGB"
    assert all(abs(a - b) <= 2 for a, b in zip(result.getpixel((4, 4)), expected))


def test_decode_multiframe_gif_uses_first_frame():
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])

    result = decode_image(buffer.getvalue())

    assert result.getpixel((4, 4)) == RED


def test_decode_png_name_holding_jpeg_bytes(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(encode(Image.new("RGB", (16, 12), RED), "JPEG"))

    result = decode_image(path)

    assert result.size == (16, 12)
    assert result.getpixel((8, 6))[0] > 240


# --- damaged and hostile files ----------------------------------------------------------------


def test_batch_reports_bad_files_loads_rest(tmp_path):
    good_names = ["good_a.jpg", "good_b.png"]
    noise_image((64, 64), seed=1).save(tmp_path / "good_a.jpg", quality=95)
    noise_image((64, 64), seed=2).save(tmp_path / "good_b.png")
    cut = encode(noise_image((64, 64), seed=3), "JPEG", quality=95)
    (tmp_path / "cut.jpg").write_bytes(cut[:-200])
    noise_image((200, 200), seed=4).save(tmp_path / "big.png")

    loaded, failures = {}, {}
    for path in sorted(tmp_path.iterdir()):
        try:
            loaded[path.name] = decode_image(path, max_pixels=100 * 100)
        except ImageDecodeError as error:
            failures[path.name] = error

    assert sorted(loaded) == sorted(good_names)
    assert failures["cut.jpg"].reason == "truncated"
    assert "cut.jpg" in str(failures["cut.jpg"])
    assert failures["big.png"].reason == "too_large"
    assert "40,000" in str(failures["big.png"])


def test_decode_rejects_decompression_bomb_from_header():
    data = png_with_claimed_size(50_000, 50_000)

    with pytest.raises(ImageDecodeError, match="too large|above the limit") as caught:
        decode_image(data)

    assert caught.value.reason == "too_large"


def test_decode_truncated_png_reports_truncated():
    data = encode(noise_image((64, 64)), "PNG")

    with pytest.raises(ImageDecodeError, match="truncated") as caught:
        decode_image(data[:-200])

    assert caught.value.reason == "truncated"


def test_decode_text_file_is_unsupported(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")

    with pytest.raises(ImageDecodeError, match="notes.jpg") as caught:
        decode_image(path)

    assert caught.value.reason == "unsupported"


def test_decode_missing_file_reason(tmp_path):
    with pytest.raises(ImageDecodeError, match="not found") as caught:
        decode_image(tmp_path / "absent.png")

    assert caught.value.reason == "missing"


def test_load_truncated_images_stays_off():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_probe_detects_truncated_jpeg_without_full_decode():
    data = encode(noise_image((64, 64)), "JPEG", quality=95)

    with pytest.raises(ImageDecodeError, match="cut.jpg") as caught:
        probe_image(data[:-200], name="cut.jpg")

    assert caught.value.reason == "truncated"
    assert probe_image(data, name="ok.jpg") == ("JPEG", (64, 64))


# --- thumbnails -------------------------------------------------------------------------------


def test_thumbnail_of_one_pixel_image():
    data = encode(Image.new("RGB", (1, 1), RED), "PNG")

    result = load_thumbnail(data, 128)

    assert result.size == (1, 1)
    assert result.getpixel((0, 0)) == RED


def test_thumbnail_of_huge_jpeg_decodes_reduced_once(tmp_path, monkeypatch):
    path = tmp_path / "huge.jpg"
    huge = Image.new("L", (12_000, 9_000), 128)
    huge.paste(255, (0, 0, 6_000, 9_000))
    huge.save(path, quality=50)
    del huge

    decoded_sizes = []
    original_load = JpegImagePlugin.JpegImageFile.load

    def recording_load(self):
        if self._im is None:
            decoded_sizes.append(self.size)
        return original_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", recording_load)

    result = load_thumbnail(path, 256)

    assert result.size == (256, 192)
    assert result.mode == "RGB"
    assert decoded_sizes == [(1_500, 1_125)]
    assert result.getpixel((10, 100))[0] > 240
    assert 110 < result.getpixel((240, 100))[0] < 145


def test_thumbnail_rejects_zero_side():
    with pytest.raises(ValueError, match="max_side"):
        load_thumbnail(encode(Image.new("RGB", (4, 4)), "PNG"), 0)


# --- export and helpers -----------------------------------------------------------------------


def test_png_bytes_drops_metadata():
    source = Image.open(io.BytesIO(jpeg_with_orientation(1)))
    source.load()
    source.info["dpi"] = (300, 300)
    assert source.getexif()

    reopened = Image.open(io.BytesIO(png_bytes(source)))

    assert "exif" not in reopened.info
    assert "dpi" not in reopened.info
    assert dict(reopened.getexif()) == {}


def test_save_png_writes_plain_png(tmp_path):
    image = decode_image(jpeg_with_orientation(6))

    path = save_png(image, tmp_path / "out" / "face.png")

    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert b"eXIf" not in data
    assert b"tEXt" not in data
    assert Image.open(path).size == (30, 60)


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "bytes.bin"
    path.write_bytes(b"abc" * 1000)

    assert file_sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        (".DS_Store", True),
        ("real/KS/Thumbs.db", True),
        ("__MACOSX/real/KS/a.png", True),
        ("real/KS/._a.png", True),
        ("real/KS/a.png", False),
        ("real/KS/.hidden_but_real.png", False),
        (Path("real") / "Ünïcode ñame.png", False),
    ],
)
def test_is_os_junk(relpath, expected):
    assert is_os_junk(relpath) is expected
