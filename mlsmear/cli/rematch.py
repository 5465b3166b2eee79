"""``mlsmear rematch``: pairs written before the second jet-matching pass, brought up to it."""

from __future__ import annotations

import argparse

from ..rematch import rematch_pairs

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rematch`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "rematch", help="apply the second jet-matching pass to pairs written before it",
        description="Jets are matched within ΔR 0.2, then the truth jets left without a partner "
        "take the reco jets left without one within their radius (0.4). Pairs written before "
        "that second pass are brought up to it in place, from the pairs alone; pairs that have "
        "it already are left as they are.",
    )
    parser.add_argument("pairs", nargs="+", help="pairs directories")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rematch each directory and say what changed."""
    for directory in args.pairs:
        found = rematch_pairs(directory)
        if not found:
            print(f"{directory}: has the second matching pass already")
        for kind, n in found.items():
            print(f"{directory}: {n} {kind} truth objects found their partner")
    return 0
