"""Landmark alignment for averaging saliency maps over several faces.

Each face's landmarks are mapped onto a mean shape by a similarity transform
(rotation, uniform scale and translation, without reflection). Its map is
warped with the same transform, so the mean map compares eyes with eyes and
mouths with mouths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Side of the square canvas the mean shape is drawn on, in pixels.
ALIGNED_SIZE = 256
# Share of the canvas left free around the mean shape on each side.
ALIGNED_MARGIN = 0.2
PROCRUSTES_ITERATIONS = 5


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Fit the similarity transform that maps ``source`` points onto ``target`` points.

    Least squares over ``(n, 2)`` point sets (Umeyama's method, reflections
    excluded).

    Returns
    -------
    numpy.ndarray
        ``(2, 3)`` matrix ``M`` with ``target ≈ source @ M[:, :2].T + M[:, 2]``.
    """
    source = np.asarray(source, dtype=float)
    target = np.asarray(target, dtype=float)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(
            f"similarity_transform needs two (n, 2) point sets of equal shape with n >= 2, "
            f"not {source.shape} and {target.shape}"
        )
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (source_centred**2).sum() / len(source)
    scale = float(np.trace(np.diag(singular) @ sign) / variance) if variance > 0 else 1.0
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def mean_shape(shapes: Sequence[np.ndarray], size: int = ALIGNED_SIZE) -> np.ndarray:
    """Compute a generalised Procrustes mean of landmark sets, placed on a square canvas.

    Returns
    -------
    numpy.ndarray
        ``(n_points, 2)`` mean shape in canvas pixels, centred with a margin of
        :data:`ALIGNED_MARGIN` on each side.
    """
    if not shapes:
        raise ValueError("mean_shape needs at least one landmark set")
    shapes = [np.asarray(shape, dtype=float) for shape in shapes]
    reference = shapes[0]
    for _ in range(PROCRUSTES_ITERATIONS):
        aligned = [_apply(similarity_transform(shape, reference), shape) for shape in shapes]
        reference = np.mean(aligned, axis=0)

    # Fit the mean shape's bounding box into the canvas minus the margins.
    low, high = reference.min(axis=0), reference.max(axis=0)
    usable = size * (1 - 2 * ALIGNED_MARGIN)
    scale = usable / max(float((high - low).max()), 1e-9)
    return (reference - (low + high) / 2) * scale + size / 2


def warp_to_shape(values: np.ndarray | Image.Image, landmarks: np.ndarray, shape: np.ndarray,
                  size: int = ALIGNED_SIZE) -> np.ndarray:
    """Warp an image-pixel map (or RGB image) so its landmarks land on ``shape``.

    Returns a ``(size, size)`` float32 map, or ``(size, size, 3)`` for an image.
    """
    matrix = similarity_transform(landmarks, shape)
    # PIL's affine transform maps each output pixel back to an input pixel.
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2].ravel()
    if isinstance(values, Image.Image):
        warped = values.convert("RGB").transform(
            (size, size), Image.Transform.AFFINE, tuple(inverse), Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)
        )
        return np.asarray(warped, dtype=np.float32)
    source = Image.fromarray(np.asarray(values, dtype=np.float32), mode="F")
    warped = source.transform((size, size), Image.Transform.AFFINE, tuple(inverse), Image.Resampling.BILINEAR)
    return np.asarray(warped, dtype=np.float32)


@dataclass(frozen=True)
class AlignedMean:
    """Mean of several aligned maps, the mean face behind them and the mean shape.

    ``mean_map`` is ``(size, size)``; each map was scaled to unit absolute mass
    before averaging, so every image counts the same. ``mean_image`` is the
    ``(size, size, 3)`` uint8 average of the aligned photos.
    """

    mean_map: np.ndarray
    mean_image: np.ndarray
    shape: np.ndarray
    n_images: int


def aligned_mean(maps: Sequence[np.ndarray], images: Sequence[Image.Image], landmarks: Sequence[np.ndarray],
                 size: int = ALIGNED_SIZE) -> AlignedMean:
    """Align each map and image by its landmarks onto their mean shape and average them."""
    if not (len(maps) == len(images) == len(landmarks)) or not maps:
        raise ValueError(
            f"aligned_mean needs the same positive number of maps, images and landmark sets, "
            f"not {len(maps)}, {len(images)} and {len(landmarks)}"
        )
    shape = mean_shape(landmarks, size)
    map_sum = np.zeros((size, size), dtype=np.float64)
    image_sum = np.zeros((size, size, 3), dtype=np.float64)
    for values, image, points in zip(maps, images, landmarks):
        magnitudes = np.abs(np.asarray(values, dtype=np.float32))
        total = magnitudes.sum()
        if total > 0:
            map_sum += warp_to_shape(magnitudes / total, points, shape, size)
        image_sum += warp_to_shape(image, points, shape, size)
    return AlignedMean(
        mean_map=(map_sum / len(maps)).astype(np.float32),
        mean_image=(image_sum / len(maps)).round().clip(0, 255).astype(np.uint8),
        shape=shape,
        n_images=len(maps),
    )
