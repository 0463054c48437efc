"""Command line: ``python -m explorer COMMAND ...``.

Each command lives in its own module under :mod:`explorer.commands` and
provides ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules import heavy libraries (torch, umap) inside ``run`` so that
``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from explorer import ExplorerError, __version__

# Command name -> module under explorer.commands, in the order shown by --help.
COMMANDS = {
    "demo": "demo",
    "validate": "validate",
    "build": "build",
    "benchmark": "benchmark",
    "compare": "compare",
    "saliency": "saliency",
}

log = logging.getLogger("explorer")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per available command."""
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="RDFace Explorer: embeddings, maps, benchmarks and saliency "
        "for small facial-image datasets of rare genetic conditions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more detail (-v info, -vv debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"explorer.commands.{module_name}")
        except ModuleNotFoundError as error:
            if error.name != f"explorer.commands.{module_name}":
                raise
            continue
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # A command-line user needs the warning text, not the library's source line.
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status."""
    warnings.showwarning = _print_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(level)
    try:
        return int(args.run(args) or 0)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is kept in the cache", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
