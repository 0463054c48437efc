"""Small Streamlit building blocks shared by the pages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer.errors import (
    CacheError,
    DatasetError,
    DatasetNotFoundError,
    ExplorerError,
    ImageDecodeError,
    ModelLoadError,
    ProjectionError,
    WeightsNotFoundError,
)
from explorer.settings import ENV_CHECKPOINT, ENV_DATASET, ENV_WEIGHTS
from explorer.ui.thumbnails import GRID_THUMBNAIL_SIDE, row_thumbnail

logger = logging.getLogger(__name__)

RANDOM_WEIGHTS_BANNER = (
    "The embedding model has RANDOM weights: maps, neighbours and similarities carry no meaning. "
    f"Start the app with --checkpoint FILE (or set {ENV_CHECKPOINT}) to use trained weights."
)

# Next step shown under an error, by exception class (most specific first).
NEXT_STEPS: tuple[tuple[type[ExplorerError], str], ...] = (
    (
        WeightsNotFoundError,
        f"Download the weights once on a machine with internet, or pass a local file with "
        f"--checkpoint FILE (env {ENV_CHECKPOINT}). To try the app without weights, start it with "
        f"--weights random (env {ENV_WEIGHTS}=random).",
    ),
    (ModelLoadError, "Check the --model, --pretrained and --checkpoint settings the app was started with."),
    (
        DatasetNotFoundError,
        f"Check the dataset path (--dataset or {ENV_DATASET}). It must be a folder the server can read.",
    ),
    (
        DatasetError,
        "Run `python -m explorer validate DIR` to list every problem of the dataset, fix them, then reload.",
    ),
    (ProjectionError, "Loosen the filters or add images: a projection needs more points."),
    (CacheError, "Check that the cache folder is writable and has free space, or point RDFACE_EXPLORER_CACHE elsewhere."),
    (ImageDecodeError, "Replace or remove the image. The Overview page lists every skipped file."),
)


def next_step_for(error: ExplorerError) -> str:
    """Return the advice shown under an error message."""
    for error_type, advice in NEXT_STEPS:
        if isinstance(error, error_type):
            return advice
    return "Fix the cause named above, or check the settings the app was started with, then reload the page."


def show_error(error: ExplorerError) -> None:
    """Show a library error as a message with its cause and the next step, never a traceback."""
    logger.warning("page stopped on %s: %s", type(error).__name__, error)
    st.error(f"**{type(error).__name__}**: {error}\n\n**Next step:** {next_step_for(error)}")


def show_unexpected_error(error: Exception) -> None:
    """Show an unexpected failure without its traceback, which goes to the server log."""
    logger.exception("page failed unexpectedly")
    st.error(
        f"**Unexpected error** ({type(error).__name__}): {error}\n\n"
        "**Next step:** reload the page. If the error comes back, report it with the details from the server log."
    )


def random_weights_banner() -> None:
    """Draw the warning shown on every page while the model's weights are random."""
    st.warning(RANDOM_WEIGHTS_BANNER, icon="⚠️")


def thumbnail_grid(
    root: Path,
    rows: pd.DataFrame,
    captions: Sequence[str],
    *,
    n_columns: int = 6,
    max_side: int = GRID_THUMBNAIL_SIDE,
    button_label: str | None = None,
    key_prefix: str = "thumb",
) -> str | None:
    """Draw thumbnails of manifest rows in a grid, optionally with a button under each.

    Returns
    -------
    str or None
        The image_id whose button was clicked in this run, if any.
    """
    clicked = None
    for start in range(0, len(rows), n_columns):
        columns = st.columns(n_columns)
        for column, (_, row), caption in zip(
            columns, rows.iloc[start : start + n_columns].iterrows(), captions[start : start + n_columns]
        ):
            with column:
                data = row_thumbnail(root, row, max_side)
                if data is None:
                    st.caption(f"{row['image_id']}: image could not be decoded")
                else:
                    st.image(data, caption=caption, width="stretch")
                if button_label and st.button(button_label, key=f"{key_prefix}-{row['image_id']}"):
                    clicked = str(row["image_id"])
    return clicked
