"""Dysmorphic features and identity parameters that the demo faces are drawn from.

Each feature is a Human Phenotype Ontology (HPO) term. A face gets an intensity
in 0..1 per feature (0 means absent), and the renderer changes the drawing in
proportion to it. Landmark indices follow the iBUG 68-point scheme: 0-16 jaw
line (subject's right to left), 17-21 and 22-26 brows, 27-30 nasal bridge,
31-35 lower nose, 36-41 subject's right eye, 42-47 left eye, 48-59 outer lips,
60-67 inner lips.
"""

from __future__ import annotations

# HPO id -> HPO preferred name, in the column order of the ground-truth table.
DEMO_FEATURES: dict[str, str] = {
    "HP:0000316": "Hypertelorism",
    "HP:0000601": "Hypotelorism",
    "HP:0000582": "Upslanted palpebral fissure",
    "HP:0000494": "Downslanted palpebral fissures",
    "HP:0000508": "Ptosis",
    "HP:0000286": "Epicanthus",
    "HP:0000664": "Synophrys",
    "HP:0000574": "Thick eyebrow",
    "HP:0005280": "Depressed nasal bridge",
    "HP:0000343": "Long philtrum",
    "HP:0000219": "Thin upper lip vermilion",
    "HP:0000154": "Wide mouth",
    "HP:0000293": "Full cheeks",
    "HP:0000347": "Micrognathia",
    "HP:0000369": "Low-set ears",
    "HP:0000411": "Protruding ear",
}

HYPERTELORISM = "HP:0000316"
HYPOTELORISM = "HP:0000601"
UPSLANTED = "HP:0000582"
DOWNSLANTED = "HP:0000494"
PTOSIS = "HP:0000508"
EPICANTHUS = "HP:0000286"
SYNOPHRYS = "HP:0000664"
THICK_EYEBROW = "HP:0000574"
DEPRESSED_NASAL_BRIDGE = "HP:0005280"
LONG_PHILTRUM = "HP:0000343"
THIN_UPPER_LIP = "HP:0000219"
WIDE_MOUTH = "HP:0000154"
FULL_CHEEKS = "HP:0000293"
MICROGNATHIA = "HP:0000347"
LOW_SET_EARS = "HP:0000369"
PROTRUDING_EAR = "HP:0000411"

# Pairs that change the same measurement in opposite directions. No condition has both.
OPPOSITE_FEATURES: tuple[tuple[str, str], ...] = (
    (HYPERTELORISM, HYPOTELORISM),
    (UPSLANTED, DOWNSLANTED),
)

_RIGHT_EYE = tuple(range(36, 42))
_LEFT_EYE = tuple(range(42, 48))

# HPO id -> groups of iBUG landmark indices that the feature's region mask covers.
# Each group is drawn as a polygon through its points, widened by a margin.
FEATURE_LANDMARKS: dict[str, tuple[tuple[int, ...], ...]] = {
    HYPERTELORISM: (_RIGHT_EYE, _LEFT_EYE, (39, 27, 42)),
    HYPOTELORISM: (_RIGHT_EYE, _LEFT_EYE, (39, 27, 42)),
    UPSLANTED: (_RIGHT_EYE, _LEFT_EYE),
    DOWNSLANTED: (_RIGHT_EYE, _LEFT_EYE),
    PTOSIS: (_RIGHT_EYE, _LEFT_EYE),
    EPICANTHUS: ((39,), (42,)),
    SYNOPHRYS: ((20, 21, 22, 23),),
    THICK_EYEBROW: (tuple(range(17, 22)), tuple(range(22, 27))),
    DEPRESSED_NASAL_BRIDGE: ((27, 28, 29),),
    LONG_PHILTRUM: ((32, 33, 34, 52, 51, 50),),
    THIN_UPPER_LIP: ((48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60),),
    WIDE_MOUTH: (tuple(range(48, 60)),),
    FULL_CHEEKS: ((1, 2, 3, 4, 48, 31), (15, 14, 13, 12, 54, 35)),
    MICROGNATHIA: ((5, 6, 7, 8, 9, 10, 11, 57),),
    LOW_SET_EARS: ((0, 1, 2), (14, 15, 16)),
    PROTRUDING_EAR: ((0, 1, 2), (14, 15, 16)),
}

# Features whose region also contains the drawn ears (which have no iBUG landmarks).
EAR_FEATURES: frozenset[str] = frozenset({LOW_SET_EARS, PROTRUDING_EAR})

# Identity parameters of a face, each uniform in IDENTITY_RANGE for a new person.
# The ground-truth table stores them as columns ``identity_<name>``.
IDENTITY_PARAMS: tuple[str, ...] = (
    "face_width",
    "face_length",
    "skin_tone",
    "hair_colour",
    "hair_length",
    "eye_size",
    "brow_height",
    "nose_width",
    "nose_length",
    "mouth_width",
    "lip_fullness",
)
IDENTITY_RANGE = (-0.5, 0.5)


def identity_column(name: str) -> str:
    """Return the ground-truth column name of an identity parameter."""
    return f"identity_{name}"
