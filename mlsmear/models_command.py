"""``mlsmear models``: the shipped model bundles, one line each from their model cards."""

from __future__ import annotations

import argparse
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "bundle_summary"]


def _card_description(card: dict[str, Any]) -> str:
    """The ``description`` of the detector card recorded in a model card's training data: of the
    card's own text (TOML, JSON) or of the shipped patch of a Delphes card."""
    patched = card.get("patch", {})
    if isinstance(patched, dict) and patched.get("description"):
        return str(patched["description"])
    text = card.get("text", "")
    for parse in (tomllib.loads, json.loads):
        try:
            return str(parse(text).get("description", ""))
        except (ValueError, AttributeError):
            continue
    return str(card.get("description", ""))


def bundle_summary(name_or_path: str | Path) -> dict[str, Any]:
    """What a bundle is, from its model cards: ``name``, ``kinds``, ``detector`` (the detector
    card the training pairs were made with, or the training files), ``description`` (one line).

    ``name_or_path``: ``"default"``, a shipped bundle name or a bundle directory.
    """
    from .registry import DEFAULT_BUNDLE, shipped

    name = DEFAULT_BUNDLE if str(name_or_path) == "default" else str(name_or_path)
    path = Path(name)
    if not path.is_dir() and name in shipped():
        path = Path(str(resources.files("mlsmear.weights") / name))
    cards = {p.stem: json.loads(p.read_text()) for p in sorted(path.glob("*.json"))}
    cards = {k: c for k, c in cards.items() if c.get("format") == "mlsmear-model"}
    if not cards:
        raise ValueError(f"{name_or_path}: not a model bundle (no model cards <kind>.json)")
    detectors, sources = {}, set()
    for card in cards.values():
        for data in card.get("training", {}).get("data", []):
            if isinstance(data.get("card"), dict):
                detectors[data["card"].get("name", "?")] = _card_description(data["card"])
            else:
                sources.add(Path(str(data.get("source", "?"))).name)
    detector = ", ".join(sorted(detectors)) or ", ".join(sorted(sources)) or "unknown"
    description = "; ".join(d for d in detectors.values() if d) or (
        f"trained on {detector}" if detector != "unknown" else "no training record"
    )
    order = ("jet", "electron", "muon", "photon", "met")
    kinds = sorted(cards, key=lambda k: order.index(k) if k in order else len(order))
    return {"name": path.name if path.is_dir() else name, "kinds": kinds, "detector": detector,
            "description": description}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "models", help="list the shipped model bundles (name, kinds, detector)",
        description="List the model bundles shipped with mlsmear, one line each from their model "
        "cards: name, object kinds, the detector they learnt. Any bundle directory works where a "
        "model is asked for (--model PATH).",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per shipped bundle."""
    from .registry import DEFAULT_BUNDLE, shipped

    for name in shipped():
        s = bundle_summary(name)
        default = " (default)" if name == DEFAULT_BUNDLE else ""
        print(f"{name}{default}: {', '.join(s['kinds'])}; detector {s['detector']}: "
              f"{s['description']}")
    return 0
