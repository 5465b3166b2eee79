"""The ``mlsmear`` command line: one sub-command per job, each defined in its own module of
this package (argument parsing and printing only; the work is done by the library modules they
call). ``python -m mlsmear.cli`` is the same command.

Help texts are for users: descriptions taken from module docstrings lose their reST markup,
and every option's default is shown (:class:`_Formatter`).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: (sub-command, module defining ``register(subparsers)``); modules import lazily so that
#: ``mlsmear --help`` works without the optional extras (pythia8mc, fastjet, ...).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("generate", "mlsmear.cli.generate"),
    ("train", "mlsmear.cli.train"),
    ("rematch", "mlsmear.cli.rematch"),
    ("validate", "mlsmear.cli.validate"),
    ("filter", "mlsmear.cli.filter"),
    ("delphes", "mlsmear.cli.delphes"),
    ("smear", "mlsmear.cli.smear"),
    ("models", "mlsmear.cli.models"),
)

DESCRIPTION = """\
mlsmear: learnt fast detector simulation. Each truth object (jet, electron, muon, photon; MET
per event) gets its reconstructed values sampled from neural networks trained on truth <-> reco
pairs, reproducibly per event.

typical use:
  mlsmear models                                  the shipped model bundles
  mlsmear smear nano.root --output smeared.root   smear a NanoAOD / Delphes file's truth
  mlsmear generate ... ; mlsmear train ...        make pairs, train your own detector
  mlsmear validate ...                            compare a model with hold-out pairs

In Python: events["Jet"] = mlsmear.smear(events.GenJet, seed=1). Run
'mlsmear COMMAND --help' for the options of one command.
"""


def plain(text: str | None) -> str | None:
    """``text`` without reST markup: ``x`` and :role:`x` become x, a trailing :: becomes :."""
    if not text:
        return text
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def _default_text(default: object) -> str:
    if isinstance(default, list | tuple):
        return " ".join(str(v) for v in default) if default else "none"
    return str(default)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (line breaks kept); every option with a default shows it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text or not action.option_strings or default is None
            or default is False or default is argparse.SUPPRESS
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        shown = _default_text(default).replace("%", "%%")
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


class _Parser(argparse.ArgumentParser):
    """An argument parser with mlsmear's help formatting (used for every sub-command)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["formatter_class"] = _Formatter
        for key in ("description", "epilog"):
            kwargs[key] = plain(kwargs.get(key))
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    from .. import __version__

    parser = _Parser(prog="mlsmear", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"mlsmear {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser,
    )
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


