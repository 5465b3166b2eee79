"""Smear whole events: the objects first, then MET from what was sampled.

:func:`smear_event` smears every object kind of a bundle with :func:`mlsmear.smear`, then, for a
MET model with object context (:mod:`mlsmear.met_context`), computes each event's recoil D from
the sampled jets and muons (:func:`~mlsmear.met_context.smeared_recoil`) and smears MET around
GenMET + D. Every draw stays a counter-based function of (seed, event, object, quantity, draw),
so the objects are the same as those of separate ``smear()`` calls with the same seed, and the
result does not depend on how the events are split into chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import awkward as ak

from .met_context import RECOIL_FIELDS, smeared_recoil, uses_objects
from .model import Bundle
from .smear import smear

__all__ = ["smear_event"]


def smear_event(
    truth: Mapping[str, ak.Array],
    *,
    bundle: Bundle,
    seed: int = 0,
    event_id: Any = None,
    kinds: Iterable[str] | None = None,
    device: str = "cpu",
    sample_id: str | int | None = None,
) -> dict[str, ak.Array]:
    """Reco collections by kind of plain-array truth events (objects first, then MET).

    Arguments:
        truth: truth collections by kind (jagged records; ``met`` one record per event with
            ``pt``, ``phi`` = GenMET, ``ht``, ``njet``), all of the same events.
        bundle: the detector's models; kinds: the kinds to return (default: every kind of
            ``truth`` the bundle has).
        seed, event_id, device, sample_id: as for :func:`mlsmear.smear`.

    A MET model with object context needs the bundle's jet and muon models and the truth jets
    and muons: they are smeared even when not asked for (the same objects ``smear`` gives).
    """
    wanted = [k for k in (kinds or truth) if k in bundle]
    needed = set(wanted)
    met_objects = "met" in wanted and uses_objects(bundle["met"].card)
    if met_objects:
        missing = [k for k in ("jet", "muon") if k not in truth or k not in bundle]
        if missing:
            raise ValueError(
                f"the MET model follows the sampled objects and needs {missing} truth and models"
            )
        needed |= {"jet", "muon"}
    options = dict(seed=seed, event_id=event_id, device=device, sample_id=sample_id)
    reco = {
        kind: smear(truth[kind], model=bundle[kind], kind=kind, **options)
        for kind in truth if kind in needed and kind != "met"
    }
    if "met" in needed:
        record = truth["met"]
        if met_objects:
            dx, dy = smeared_recoil(truth, reco)
            for name, values in zip(RECOIL_FIELDS, (dx, dy), strict=True):
                record = ak.with_field(record, values, name)
        reco["met"] = smear(record, model=bundle["met"], kind="met", **options)
    return {kind: reco[kind] for kind in wanted}
