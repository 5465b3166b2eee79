"""Load and validate detector cards (TOML).

A card has four top-level keys and one table per stage::

    name = "atlas-like"
    description = "..."
    execution_path = ["charged_hadron_filter", ...]     # stage tables, run in this order
    outputs = { jet = "jets", electron = "electrons", muon = "muons", photon = "photons",
                met = "missing_et" }                     # reco collection of each object kind

    [charged_hadron_filter]
    module = "PdgFilter"                                 # a class of MODULES
    inputs = ["particles"]                               # collections it reads
    outputs = ["charged_hadrons"]                        # collections it writes
    pdg_ids = [11, 13]                                   # the module's own parameters ...

Every key is checked when the card is loaded: an unknown or missing key, a value of the wrong type,
a formula that does not parse, or a stage reading a collection that no earlier stage writes is a
:class:`CardError` naming the valid choices. The detector inputs are the collections
``particles`` and ``hadrons``.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .btag import BTagging
from .calorimeter import Calorimeter
from .filters import Efficiency, Merger, PdgFilter
from .isolation import Isolation
from .jets import EnergyScale, JetFinder
from .met import MissingET
from .stage import CardError, Stage
from .tracking import MomentumSmearing

__all__ = [
    "DETECTOR_INPUTS",
    "MODULES",
    "OUTPUT_KINDS",
    "Card",
    "CardError",
    "StageSpec",
    "load_card",
    "shipped_cards",
]

#: Stage classes a card may name in ``module``.
MODULES: dict[str, type[Stage]] = {
    cls.__name__: cls
    for cls in (
        PdgFilter,
        Merger,
        Efficiency,
        MomentumSmearing,
        Calorimeter,
        Isolation,
        JetFinder,
        EnergyScale,
        BTagging,
        MissingET,
    )
}
#: Collections given to :meth:`Detector.run`.
DETECTOR_INPUTS = ("particles", "hadrons")
#: Object kinds a card must map to reco collections in ``outputs``.
OUTPUT_KINDS = ("jet", "electron", "muon", "photon", "met")
_TOP_KEYS = ("name", "description", "execution_path", "outputs")
_STAGE_KEYS = ("module", "inputs", "outputs")


@dataclass(frozen=True)
class StageSpec:
    """One validated stage table: its module class, wiring and parsed parameters."""

    name: str
    module: type[Stage]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[str, Any]

    def build(self) -> Stage:
        """Instantiate the stage."""
        return self.module(self.name, self.inputs, self.outputs, **self.params)


@dataclass(frozen=True)
class Card:
    """A validated detector card."""

    name: str
    description: str
    source: str
    sha256: str
    text: str
    stages: tuple[StageSpec, ...]
    outputs: dict[str, str]


def shipped_cards() -> list[str]:
    """Names of the cards shipped in ``mlsmear/cards``."""
    folder = resources.files("mlsmear") / "cards"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _card_text(name_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, source) of a shipped card name or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"detector card file {str(path)!r} does not exist")
        return path.read_text(encoding="utf-8"), str(path)
    name = str(name_or_path)
    if name not in shipped_cards():
        raise CardError(
            f"unknown detector card {name!r}: give a path to a .toml file or one of the shipped "
            f"cards {shipped_cards()}"
        )
    text = (resources.files("mlsmear") / "cards" / f"{name}.toml").read_text(encoding="utf-8")
    return text, name


def load_card(name_or_path: str | os.PathLike[str]) -> Card:
    """Read and validate a card: a shipped name (e.g. ``"atlas-like"``) or a TOML file path."""
    text, source = _card_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CardError(f"card {source}: not valid TOML: {err}") from None
    return _validate(data, source, text)


def _check_keys(table: Any, valid: tuple[str, ...], where: str) -> None:
    if not isinstance(table, dict):
        raise CardError(f"{where}: expected a table, got {table!r}")
    unknown = [k for k in table if k not in valid]
    missing = [k for k in valid if k not in table]
    if unknown:
        raise CardError(f"{where}: unknown key(s) {unknown}; valid keys are {list(valid)}")
    if missing:
        raise CardError(f"{where}: missing key(s) {missing}; every key is required: {list(valid)}")


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CardError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _validate(data: dict[str, Any], source: str, text: str) -> Card:
    where = f"card {source}"
    path = _names(data.get("execution_path"), f"{where}: execution_path")
    if len(set(path)) != len(path):
        raise CardError(f"{where}: execution_path lists a stage twice: {list(path)}")
    _check_keys(data, _TOP_KEYS + path, where)
    for key in ("name", "description"):
        if not isinstance(data[key], str):
            raise CardError(f"{where}: {key} must be a string")

    available = set(DETECTOR_INPUTS)
    stages = []
    for name in path:
        spec = _validate_stage(name, data[name], available, f"{where}: [{name}]")
        available.update(spec.outputs)
        stages.append(spec)

    outputs = data["outputs"]
    _check_keys(outputs, OUTPUT_KINDS, f"{where}: outputs")
    for kind, collection in outputs.items():
        if collection not in available:
            raise CardError(
                f"{where}: outputs.{kind} = {collection!r} is not written by any stage "
                f"(collections: {sorted(available)})"
            )
    return Card(
        name=data["name"],
        description=data["description"],
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
        stages=tuple(stages),
        outputs=dict(outputs),
    )


def _validate_stage(name: str, table: Any, available: set[str], where: str) -> StageSpec:
    if not isinstance(table, dict):
        raise CardError(f"{where}: expected a table")
    module = MODULES.get(str(table.get("module")))
    if module is None:
        raise CardError(f"{where}: module = {table.get('module')!r}; valid: {sorted(MODULES)}")
    _check_keys(table, _STAGE_KEYS + tuple(module.PARAMS), where)

    inputs = _names(table["inputs"], f"{where}.inputs")
    expected = module.INPUTS
    if (expected is None and not inputs) or (expected is not None and len(inputs) != len(expected)):
        slots = "one or more collections" if expected is None else list(expected)
        raise CardError(f"{where}.inputs: {module.__name__} reads {slots}, got {list(inputs)}")
    for collection in inputs:
        if collection not in available:
            raise CardError(
                f"{where}.inputs: {collection!r} is not written by an earlier stage "
                f"(available: {sorted(available)})"
            )
    outputs = _names(table["outputs"], f"{where}.outputs")
    if len(outputs) != len(module.OUTPUTS):
        raise CardError(
            f"{where}.outputs: {module.__name__} writes {list(module.OUTPUTS)}, got {list(outputs)}"
        )
    clashes = [c for c in outputs if c in available or outputs.count(c) > 1]
    if clashes:
        raise CardError(f"{where}.outputs: {clashes} already written; names must be unique")

    params = {
        key: param.parse(table[key], f"{where}.{key}") for key, param in module.PARAMS.items()
    }
    return StageSpec(name, module, inputs, outputs, params)
