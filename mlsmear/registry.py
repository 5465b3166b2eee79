"""Finding models: shipped bundles by name, or files and directories by path."""

from __future__ import annotations

import functools
import json
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .kinds import KINDS
from .model import Bundle, KindModel, ModelFileError

__all__ = ["load", "shipped", "bundle_summary", "DEFAULT_BUNDLE"]

#: The bundle ``model="default"`` means.
DEFAULT_BUNDLE = "atlas-like"


def shipped() -> list[str]:
    """Names of the bundles shipped in ``mlsmear.weights``."""
    root = resources.files("mlsmear.weights")
    return sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and any(f.name.endswith(".json") for f in p.iterdir())
    )


def _signature(path: Path) -> tuple[Any, ...]:
    """What the cache is keyed on: name, size and modification time (ns) of every model file,
    so that a file rewritten in place (even within the directory's mtime) is read again."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".safetensors"))
    else:
        files = [path, path.with_suffix(".safetensors")]
    out: list[tuple[Any, ...]] = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            out.append((file.name, None))
            continue
        out.append((file.name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _load_path(path: Path, signature: tuple[Any, ...]) -> Bundle | KindModel:
    if path.is_dir():
        return Bundle.load(path)
    return KindModel.load(path)


def load(
    name_or_path: str | os.PathLike[str] | Bundle | KindModel = "default",
) -> Bundle | KindModel:
    """Load a model bundle or a single-kind model.

    Arguments:
        name_or_path: ``"default"`` (the ``atlas-like`` bundle), a shipped bundle name, a bundle
            directory, or a model card ``<kind>.json``. Models already loaded pass through.
            Loading is cached per path and the size and modification time of each model file:
            a bundle rewritten in place is read again.

    Raises:
        ModelFileError: unknown name, missing/corrupt/mismatched files, pickle files.
    """
    if isinstance(name_or_path, Bundle | KindModel):
        return name_or_path
    name = DEFAULT_BUNDLE if str(name_or_path) == "default" else str(name_or_path)
    path = Path(name)
    if not path.exists():
        shipped_dir = resources.files("mlsmear.weights") / name
        if not shipped_dir.is_dir():
            raise ModelFileError(
                f"no model {name!r}: not a path, and not a shipped bundle {shipped()}"
            )
        path = Path(str(shipped_dir))
    path = path.resolve()
    return _load_path(path, _signature(path))


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
    card the training pairs were made with, or the training files), ``description`` (one line),
    ``evaluation`` (the cards' precision and CPU back end, e.g. ``float32 onnxruntime``).

    ``name_or_path``: ``"default"``, a shipped bundle name or a bundle directory.
    """
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
    order = list(KINDS)
    kinds = sorted(cards, key=lambda k: order.index(k) if k in order else len(order))
    evaluation = sorted({f"{c.get('precision')} {c.get('backend', 'torch')}"
                         for c in cards.values()})
    return {"name": path.name if path.is_dir() else name, "kinds": kinds, "detector": detector,
            "description": description, "evaluation": ", ".join(evaluation)}
