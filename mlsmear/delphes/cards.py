"""Delphes cards: the shipped ``delphes-atlas`` / ``delphes-cms`` or any ``.tcl`` file.

A shipped card is a small patch description ``mlsmear/cards/<name>.json`` of an upstream card of
the Delphes source (``cards/delphes_card_ATLAS.tcl`` ...): a list of ``set PARAMETER VALUE`` lines
changed inside named modules (jets: anti-kt R = 0.4 instead of 0.6 / 0.5; GenJets from 10 GeV).
The card is made from the source of the Delphes build in use, so no Delphes text is shipped;
``docs/reference-detector.md`` lists the diff.

The job's random seed is appended as ``set RandomSeed N`` (Delphes seeds ``gRandom`` with it; 0,
its default, would mean a time-dependent seed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .build import DelphesBuildError

__all__ = ["DelphesCard", "apply_changes", "resolve_card", "seeded_text", "shipped_delphes_cards"]


@dataclass(frozen=True)
class DelphesCard:
    """A resolved Delphes card: its text, where it came from and the directory to run it in
    (relative file names inside a card are relative to it)."""

    name: str
    source: str
    text: str
    workdir: str
    patch: dict[str, Any] | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def shipped_delphes_cards() -> list[str]:
    """Names of the shipped Delphes cards (``mlsmear/cards/*.json``)."""
    folder = resources.files("mlsmear") / "cards"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def apply_changes(text: str, changes: list[dict[str, str]]) -> str:
    """Set ``parameter`` to ``value`` inside ``module`` for each change (one ``set`` line each)."""
    for change in changes:
        module, parameter, value = change["module"], change["parameter"], change["value"]
        block = re.search(rf"^module\s+\S+\s+{re.escape(module)}\s*\{{.*?^\}}", text, re.M | re.S)
        if block is None:
            raise DelphesBuildError(f"the card has no module {module!r}")
        body, n = re.subn(
            rf"^(\s*set\s+{re.escape(parameter)}\s+)\S+", rf"\g<1>{value}", block.group(0),
            flags=re.M,
        )  # fmt: skip
        if n != 1:
            raise DelphesBuildError(f"module {module!r} sets {parameter!r} {n} times, expected 1")
        text = text[: block.start()] + body + text[block.end() :]
    return text


def resolve_card(name_or_path: str | os.PathLike[str], source_dir: Path) -> DelphesCard:
    """A shipped card name (made from ``source_dir``, the Delphes source) or a ``.tcl`` path."""
    name = os.fspath(name_or_path)
    if name in shipped_delphes_cards():
        patch = json.loads(
            (resources.files("mlsmear") / "cards" / f"{name}.json").read_text(encoding="utf-8")
        )
        base = source_dir / patch["base"]
        if not base.is_file():
            raise FileNotFoundError(f"card {name}: the Delphes source has no {patch['base']}")
        text = apply_changes(base.read_text(), patch["changes"])
        return DelphesCard(name, f"{patch['base']} + mlsmear/cards/{name}.json", text,
                           str(source_dir), patch)  # fmt: skip
    path = Path(name).expanduser()
    if path.suffix != ".tcl":
        raise ValueError(
            f"Delphes card {name!r}: use a shipped card {shipped_delphes_cards()} or a .tcl file"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such Delphes card: {name!r}")
    path = path.resolve()
    return DelphesCard(path.stem, str(path), path.read_text(), str(path.parent))


def seeded_text(card: DelphesCard, seed: int) -> str:
    """The card's text with ``set RandomSeed seed`` appended (1 <= seed < 2**31)."""
    if not 0 < seed < 2**31:
        raise ValueError(f"Delphes random seed must be in 1 ... 2**31 - 1, got {seed}")
    return f"{card.text.rstrip()}\n\n# mlsmear: the job's seed\nset RandomSeed {seed}\n"
