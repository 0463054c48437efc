"""Invented demo conditions and demo generators with known behaviour.

The condition names are deliberately artificial ("Demo syndrome A") so that
they cannot be mistaken for real diagnoses. Several conditions share most of
their features, so some pairs are hard to tell apart, as in real datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.demo import features as f

BEHAVIOURS = ("keep", "drift", "copy", "collapse")


@dataclass(frozen=True)
class DemoCondition:
    """One invented condition: a label, a code and the features that define it.

    Attributes
    ----------
    name : str
        Label shown to users.
    code : str
        Short code used in folder and file names.
    features : tuple of str
        HPO ids of the features drawn for every face of the condition.
    n_real : int
        Number of real images (1 to 7, like RDFace).
    """

    name: str
    code: str
    features: tuple[str, ...]
    n_real: int

    @property
    def hpo_terms(self) -> str:
        """HPO ids of the condition joined by ``;`` as in the manifest."""
        return ";".join(self.features)


DEMO_CONDITIONS: tuple[DemoCondition, ...] = (
    DemoCondition("Demo syndrome A", "DSA", (f.HYPERTELORISM, f.DOWNSLANTED, f.PTOSIS), 5),
    DemoCondition("Demo syndrome B", "DSB", (f.HYPERTELORISM, f.DOWNSLANTED, f.LOW_SET_EARS), 4),
    DemoCondition(
        "Demo syndrome C",
        "DSC",
        (f.UPSLANTED, f.EPICANTHUS, f.DEPRESSED_NASAL_BRIDGE, f.FULL_CHEEKS),
        7,
    ),
    DemoCondition(
        "Demo syndrome D",
        "DSD",
        (f.UPSLANTED, f.EPICANTHUS, f.DEPRESSED_NASAL_BRIDGE, f.PROTRUDING_EAR),
        3,
    ),
    DemoCondition("Demo syndrome E", "DSE", (f.LONG_PHILTRUM, f.THIN_UPPER_LIP, f.SYNOPHRYS), 1),
    DemoCondition(
        "Demo syndrome F", "DSF", (f.LONG_PHILTRUM, f.THIN_UPPER_LIP, f.THICK_EYEBROW), 6
    ),
    DemoCondition(
        "Demo syndrome G", "DSG", (f.WIDE_MOUTH, f.FULL_CHEEKS, f.DEPRESSED_NASAL_BRIDGE), 2
    ),
    DemoCondition("Demo syndrome H", "DSH", (f.MICROGNATHIA, f.LOW_SET_EARS, f.DOWNSLANTED), 4),
    DemoCondition("Demo syndrome I", "DSI", (f.HYPOTELORISM, f.SYNOPHRYS, f.THICK_EYEBROW), 3),
    DemoCondition("Demo syndrome J", "DSJ", (f.MICROGNATHIA, f.PROTRUDING_EAR, f.LONG_PHILTRUM), 1),
    DemoCondition("Demo syndrome K", "DSK", (f.PTOSIS, f.EPICANTHUS, f.HYPERTELORISM), 5),
    DemoCondition("Demo syndrome L", "DSL", (f.WIDE_MOUTH, f.MICROGNATHIA, f.UPSLANTED), 2),
    DemoCondition("Demo syndrome M", "DSM", (f.HYPOTELORISM, f.THIN_UPPER_LIP), 4),
    DemoCondition(
        "Demo syndrome N",
        "DSN",
        (f.FULL_CHEEKS, f.THICK_EYEBROW, f.PROTRUDING_EAR, f.LOW_SET_EARS),
        3,
    ),
)


@dataclass(frozen=True)
class DemoGenerator:
    """A demo generator: a name, a role and its behaviour per condition code.

    Conditions missing from ``behaviours`` get ``keep``: the phenotype is kept
    and the identities are new.
    """

    name: str
    role: str
    behaviours: dict[str, str] = field(default_factory=dict)

    def behaviour(self, code: str) -> str:
        """Return the behaviour of this generator for a condition code."""
        return self.behaviours.get(code, "keep")


DEMO_GENERATORS: tuple[DemoGenerator, ...] = (
    DemoGenerator("faithful", "reference"),
    DemoGenerator(
        "flawed",
        "defective",
        {
            "DSD": "drift",
            "DSH": "drift",
            "DSF": "copy",
            "DSK": "copy",
            "DSA": "collapse",
            "DSM": "collapse",
        },
    ),
)

# Generator of the extra images that the large mode adds. It keeps every phenotype.
LARGE_GENERATOR = DemoGenerator("bulk", "scale-test")

SYNTHETIC_PER_CONDITION = 8


def condition_by_code(code: str) -> DemoCondition:
    """Return the demo condition with this code."""
    for condition in DEMO_CONDITIONS:
        if condition.code == code:
            return condition
    known = ", ".join(c.code for c in DEMO_CONDITIONS)
    raise KeyError(f"Unknown demo condition code {code!r}. Known codes: {known}.")
