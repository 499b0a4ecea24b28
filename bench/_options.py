"""Options every bench script shares: ``--help`` describes each one, ``--quick`` makes a smoke run.

``make bench-quick`` (part of ``make test``) runs every script with ``--quick``
so none of them rots; the numbers of a quick run mean nothing.
"""

from __future__ import annotations

import argparse

QUICK_HELP = (
    "a smoke run on small data, in seconds (make bench-quick): checks the script works; its numbers mean nothing"
)


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the script's docstring, with ``--quick``."""
    return argparse.ArgumentParser(
        description=(doc or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="make bench runs every script at full size; make bench-quick runs each with --quick.",
    )


def add_quick(parser: argparse.ArgumentParser) -> None:
    """Add ``--quick`` (after the script's own options, so help lists it last)."""
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
