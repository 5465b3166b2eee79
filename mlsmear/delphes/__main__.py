"""``python -m mlsmear.delphes build|info``: the ``mlsmear delphes`` sub-command on its own."""

from __future__ import annotations

import argparse
import sys

from .command import register


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``mlsmear delphes`` arguments and run; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m mlsmear.delphes")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["delphes", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
