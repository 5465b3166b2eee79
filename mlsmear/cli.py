"""The ``mlsmear`` command line: one sub-command per job, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: (sub-command, module defining ``register(subparsers)``); modules import lazily so that
#: ``mlsmear --help`` works without the optional extras (pythia8mc, fastjet, ...).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("generate", "mlsmear.generate.command"),
    ("train", "mlsmear.train_command"),
    ("validate", "mlsmear.validate_command"),
    ("filter", "mlsmear.filter.command"),
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="mlsmear", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for _, module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlsmear`` script; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as given (recorded in model cards by validate)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, ImportError) as err:
        print(f"mlsmear {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
