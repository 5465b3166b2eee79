"""The command line explains itself: help for every option with its default, --version, models."""

from __future__ import annotations

import argparse
import re

import pytest

import mlsmear
from mlsmear.cli import build_parser, main


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _all_subparsers(parser, prefix="") -> dict[str, argparse.ArgumentParser]:
    """Every (nested) sub-command parser, by its command line (``delphes build``)."""
    out = {}
    if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        return out
    for name, sub in _subparsers(parser).items():
        out[f"{prefix}{name}"] = sub
        out.update(_all_subparsers(sub, f"{prefix}{name} "))
    return out


def test_every_option_has_help_and_shows_its_default():
    for name, sub in _all_subparsers(build_parser()).items():
        text = sub.format_help()
        assert "``" not in text and ":func:" not in text, name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            flag = action.option_strings[0] if action.option_strings else action.dest
            assert action.help, f"mlsmear {name} {flag} has no help"
            default = action.default
            if action.option_strings and default not in (None, False, argparse.SUPPRESS):
                shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else str(
                    default)
                flat = re.sub(r"\s+", " ", text)
                assert "default" in action.help.lower() or f"default: {shown}" in flat, (
                    f"mlsmear {name} {flag}: default {shown!r} not shown"
                )


def test_top_level_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlsmear {mlsmear.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    for command in ("smear", "models", "generate", "train", "validate", "filter"):
        assert command in text


def test_models_lists_shipped_bundles_with_descriptions(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(mlsmear.shipped())
    first = lines[0]
    assert first.startswith("atlas-like (default): jet, electron, muon, photon, met")
    assert "Delphes ATLAS card" in first  # the detector card's description
    for name, line in zip(mlsmear.shipped(), lines, strict=True):  # what each card says
        precision, backend = {(m.precision, m.backend) for m in mlsmear.load(name).values()}.pop()
        assert f"evaluated in {precision} {backend};" in line
    for line in lines:  # Delphes bundles: the description of the shipped card patch
        assert line.split(": ", 2)[2].strip(), line


def test_model_and_card_options_list_the_shipped_names():
    subs = _subparsers(build_parser())
    for name in ("smear", "filter", "validate"):
        model = next(a for a in subs[name]._actions if "--model" in a.option_strings)
        assert all(b in model.help for b in mlsmear.shipped())
    card = next(a for a in subs["filter"]._actions if "--card" in a.option_strings)
    assert "atlas-like" in card.help


def test_filter_errors_speak_cli(tmp_path, capsys):
    out = tmp_path / "kept.hepmc"
    out.write_text("")
    status = main(["filter", "--process", "ttbar", "--events", "10", "--select", "MET.pt > 1",
                   "--output", str(out), "--seed", "1"])
    err = capsys.readouterr().err
    assert status == 2 and "--overwrite" in err and "=True" not in err
    status = main(["filter", "--process", "ttbar", "--events", "10", "--select", "MET.pt > 1",
                   "--output", str(tmp_path / "new.hepmc"), "--seed", "1", "--scan-margins", "0"])
    err = capsys.readouterr().err
    assert status == 2 and "--scan-margins needs --validate" in err
