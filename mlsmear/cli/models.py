"""``mlsmear models``: the shipped model bundles, one line each from their model cards."""

from __future__ import annotations

import argparse

from ..registry import DEFAULT_BUNDLE, bundle_summary, shipped

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "models", help="list the shipped model bundles (name, kinds, detector)",
        description="List the model bundles shipped with mlsmear, one line each from their model "
        "cards: name, object kinds, evaluation precision and back end, the detector they learnt. "
        "Any bundle directory works where a model is asked for (--model PATH).",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per shipped bundle."""
    for name in shipped():
        s = bundle_summary(name)
        default = " (default)" if name == DEFAULT_BUNDLE else ""
        print(f"{name}{default}: {', '.join(s['kinds'])}; evaluated in {s['evaluation']}; "
              f"detector {s['detector']}: {s['description']}")
    return 0
