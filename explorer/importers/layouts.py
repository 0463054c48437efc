"""Registry of dataset layouts and their detection from a folder's content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from explorer.errors import LayoutError
from explorer.importers.base import RawImport
from explorer.importers.folders import folders_present, import_folders
from explorer.importers.gestaltmatcher import gestaltmatcher_present, import_gestaltmatcher
from explorer.importers.manifest import MANIFEST_FILE, import_manifest, manifest_present
from explorer.importers.rdface import (
    DISEASE_TABLE,
    combined_generator_trees,
    disease_table_present,
    find_generator_trees,
    import_rdface,
    import_rdface_real,
    import_rdface_synthetic,
)

# Layout name -> importer, in the order detection tries them.
IMPORTERS: dict[str, Callable[[Path], RawImport]] = {
    "manifest": import_manifest,
    "rdface": import_rdface,
    "rdface-real": import_rdface_real,
    "folders": import_folders,
    "gestaltmatcher": import_gestaltmatcher,
    "rdface-synthetic": import_rdface_synthetic,
}
LAYOUTS = tuple(IMPORTERS)

# Signature files of each layout, listed in the message raised when none is detected.
LAYOUT_SIGNS = {
    "manifest": MANIFEST_FILE,
    "rdface": f"{DISEASE_TABLE} + rd_images/ + synthetic/<generator>/<abbr>/",
    "rdface-real": f"{DISEASE_TABLE} + rd_images/<abbr>/<image>",
    "folders": "real/<condition>/<image> and/or synthetic/<generator>/<condition>/<image>",
    "gestaltmatcher": "a CSV/TSV with image_id, subject, label + a syndrome table",
    "rdface-synthetic": "<generator>/<abbr>/<abbr>_<n>.png",
}


def detect(root: Path) -> str:
    """Return the name of the first layout whose signature files ``root`` holds."""
    if manifest_present(root):
        return "manifest"
    if disease_table_present(root):
        return "rdface" if combined_generator_trees(root) else "rdface-real"
    if folders_present(root):
        return "folders"
    if gestaltmatcher_present(root):
        return "gestaltmatcher"
    if find_generator_trees(root):
        return "rdface-synthetic"
    expected = "; ".join(f"{name}: {sign}" for name, sign in LAYOUT_SIGNS.items())
    raise LayoutError(
        f"Cannot detect the layout of {root}. Valid layouts and what each needs: {expected}. "
        "Rearrange the folder, or name the layout explicitly."
    )
