"""Sample every demo image's parameters from the seed, before anything is drawn.

Each condition and each generator draws from its own random stream, keyed by
the seed and the condition's position in :data:`DEMO_CONDITIONS`, so rendering
a subset of conditions gives the same images as the full render.

The generator behaviours act on the ground-truth vectors (feature intensities
and identity parameters) by construction:

- ``keep``: new identities whose mean equals the mean of the real identities,
  feature intensities from the same distribution as the real ones.
- ``drift``: as ``keep``, with every feature intensity scaled down to 8-22 %.
- ``copy``: each image repeats one real image (identity, features and pose) with
  tiny jitter, cycling through the real images so each is copied equally often.
- ``collapse``: one identity (the mean real identity) and the mean real
  features, repeated with tiny jitter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from explorer.demo.conditions import (
    DEMO_CONDITIONS,
    DEMO_GENERATORS,
    LARGE_GENERATOR,
    SYNTHETIC_PER_CONDITION,
    DemoCondition,
    DemoGenerator,
)
from explorer.demo.features import DEMO_FEATURES, IDENTITY_PARAMS, IDENTITY_RANGE

# Random stream kinds, so that the real, synthetic and large-mode parts draw independent streams.
_STREAM_REAL = 1
_STREAM_SYNTHETIC = 2
_STREAM_LARGE = 3

SYNTHETIC_SIZE = (256, 256)
# Real photos vary in size and aspect; (width, height) in pixels.
REAL_SIZES = ((256, 256), (256, 256), (240, 300), (300, 256), (224, 224))

# Intensity of a condition's feature in one person: normal(mean, sd) clipped.
INTENSITY_MEAN = 0.72
INTENSITY_SD = 0.14
INTENSITY_MIN = 0.3
DRIFT_FACTOR_RANGE = (0.08, 0.22)
# Standard deviation of the truth-vector jitter of copied and collapsed images.
COPY_JITTER = 0.004
COLLAPSE_JITTER = 0.01
# Pixel noise (in 0..255 grey levels) that a copying generator adds.
COPY_PIXEL_NOISE = 2.0

FEATURE_IDS = tuple(DEMO_FEATURES)
_FEATURE_INDEX = {hpo: i for i, hpo in enumerate(FEATURE_IDS)}


@dataclass(frozen=True)
class Pose:
    """Rotation (degrees), shift (fraction of the image side) and scale of a face."""

    rotation: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Scene:
    """Lighting gradient, background colours, shirt colour and pixel noise."""

    light_angle: float = 0.0
    light_strength: float = 0.0
    background_top: tuple[int, int, int] = (200, 200, 200)
    background_bottom: tuple[int, int, int] = (160, 160, 160)
    shirt: tuple[int, int, int] = (70, 90, 140)
    pixel_noise: float = 0.0
    noise_seed: int = 0


@dataclass(frozen=True)
class FaceSpec:
    """Everything the renderer needs to draw one face.

    ``identity`` has one value per :data:`IDENTITY_PARAMS` entry and
    ``features`` one intensity in 0..1 per :data:`DEMO_FEATURES` entry.
    """

    identity: np.ndarray
    features: np.ndarray
    pose: Pose
    scene: Scene
    size: tuple[int, int]


@dataclass(frozen=True)
class ImagePlan:
    """One demo image: its manifest fields and its face."""

    image_id: str
    path: str
    condition: DemoCondition
    source: str
    generator: str
    subject_id: str
    behaviour: str
    generator_role: str
    face: FaceSpec
    annotated: bool = True


def feature_vector(condition: DemoCondition, rng: np.random.Generator) -> np.ndarray:
    """Sample one person's feature intensities for a condition."""
    vector = np.zeros(len(FEATURE_IDS))
    for hpo in condition.features:
        intensity = rng.normal(INTENSITY_MEAN, INTENSITY_SD)
        vector[_FEATURE_INDEX[hpo]] = float(np.clip(intensity, INTENSITY_MIN, 1.0))
    return vector


def new_identity(rng: np.random.Generator) -> np.ndarray:
    """Sample the identity parameters of a new person."""
    low, high = IDENTITY_RANGE
    return rng.uniform(low, high, len(IDENTITY_PARAMS))


def _new_pose(rng: np.random.Generator) -> Pose:
    return Pose(
        rotation=float(rng.uniform(-7.0, 7.0)),
        shift_x=float(rng.uniform(-0.035, 0.035)),
        shift_y=float(rng.uniform(-0.025, 0.025)),
        scale=float(rng.uniform(0.92, 1.06)),
    )


def _new_scene(rng: np.random.Generator) -> Scene:
    top = rng.integers(120, 240, 3)
    bottom = np.clip(top + rng.integers(-70, 30, 3), 40, 250)
    return Scene(
        light_angle=float(rng.uniform(0.0, 2 * np.pi)),
        light_strength=float(rng.uniform(0.0, 0.22)),
        background_top=tuple(int(v) for v in top),
        background_bottom=tuple(int(v) for v in bottom),
        shirt=tuple(int(v) for v in rng.integers(30, 220, 3)),
        noise_seed=int(rng.integers(0, 2**31)),
    )


def _jitter_pose(pose: Pose, rng: np.random.Generator) -> Pose:
    return Pose(
        rotation=pose.rotation + float(rng.uniform(-0.5, 0.5)),
        shift_x=pose.shift_x + float(rng.uniform(-0.004, 0.004)),
        shift_y=pose.shift_y + float(rng.uniform(-0.004, 0.004)),
        scale=pose.scale * float(rng.uniform(0.995, 1.005)),
    )


def _subject_sizes(n_real: int) -> list[int]:
    """Split a condition's real images into subjects; larger conditions get 2-image subjects."""
    if n_real < 3:
        n_pairs = 0
    elif n_real < 6:
        n_pairs = 1
    else:
        n_pairs = 2
    return [2] * n_pairs + [1] * (n_real - 2 * n_pairs)


def plan_real(condition: DemoCondition, condition_index: int, seed: int) -> list[ImagePlan]:
    """Plan the real images of one condition; a subject's images share identity and features."""
    rng = np.random.default_rng([seed, _STREAM_REAL, condition_index])
    plans = []
    number = 0
    for subject_number, n_images in enumerate(_subject_sizes(condition.n_real), start=1):
        identity = new_identity(rng)
        features = feature_vector(condition, rng)
        for _ in range(n_images):
            number += 1
            size = REAL_SIZES[int(rng.integers(len(REAL_SIZES)))]
            face = FaceSpec(identity, features, _new_pose(rng), _new_scene(rng), size)
            plans.append(
                ImagePlan(
                    image_id=f"real-{condition.code}-{number:02d}",
                    path=f"real/{condition.code}/{condition.code}.{number}.png",
                    condition=condition,
                    source="real",
                    generator="",
                    subject_id=f"{condition.code}-s{subject_number:02d}",
                    behaviour="",
                    generator_role="",
                    face=face,
                )
            )
    return plans


def _synthetic_faces(
    behaviour: str,
    condition: DemoCondition,
    real: list[ImagePlan],
    rng: np.random.Generator,
) -> list[FaceSpec]:
    real_identities = np.stack([plan.face.identity for plan in real])
    real_features = np.stack([plan.face.features for plan in real])
    n_features = len(FEATURE_IDS)

    if behaviour == "copy":
        # A multiple of the real count, so every real image is copied equally often.
        n_copies = max(1, round(SYNTHETIC_PER_CONDITION / len(real))) * len(real)
        faces = []
        for k in range(n_copies):
            source = real[k % len(real)].face
            identity = source.identity + rng.normal(0.0, COPY_JITTER, source.identity.shape)
            features = source.features + rng.normal(0.0, COPY_JITTER, n_features)
            features = np.where(source.features > 0, np.clip(features, 0.0, 1.0), 0.0)
            scene = replace(
                source.scene, pixel_noise=COPY_PIXEL_NOISE, noise_seed=int(rng.integers(2**31))
            )
            faces.append(
                FaceSpec(identity, features, _jitter_pose(source.pose, rng), scene, SYNTHETIC_SIZE)
            )
        return faces

    if behaviour == "collapse":
        base_identity = real_identities.mean(axis=0)
        base_features = real_features.mean(axis=0)
        base_pose = _new_pose(rng)
        base_scene = _new_scene(rng)
        faces = []
        for _ in range(SYNTHETIC_PER_CONDITION):
            identity = base_identity + rng.normal(0.0, COLLAPSE_JITTER, base_identity.shape)
            features = base_features + rng.normal(0.0, COLLAPSE_JITTER, n_features)
            features = np.where(base_features > 0, np.clip(features, 0.0, 1.0), 0.0)
            faces.append(
                FaceSpec(
                    identity, features, _jitter_pose(base_pose, rng), base_scene, SYNTHETIC_SIZE
                )
            )
        return faces

    # keep and drift: new people, centred on the real identities.
    identities = np.stack([new_identity(rng) for _ in range(SYNTHETIC_PER_CONDITION)])
    identities = identities - identities.mean(axis=0) + real_identities.mean(axis=0)
    faces = []
    for identity in identities:
        features = feature_vector(condition, rng)
        if behaviour == "drift":
            features = features * rng.uniform(*DRIFT_FACTOR_RANGE)
        faces.append(FaceSpec(identity, features, _new_pose(rng), _new_scene(rng), SYNTHETIC_SIZE))
    return faces


def plan_synthetic(
    condition: DemoCondition,
    condition_index: int,
    generator_index: int,
    generator: DemoGenerator,
    real: list[ImagePlan],
    seed: int,
) -> list[ImagePlan]:
    """Plan one generator's synthetic images of one condition."""
    rng = np.random.default_rng([seed, _STREAM_SYNTHETIC, condition_index, generator_index])
    behaviour = generator.behaviour(condition.code)
    faces = _synthetic_faces(behaviour, condition, real, rng)
    plans = []
    for number, face in enumerate(faces, start=1):
        plans.append(
            ImagePlan(
                image_id=f"{generator.name}-{condition.code}-{number:02d}",
                path=f"synthetic/{generator.name}/{condition.code}/{condition.code}_{number}.png",
                condition=condition,
                source="synthetic",
                generator=generator.name,
                subject_id="",
                behaviour=behaviour,
                generator_role=generator.role,
                face=face,
            )
        )
    return plans


def plan_demo(seed: int, codes: tuple[str, ...] | None = None) -> list[ImagePlan]:
    """Plan the default demo: real images, then each generator's images, per condition."""
    plans = []
    for condition_index, condition in enumerate(DEMO_CONDITIONS):
        if codes is not None and condition.code not in codes:
            continue
        real = plan_real(condition, condition_index, seed)
        plans.extend(real)
        for generator_index, generator in enumerate(DEMO_GENERATORS):
            plans.extend(
                plan_synthetic(condition, condition_index, generator_index, generator, real, seed)
            )
    return plans


def plan_large(index: int, seed: int, size: int) -> ImagePlan:
    """Plan the ``index``-th image of the large mode: a new person of a cycling condition."""
    condition = DEMO_CONDITIONS[index % len(DEMO_CONDITIONS)]
    rng = np.random.default_rng([seed, _STREAM_LARGE, index])
    face = FaceSpec(
        new_identity(rng),
        feature_vector(condition, rng),
        _new_pose(rng),
        _new_scene(rng),
        (size, size),
    )
    number = index + 1
    name = LARGE_GENERATOR.name
    return ImagePlan(
        image_id=f"{name}-{condition.code}-{number:06d}",
        path=f"synthetic/{name}/{condition.code}/{condition.code}_{number:06d}.png",
        condition=condition,
        source="synthetic",
        generator=name,
        subject_id="",
        behaviour="keep",
        generator_role=LARGE_GENERATOR.role,
        face=face,
        annotated=False,
    )
