"""Draw one stylised face from a :class:`FaceSpec`, with its landmarks and region masks.

Shapes are built in face coordinates: the origin is near the nose, y points
down, the face is about 1.6 units wide and 2.3 units high, and the subject's
right side has negative x (it appears on the image's left). A similarity
transform (pose rotation, scale and shift) maps them to pixels. The image is
drawn at ``supersample`` times its size with PIL and reduced, which smooths
the edges. Landmark and mask pixel coordinates use the pixel-centre
convention: pixel (0, 0) covers x and y in [-0.5, 0.5].
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from explorer.demo import features as f
from explorer.demo.features import FEATURE_LANDMARKS, IDENTITY_PARAMS
from explorer.demo.plan import FEATURE_IDS, FaceSpec

# Face units -> pixels: the face scale is this fraction of the image's shorter side.
FACE_SCALE = 0.33
# Widening of each feature's landmark polygons in its region mask, in face units.
MASK_MARGIN = 0.06
MASK_MARGINS = {f.EPICANTHUS: 0.09, f.DEPRESSED_NASAL_BRIDGE: 0.1}
# Smallest widening in pixels, so a mask covers its landmarks in tiny images.
MASK_MARGIN_MIN_PX = 2.0

# Fixed sampling of the curves, in curve parameters (computed once).
_EYE_X = np.linspace(-1.0, 1.0, 15)
_JAW_LANDMARK_U = np.linspace(0.0, 1.0, 17)
_JAW_OUTLINE_U = np.linspace(0.0, 1.0, 41)
_FOREHEAD_T = np.linspace(2 * np.pi, np.pi, 25)[1:-1]
_FOREHEAD_COS, _FOREHEAD_SIN = np.cos(_FOREHEAD_T), np.sin(_FOREHEAD_T)
_BROW_T = np.linspace(0.0, 1.0, 9)
_CAP_T = np.linspace(np.pi, 2 * np.pi, 25)
_CAP_COS, _CAP_SIN = np.cos(_CAP_T), np.sin(_CAP_T)
_HAIRLINE_X = np.linspace(1.0, -1.0, 21)

_SKIN_LIGHT = np.array([247.0, 224.0, 205.0])
_SKIN_DARK = np.array([118.0, 80.0, 58.0])
_HAIR_COLOURS = np.array(
    [[24, 20, 18], [62, 42, 30], [112, 76, 46], [152, 86, 46], [206, 170, 104]], dtype=float
)
_LIP_TINT = np.array([196.0, 86.0, 92.0])
_BLUSH_TINT = np.array([232.0, 122.0, 118.0])
_SCLERA = (246, 246, 242)
_PUPIL = (18, 16, 16)
_LINE = np.array([50.0, 32.0, 28.0])


@dataclass(frozen=True)
class RenderedFace:
    """A drawn face: the RGB image, landmarks (68, 2) in pixels, and masks per feature."""

    image: Image.Image
    landmarks: np.ndarray
    masks: dict[str, np.ndarray]
    ear_polygons: tuple[np.ndarray, np.ndarray]


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    red, green, blue = (min(255, max(0, round(float(value)))) for value in colour)
    return (red, green, blue)


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a * (1.0 - t) + b * t


def _palette(colours: np.ndarray, t: float) -> np.ndarray:
    position = float(np.clip(t, 0.0, 1.0)) * (len(colours) - 1)
    low = min(int(position), len(colours) - 2)
    return _mix(colours[low], colours[low + 1], position - low)


@functools.lru_cache(maxsize=8)
def _unit_circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.cos(t), np.sin(t)


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 24
) -> np.ndarray:
    cos_t, sin_t = _unit_circle(n)
    x, y = rx * cos_t, ry * sin_t
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


@dataclass
class _Geometry:
    """Face-coordinate shapes of one face; arrays are (n_points, 2)."""

    landmarks: np.ndarray
    head: np.ndarray
    ears: tuple[np.ndarray, np.ndarray]
    inner_ears: tuple[np.ndarray, np.ndarray]
    eyes: tuple[np.ndarray, np.ndarray]
    upper_lid_bands: tuple[np.ndarray, np.ndarray]
    lower_lid_bands: tuple[np.ndarray, np.ndarray]
    upper_lids: tuple[np.ndarray, np.ndarray]
    iris_centres: np.ndarray
    iris_radius: float
    epicanthic_folds: tuple[np.ndarray, np.ndarray] | None
    brows: tuple[np.ndarray, np.ndarray]
    synophrys: np.ndarray | None
    hair_cap: np.ndarray
    hair_back: np.ndarray | None
    cheeks: tuple[np.ndarray, np.ndarray]


def _jaw(
    w: float, y_top: float, y_chin: float, cheeks: float, micro: float, u: np.ndarray
) -> np.ndarray:
    """Points of the face contour; u runs 0..1 from the subject's right temple over the chin."""
    a = np.pi * u
    s, c = np.sin(a), np.cos(a)
    bump = np.exp(-(((np.abs(c) - 0.72) / 0.22) ** 2))
    width = w * (1.0 + 0.13 * cheeks * bump - 0.32 * micro * s**4)
    return np.stack([-width * c, y_top + (y_chin - y_top) * s], axis=1)


def _eye(
    half_width: float,
    upper: float,
    lower: float,
    slant: float,
    centre_x: float,
    y: float,
    mirror: bool,
):
    """Return (outline, 6 landmarks, upper band, lower band, upper lid line) of one eye.

    Built for the subject's right eye (outer corner at -x) and mirrored for the left.
    """
    x = half_width * _EYE_X
    shape = 1.0 - (x / half_width) ** 2
    upper_curve = np.stack([x, -upper * shape], axis=1)
    lower_curve = np.stack([x[::-1], lower * shape[::-1]], axis=1)
    outline = np.concatenate([upper_curve, lower_curve[1:-1]])

    third = half_width / 3.0
    marks = np.array(
        [
            [-half_width, 0.0],
            [-third, -upper * 8 / 9],
            [third, -upper * 8 / 9],
            [half_width, 0.0],
            [third, lower * 8 / 9],
            [-third, lower * 8 / 9],
        ]
    )
    band_top = -max(upper, 0.06) - 0.035
    band_bottom = max(lower, 0.06) + 0.035
    upper_band = np.concatenate([upper_curve, [[half_width, band_top], [-half_width, band_top]]])
    lower_band = np.concatenate(
        [lower_curve, [[-half_width, band_bottom], [half_width, band_bottom]]]
    )

    shapes = [outline, marks, upper_band, lower_band, upper_curve]
    shapes = [_rotate(shape_points, slant) for shape_points in shapes]
    if mirror:
        shapes = [shape_points * np.array([-1.0, 1.0]) for shape_points in shapes]
        # iBUG left-eye order: inner corner, upper lid inner->outer, outer corner, lower lid.
        shapes[1] = shapes[1][[3, 2, 1, 0, 5, 4]]
    offset = np.array([centre_x, y])
    return [shape_points + offset for shape_points in shapes]


def _geometry(spec: FaceSpec) -> tuple[_Geometry, dict[str, float]]:
    ident = dict(zip(IDENTITY_PARAMS, spec.identity.tolist(), strict=True))
    feat = dict(zip(FEATURE_IDS, spec.features.tolist(), strict=True))
    landmarks = np.zeros((68, 2))

    # Face outline (landmarks 0-16) and head.
    w = 0.80 * (1.0 + 0.16 * ident["face_width"])
    y_eye = -0.22
    y_top = y_eye + 0.03
    y_chin = 1.0 + 0.12 * ident["face_length"] - 0.17 * feat[f.MICROGNATHIA]
    y_crown = -1.18 - 0.08 * ident["face_length"]
    cheeks, micro = feat[f.FULL_CHEEKS], feat[f.MICROGNATHIA]
    landmarks[0:17] = _jaw(w, y_top, y_chin, cheeks, micro, _JAW_LANDMARK_U)
    contour = _jaw(w, y_top, y_chin, cheeks, micro, _JAW_OUTLINE_U)
    forehead = np.stack([w * _FOREHEAD_COS, y_top + (y_top - y_crown) * _FOREHEAD_SIN], axis=1)
    head = np.concatenate([contour, forehead])

    # Eyes (36-47).
    eye_scale = 1.0 + 0.25 * ident["eye_size"]
    half_distance = 0.30 * (1.0 + 0.38 * feat[f.HYPERTELORISM] - 0.30 * feat[f.HYPOTELORISM])
    half_width = 0.14 * eye_scale
    upper = 0.068 * eye_scale * (1.0 - 0.55 * feat[f.PTOSIS])
    lower = 0.055 * eye_scale
    slant = 0.05 + 0.32 * feat[f.UPSLANTED] - 0.32 * feat[f.DOWNSLANTED]
    right = _eye(half_width, upper, lower, slant, -half_distance, y_eye, mirror=False)
    left = _eye(half_width, upper, lower, slant, half_distance, y_eye, mirror=True)
    landmarks[36:42] = right[1]
    landmarks[42:48] = left[1]
    iris_centres = np.array([[-half_distance, y_eye + 0.004], [half_distance, y_eye + 0.004]])

    folds = None
    epicanthus = feat[f.EPICANTHUS]
    if epicanthus > 0:
        folds_list = []
        for corner, sign in ((landmarks[39], 1.0), (landmarks[42], -1.0)):
            size = half_width * (0.25 + 0.45 * epicanthus)
            fold = np.array(
                [
                    [corner[0] + sign * 0.02, corner[1] - upper * 1.3],
                    [corner[0] - sign * size, corner[1] - upper * 0.6],
                    [corner[0] - sign * size * 0.5, corner[1] + lower * 0.2],
                    [corner[0] + sign * 0.015, corner[1] + lower * 0.7],
                ]
            )
            folds_list.append(fold)
        folds = (folds_list[0], folds_list[1])

    # Brows (17-26).
    thickness = 0.032 * (1.0 + 1.7 * feat[f.THICK_EYEBROW])
    y_brow = y_eye - 0.155 - 0.035 * ident["brow_height"]
    x_outer = -half_distance - half_width * 1.15
    x_inner = -half_distance + half_width * 0.95
    tt = _BROW_T
    brow_x = x_outer + (x_inner - x_outer) * tt
    brow_y = y_brow - 0.035 * np.sin(np.pi * (0.35 + 0.65 * tt))
    half_thickness = thickness / 2 * (0.55 + 0.45 * tt)
    right_brow = np.concatenate(
        [
            np.stack([brow_x, brow_y - half_thickness], 1),
            np.stack([brow_x, brow_y + half_thickness], 1)[::-1],
        ]
    )
    left_brow = right_brow * np.array([-1.0, 1.0])
    right_brow_marks = np.stack([brow_x[::2], brow_y[::2]], axis=1)
    landmarks[17:22] = right_brow_marks
    landmarks[22:27] = (right_brow_marks * np.array([-1.0, 1.0]))[::-1]

    bridge = None
    synophrys = feat[f.SYNOPHRYS]
    if synophrys > 0:
        half = thickness / 2 * (0.3 + 0.7 * synophrys)
        inner = landmarks[21]
        bridge = np.array(
            [
                [inner[0] - 0.02, inner[1] - half],
                [-inner[0] + 0.02, inner[1] - half],
                [-inner[0] + 0.02, inner[1] + half],
                [inner[0] - 0.02, inner[1] + half],
            ]
        )

    # Nose (27-35).
    depressed = feat[f.DEPRESSED_NASAL_BRIDGE]
    y_tip = 0.10 + 0.07 * ident["nose_length"] - 0.03 * depressed
    nose_half = 0.105 * (1.0 + 0.35 * ident["nose_width"]) * (1.0 + 0.1 * depressed)
    y_base = y_tip + 0.055
    landmarks[27:31] = np.stack([np.zeros(4), np.linspace(y_eye + 0.01, y_tip, 4)], axis=1)
    landmarks[31:36] = np.array(
        [
            [-nose_half, y_base - 0.015],
            [-nose_half / 2, y_base + 0.005],
            [0.0, y_base + 0.012],
            [nose_half / 2, y_base + 0.005],
            [nose_half, y_base - 0.015],
        ]
    )

    # Mouth (48-67).
    y_mouth = y_base + 0.16 + 0.20 * feat[f.LONG_PHILTRUM] + 0.03 * ident["face_length"]
    mouth_half = 0.19 * (1.0 + 0.5 * feat[f.WIDE_MOUTH] + 0.15 * ident["mouth_width"])
    upper_lip = 0.048 * (1.0 + 0.4 * ident["lip_fullness"]) * (1.0 - 0.72 * feat[f.THIN_UPPER_LIP])
    lower_lip = 0.062 * (1.0 + 0.4 * ident["lip_fullness"])
    m = mouth_half
    outer_x = np.array(
        [
            -m,
            -0.55 * m,
            -0.2 * m,
            0.0,
            0.2 * m,
            0.55 * m,
            m,
            0.55 * m,
            0.2 * m,
            0.0,
            -0.2 * m,
            -0.55 * m,
        ]
    )
    outer_dy = np.array(
        [
            0.0,
            -0.85 * upper_lip,
            -upper_lip,
            -0.72 * upper_lip,
            -upper_lip,
            -0.85 * upper_lip,
            0.0,
            0.85 * lower_lip,
            lower_lip,
            lower_lip,
            lower_lip,
            0.85 * lower_lip,
        ]
    )
    landmarks[48:60] = np.stack([outer_x, y_mouth + outer_dy], axis=1)
    inner_x = np.array([-0.85 * m, -0.3 * m, 0.0, 0.3 * m, 0.85 * m, 0.3 * m, 0.0, -0.3 * m])
    inner_dy = np.array([0.0, -0.006, -0.006, -0.006, 0.0, 0.006, 0.006, 0.006])
    landmarks[60:68] = np.stack([inner_x, y_mouth + inner_dy], axis=1)

    # Ears: beside the face, lower for low-set ears, wider and tilted outward when protruding.
    low_set, protruding = feat[f.LOW_SET_EARS], feat[f.PROTRUDING_EAR]
    y_ear = y_eye + 0.13 + 0.26 * low_set
    ear_half_width = 0.075 * (1.0 + 1.0 * protruding)
    ear_half_height = 0.175
    tilt = 0.1 + 0.25 * protruding
    x_ear = w * 0.98 + ear_half_width * 0.55
    ears = (
        _ellipse(-x_ear, y_ear, ear_half_width, ear_half_height, angle=tilt, n=20),
        _ellipse(x_ear, y_ear, ear_half_width, ear_half_height, angle=-tilt, n=20),
    )
    inner_ears = (
        _ellipse(
            -x_ear - 0.01, y_ear, ear_half_width * 0.5, ear_half_height * 0.6, angle=tilt, n=16
        ),
        _ellipse(
            x_ear + 0.01, y_ear, ear_half_width * 0.5, ear_half_height * 0.6, angle=-tilt, n=16
        ),
    )

    # Hair: a cap over the forehead for everyone, hair behind the head for long styles.
    style = ident["hair_length"] + 0.5
    cap_outer = np.stack(
        [(w + 0.05) * 1.04 * _CAP_COS, y_top - 0.05 + (y_top - y_crown + 0.07) * _CAP_SIN], axis=1
    )
    hx = (w + 0.03) * _HAIRLINE_X
    y_hairline = -0.72 + 0.10 * style
    temple = y_top - 0.05
    hairline_y = y_hairline + (temple - y_hairline) * np.abs(hx / (w + 0.03)) ** 2.5
    if style > 0.33:
        hairline_y = hairline_y + 0.07 * (hx / w) * (1.0 - np.abs(hx / (w + 0.03)))
    hair_cap = np.concatenate([cap_outer, np.stack([hx, hairline_y], axis=1)])
    hair_back = None
    if style > 0.66:
        y_end = 0.45 + 0.4 * (style - 0.66)
        hair_back = np.concatenate(
            [cap_outer * np.array([1.12, 1.0]), [[(w + 0.16), y_end], [-(w + 0.16), y_end]]]
        )

    cheek_radius = 0.13 * (0.8 + 0.5 * cheeks)
    cheek_y = y_base + 0.06
    cheek_polygons = (
        _ellipse(-w * 0.56, cheek_y, cheek_radius, cheek_radius * 0.8, n=20),
        _ellipse(w * 0.56, cheek_y, cheek_radius, cheek_radius * 0.8, n=20),
    )

    geometry = _Geometry(
        landmarks=landmarks,
        head=head,
        ears=ears,
        inner_ears=inner_ears,
        eyes=(right[0], left[0]),
        upper_lid_bands=(right[2], left[2]),
        lower_lid_bands=(right[3], left[3]),
        upper_lids=(right[4], left[4]),
        iris_centres=iris_centres,
        iris_radius=0.056 * eye_scale,
        epicanthic_folds=folds,
        brows=(right_brow, left_brow),
        synophrys=bridge,
        hair_cap=hair_cap,
        hair_back=hair_back,
        cheeks=cheek_polygons,
    )
    return geometry, {**ident, **feat}


class _Canvas:
    """Maps face coordinates to the pixels of one (possibly supersampled) drawing."""

    def __init__(self, spec: FaceSpec, supersample: int) -> None:
        width, height = spec.size
        pose = spec.pose
        self.scale = FACE_SCALE * min(width, height) * pose.scale
        self.centre = np.array(
            [
                width * (0.5 + pose.shift_x),
                height * (0.5 + pose.shift_y) + 0.02 * min(width, height),
            ]
        )
        self.supersample = supersample

        # Row-vector affine maps: pixels = points @ matrix + offset.
        angle = math.radians(pose.rotation)
        c, s = math.cos(angle), math.sin(angle)
        self._matrix = self.scale * np.array([[c, s], [-s, c]])
        self._drawing_matrix = self._matrix * supersample
        self._drawing_offset = (self.centre + 0.5) * supersample - 0.5

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """Map face coordinates to final-image pixel coordinates."""
        return points @ self._matrix + self.centre

    def drawing(self, points: np.ndarray) -> list[float]:
        """Map face coordinates to the flat coordinate list of the supersampled drawing."""
        return (points @ self._drawing_matrix + self._drawing_offset).ravel().tolist()

    def length(self, value: float) -> float:
        """Convert a length in face units to supersampled pixels."""
        return value * self.scale * self.supersample


def _background(spec: FaceSpec, supersample: int) -> Image.Image:
    width, height = spec.size
    top = np.array(spec.scene.background_top, dtype=np.float32)
    bottom = np.array(spec.scene.background_bottom, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, height * supersample, dtype=np.float32)[:, None]
    column = (top * (1.0 - ramp) + bottom * ramp).astype(np.uint8)  # (height, 3)
    rows = np.broadcast_to(column[:, None, :], (height * supersample, width * supersample, 3))
    return Image.fromarray(np.ascontiguousarray(rows), "RGB")


def _draw_face(
    draw: ImageDraw.ImageDraw,
    canvas: _Canvas,
    geometry: _Geometry,
    values: dict[str, float],
    spec: FaceSpec,
) -> None:
    skin = _mix(_SKIN_LIGHT, _SKIN_DARK, values["skin_tone"] + 0.5)
    hair = _palette(_HAIR_COLOURS, values["hair_colour"] + 0.5)
    brow_colour = hair * 0.72 if values["hair_colour"] > 0.2 else hair * 0.9
    lip = _mix(skin * 0.86, _LIP_TINT, 0.35)
    shade = skin * 0.86
    line_colour = _mix(skin, _LINE, 0.6)
    g = geometry
    lm = g.landmarks

    # Body and hair behind the head.
    shirt = [(-1.9, 2.8), (-1.6, 1.38), (-0.34, 1.18), (0.34, 1.18), (1.6, 1.38), (1.9, 2.8)]
    neck = [(-0.27, 0.55), (0.27, 0.55), (0.31, 1.32), (-0.31, 1.32)]
    if g.hair_back is not None:
        draw.polygon(canvas.drawing(g.hair_back), fill=_rgb(hair * 0.9))
    draw.polygon(canvas.drawing(np.array(shirt)), fill=spec.scene.shirt)
    draw.polygon(canvas.drawing(np.array(neck)), fill=_rgb(shade))

    for ear, inner in zip(g.ears, g.inner_ears, strict=True):
        draw.polygon(canvas.drawing(ear), fill=_rgb(skin * 0.95), outline=_rgb(shade * 0.9))
        draw.polygon(canvas.drawing(inner), fill=_rgb(shade * 0.92))
    draw.polygon(canvas.drawing(g.head), fill=_rgb(skin))

    blush = _mix(skin, _BLUSH_TINT, 0.06 + 0.3 * values[f.FULL_CHEEKS])
    for cheek in g.cheeks:
        draw.polygon(canvas.drawing(cheek), fill=_rgb(blush))
    draw.polygon(canvas.drawing(g.hair_cap), fill=_rgb(hair))

    # Eyes: sclera, iris and pupil, then skin bands that trim the iris to the lids.
    iris_colour = _mix(
        hair * 0.8, np.array([70.0, 110.0, 150.0]), 0.5 if values["hair_colour"] > 0.25 else 0.1
    )
    lid_width = max(1.0, canvas.length(0.014))
    for index in range(2):
        draw.polygon(canvas.drawing(g.eyes[index]), fill=_SCLERA)
        cx, cy = canvas.drawing(g.iris_centres[index : index + 1])
        r = canvas.length(g.iris_radius)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_rgb(iris_colour))
        r_pupil = r * 0.45
        draw.ellipse((cx - r_pupil, cy - r_pupil, cx + r_pupil, cy + r_pupil), fill=_PUPIL)
        draw.polygon(canvas.drawing(g.upper_lid_bands[index]), fill=_rgb(skin))
        draw.polygon(canvas.drawing(g.lower_lid_bands[index]), fill=_rgb(skin))
        draw.line(
            canvas.drawing(g.upper_lids[index]),
            fill=_rgb(line_colour * 0.7),
            width=round(lid_width * 1.6),
        )
        if g.epicanthic_folds is not None:
            fold = g.epicanthic_folds[index]
            draw.polygon(canvas.drawing(fold), fill=_rgb(skin))
            draw.line(canvas.drawing(fold[1:3]), fill=_rgb(line_colour), width=round(lid_width))

    for brow in g.brows:
        draw.polygon(canvas.drawing(brow), fill=_rgb(brow_colour))
    if g.synophrys is not None:
        bridge_colour = _mix(skin, brow_colour, 0.3 + 0.7 * values[f.SYNOPHRYS])
        draw.polygon(canvas.drawing(g.synophrys), fill=_rgb(bridge_colour))

    # Nose: bridge shading, a shadow where the bridge is depressed, nostrils.
    depressed = values[f.DEPRESSED_NASAL_BRIDGE]
    if depressed > 0:
        mid = (lm[27] + lm[28]) / 2
        shadow = _ellipse(mid[0], mid[1], 0.095, 0.055, n=20)
        draw.polygon(canvas.drawing(shadow), fill=_rgb(skin * (1.0 - 0.22 * depressed)))
    start = 29 if depressed > 0.5 else 28
    for sign in (-1.0, 1.0):
        side = np.array([[sign * 0.035, lm[start, 1]], [sign * 0.045, lm[30, 1] - 0.02]])
        draw.line(canvas.drawing(side), fill=_rgb(shade), width=round(lid_width))
    draw.line(canvas.drawing(lm[31:36]), fill=_rgb(shade * 0.9), width=round(lid_width * 1.3))
    nostril_scale = 1.0 + 0.5 * depressed
    for sign in (-1.0, 1.0):
        nostril = _ellipse(
            sign * (lm[35, 0] * 0.45),
            lm[33, 1] - 0.012,
            0.026 * nostril_scale,
            0.012 * nostril_scale,
            n=12,
        )
        draw.polygon(canvas.drawing(nostril), fill=_rgb(shade * 0.55))

    # Philtrum ridges, then lips.
    philtrum_colour = _mix(skin, shade, 0.5 + 0.5 * values[f.LONG_PHILTRUM])
    for top_x, bottom_index in ((-0.028, 50), (0.028, 52)):
        ridge = np.array([[top_x, lm[33, 1] + 0.02], lm[bottom_index]])
        draw.line(canvas.drawing(ridge), fill=_rgb(philtrum_colour), width=round(lid_width))
    upper_lip = np.concatenate([lm[48:55], lm[[64, 63, 62, 61, 60]]])
    lower_lip = np.concatenate([lm[[54, 55, 56, 57, 58, 59, 48]], lm[[60, 67, 66, 65, 64]]])
    draw.polygon(canvas.drawing(upper_lip), fill=_rgb(lip * 0.92))
    draw.polygon(canvas.drawing(lower_lip), fill=_rgb(lip))
    mouth_line = np.concatenate([lm[[48, 60, 61, 62, 63, 64, 54]]])
    draw.line(canvas.drawing(mouth_line), fill=_rgb(lip * 0.55), width=round(lid_width))


def _apply_lighting(image: Image.Image, spec: FaceSpec) -> Image.Image:
    scene = spec.scene
    if scene.light_strength <= 0 and scene.pixel_noise <= 0:
        return image
    width, height = spec.size
    pixels = np.asarray(image, dtype=np.float32)  # (height, width, 3)
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    gain = 1.0 + scene.light_strength * (
        math.cos(scene.light_angle) * xs + math.sin(scene.light_angle) * ys
    )
    pixels = pixels * gain[:, :, None]
    if scene.pixel_noise > 0:
        noise_rng = np.random.default_rng(scene.noise_seed)
        pixels = pixels + noise_rng.normal(0.0, scene.pixel_noise, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def _region_masks(
    spec: FaceSpec, canvas: _Canvas, geometry: _Geometry, landmarks: np.ndarray
) -> dict[str, np.ndarray]:
    """Draw one boolean (height, width) mask per feature present in the face."""
    masks = {}
    for index, hpo in enumerate(FEATURE_IDS):
        if spec.features[index] <= 0:
            continue
        margin = max(MASK_MARGINS.get(hpo, MASK_MARGIN) * canvas.scale, MASK_MARGIN_MIN_PX)
        mask = Image.new("L", spec.size, 0)
        draw = ImageDraw.Draw(mask)
        for group in FEATURE_LANDMARKS[hpo]:
            points = landmarks[list(group)]
            flat = points.ravel().tolist()
            if len(points) >= 3:
                draw.polygon(flat, fill=1)
            if len(points) >= 2:
                closed = np.concatenate([points, points[:1]]).ravel().tolist()
                draw.line(closed, fill=1, width=max(1, round(2 * margin)), joint="curve")
            for x, y in points:
                draw.ellipse((x - margin, y - margin, x + margin, y + margin), fill=1)
        if hpo in f.EAR_FEATURES:
            for ear in geometry.ears:
                draw.polygon(canvas.pixels(ear).ravel().tolist(), fill=1)
        masks[hpo] = np.asarray(mask, dtype=bool)
    return masks


def render_face(spec: FaceSpec, *, supersample: int = 2, annotate: bool = True) -> RenderedFace:
    """Draw a face and compute its landmarks and, when ``annotate``, its region masks.

    Parameters
    ----------
    spec : FaceSpec
        Identity, feature intensities, pose, scene and image size (width, height).
    supersample : int, default 2
        Drawing size factor; the drawing is reduced to ``spec.size`` afterwards.
    annotate : bool, default True
        Whether to draw the region masks (landmarks are always returned).

    Returns
    -------
    RenderedFace
        The RGB image of ``spec.size``, landmarks (68, 2) as pixel x, y, and a
        boolean (height, width) mask per feature whose intensity is above 0.
    """
    geometry, values = _geometry(spec)
    canvas = _Canvas(spec, supersample)

    image = _background(spec, supersample)
    _draw_face(ImageDraw.Draw(image), canvas, geometry, values, spec)
    if supersample > 1:
        image = image.reduce(supersample)
    image = _apply_lighting(image, spec)

    landmarks = canvas.pixels(geometry.landmarks)
    masks = _region_masks(spec, canvas, geometry, landmarks) if annotate else {}
    ears = (canvas.pixels(geometry.ears[0]), canvas.pixels(geometry.ears[1]))
    return RenderedFace(image=image, landmarks=landmarks, masks=masks, ear_polygons=ears)
