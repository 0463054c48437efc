"""App settings from script arguments and environment variables.

``streamlit run app.py -- --dataset DIR --model NAME ...`` passes everything
after ``--`` to the script. The model flags are the command line's own
(``explorer.commands.common``), so the app and ``python -m explorer`` read the
same flags and environment variables.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from explorer.embeddings import ModelSpec
from explorer.errors import DatasetError, DatasetNotFoundError, ExplorerError
from explorer.settings import ENV_DATASET, ENV_DATASET_ROOTS

logger = logging.getLogger(__name__)


class AppArgumentError(ExplorerError, ValueError):
    """A script argument of the app is invalid."""


@dataclass(frozen=True)
class AppConfig:
    """Dataset and model the app starts with.

    ``dataset_root`` is None for the demo dataset. ``allowed_roots`` are the
    folders under which the sidebar may open another dataset. It is empty when
    the sidebar field is off.
    """

    dataset_root: Path | None = None
    layout: str | None = None
    model_spec: ModelSpec = ModelSpec()
    allowed_roots: tuple[Path, ...] = ()
    cache_dir: Path | None = None


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the app's script arguments."""
    from explorer.commands.common import add_cache_argument, add_model_arguments

    parser = argparse.ArgumentParser(
        prog="streamlit run app.py --",
        description="RDFace Explorer app",
        allow_abbrev=False,
        add_help=False,  # --help would exit the Streamlit script thread
        exit_on_error=False,
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help=f"dataset folder to open (default: env {ENV_DATASET}, else the demo dataset)",
    )
    parser.add_argument(
        "--layout",
        default=None,
        help="dataset layout (detected from the folder when omitted)",
    )
    add_model_arguments(parser)
    add_cache_argument(parser)
    return parser


def parse_app_arguments(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> AppConfig:
    """Turn script arguments and environment variables into an :class:`AppConfig`.

    Unknown arguments are ignored (and logged), because test runners and
    Streamlit itself may leave their own flags in ``sys.argv``.

    Raises
    ------
    AppArgumentError
        If a known argument has an invalid value (for example ``--weights foo``).
    """
    from explorer.commands.common import model_spec_from_args

    environ = os.environ if environ is None else environ
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(list(argv))
    except argparse.ArgumentError as error:
        raise AppArgumentError(
            f"Invalid app argument: {error}. The app takes --dataset DIR, --layout NAME, --cache-dir DIR "
            "and the model flags listed by `python -m explorer build --help`."
        ) from error
    if unknown:
        logger.info("app ignores unknown script arguments: %s", " ".join(unknown))

    dataset = args.dataset
    if dataset is None and environ.get(ENV_DATASET):
        dataset = Path(environ[ENV_DATASET])
    roots = tuple(Path(part).expanduser() for part in environ.get(ENV_DATASET_ROOTS, "").split(os.pathsep) if part)
    return AppConfig(
        dataset_root=dataset.expanduser() if dataset is not None else None,
        layout=args.layout,
        model_spec=model_spec_from_args(args),
        allowed_roots=roots,
        cache_dir=args.cache_dir,
    )


def app_config_from_environment() -> AppConfig:
    """Read the app settings from ``sys.argv`` and ``os.environ``."""
    return parse_app_arguments(sys.argv[1:])


def check_dataset_choice(text: str, allowed_roots: Sequence[str | os.PathLike[str]]) -> Path:
    """Check a folder typed into the sidebar and return it resolved.

    The folder must exist and lie inside one of ``allowed_roots`` after
    symbolic links are resolved, so the field cannot open arbitrary folders
    of the server.

    Raises
    ------
    DatasetError
        If no roots are configured, the text is empty, or the folder lies outside them.
    DatasetNotFoundError
        If the folder does not exist.
    """
    if not allowed_roots:
        raise DatasetError(
            f"Opening a dataset from the sidebar is off. Set {ENV_DATASET_ROOTS} to the folders "
            "that may be opened (separated by ':'), or start the app with -- --dataset DIR."
        )
    text = text.strip()
    if not text:
        raise DatasetError("No dataset folder given. Type the path of a folder inside an allowed root.")

    resolved_roots = [Path(root).expanduser().resolve() for root in allowed_roots]
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = resolved_roots[0] / candidate
    candidate = candidate.resolve()

    if not any(candidate == root or root in candidate.parents for root in resolved_roots):
        listed = ", ".join(str(root) for root in resolved_roots)
        raise DatasetError(
            f"Folder {candidate} is outside the allowed dataset roots ({listed}). "
            f"Choose a folder inside one of them, or ask the operator to add it to {ENV_DATASET_ROOTS}."
        )
    if not candidate.is_dir():
        raise DatasetNotFoundError(f"Dataset folder {candidate} does not exist or is not a folder. Check the path.")
    return candidate
