"""``smear_events``: every reco collection of a schema replaced at once by its smeared truth.

Cross-references of the collections that are kept (the file's own reco objects) into the replaced
ones would still point at the file's objects: coffea resolves them through the original events,
so e.g. ``Electron.matched_jet`` would silently return the file's jets, not the smeared ones. They
are removed (``Electron.jetIdx``, ``jetIdxG``, ``Jet.electronIdx1``, ...): following one raises
``AttributeError``. Match kept and smeared objects by ΔR instead (``nearest``, ``metric_table``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import awkward as ak
import torch
from coffea.nanoevents import NanoAODSchema

from ..engine import DEFAULT_BATCH_SIZE
from ..model import Bundle
from ..options import SmearOptions
from ..registry import load
from .nanoevents import smear_event_collections
from .schemas import Schema, Target, schema_of

__all__ = ["smear_events", "stale_links"]


def stale_links(fields: Iterable[str], collection: str, replaced: Iterable[str]) -> list[str]:
    """Fields of a kept NanoAOD ``collection`` that index into the ``replaced`` collections.

    From coffea's own cross-reference tables (``NanoAODSchema.all_cross_references`` and
    ``nested_items``): the local index, its global ``...G`` twin, and nested lists of them.
    """
    replaced = set(replaced)
    stale = set()
    for branch, target in NanoAODSchema.all_cross_references.items():
        owner, _, name = branch.partition("_")
        if owner == collection and target in replaced:
            stale |= {name, f"{name}G"}
    for branch, parts in NanoAODSchema.nested_items.items():
        owner, _, name = branch.partition("_")
        if owner == collection and any(p.partition("_")[2] in stale for p in parts):
            stale.add(name)
    return [f for f in fields if f in stale]


def _library(events: Any) -> Any:
    dak = sys.modules.get("dask_awkward")
    return dak if dak is not None and isinstance(events, dak.Array) else ak


def _check_sources(events: Any, schema: Schema, targets: list[Target]) -> None:
    fields = set(events.fields)
    for target in targets:
        needs = [target.source] + (["GenJet"] if target.kind == "met" else [])
        missing = [n for n in needs if n not in fields]
        if missing:
            truth = sorted(f for f in fields if f.startswith(("Gen", "Particle")))
            raise ValueError(
                f"cannot smear {target.name}: these {schema.name} events have no {missing} "
                f"collection (truth collections present: {truth})"
            )


def _check_models(model: str | Path | Bundle, targets: list[Target]) -> None:
    """``KeyError`` naming the collections a bundle has no model for, and ``replace=``."""
    bundle = load(model)
    if not isinstance(bundle, Bundle):
        return
    lacking = [t.name for t in targets if t.kind not in bundle]
    if lacking:
        can = [t.name for t in targets if t.kind in bundle]
        raise KeyError(
            f"bundle {bundle.name!r} has no model for {lacking}; it has {sorted(bundle)}: pass "
            f"replace= with the collections it can smear, e.g. replace={can}"
        )


def smear_events(
    events: Any,
    *,
    model: str | Path | Bundle = "default",
    seed: int = 0,
    replace: Iterable[str] | None = None,
    device: str | torch.device = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    sample_id: str | int | None = None,
    precision: str | None = None,
) -> Any:
    """The events with their reco collections replaced by smeared truth.

    Arguments:
        events: NanoAOD or Delphes NanoEvents (eager, virtual or dask-awkward), unsliced.
        model: ``"default"``, a shipped bundle name, a bundle path, or a loaded bundle.
        seed: user seed (see :func:`mlsmear.smear`).
        replace: reco collections to write (default: all of the schema, see
            :mod:`mlsmear.coffea.schemas`); collections the file lacks are added.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``; batch_size: rows per network evaluation.
        sample_id, precision: as for :func:`mlsmear.smear` (file or sample name folded into the
            event identity; evaluation precision, default the model card's).

    Returns:
        New events (the input is not modified), lazy if the input is. Kept collections lose their
        links into the replaced ones (module docstring).

    Raises:
        ValueError: a schema mlsmear does not write, an unknown collection name, a missing truth
            collection.
        KeyError: a bundle without a model for one of the collections to replace.

    Example:
        >>> events = mlsmear.smear_events(events, seed=1)  # doctest: +SKIP
        >>> jets = events.Jet[events.Jet.pt > 30]  # doctest: +SKIP
    """
    common = SmearOptions(
        seed=seed, device=device, batch_size=batch_size, sample_id=sample_id, precision=precision
    )
    schema = schema_of(events)
    if schema is None:
        raise ValueError(
            "smear_events needs NanoAOD (NanoAODSchema) or Delphes (DelphesSchema) events; for "
            "other schemas smear collections one by one with mlsmear.smear(..., kind=...)"
        )
    targets = schema.select(replace)
    _check_models(model, targets)
    _check_sources(events, schema, targets)
    lib, out = _library(events), events
    outputs = [(t.name, t.kind) for t in targets]
    for name, smeared in smear_event_collections(events, model, outputs, common).items():
        out = lib.with_field(out, smeared, name)
    names = {t.name for t in targets}
    for kept in sorted(set(events.fields) - names):
        stale = stale_links(events[kept].fields, kept, names)
        if stale:
            collection = events[kept]
            for field in stale:
                collection = lib.without_field(collection, field)
            out = lib.with_field(out, collection, kept)
    return out
