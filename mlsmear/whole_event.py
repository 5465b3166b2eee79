"""Smear whole events: e, μ, γ, then the jets that follow them, then MET from what was sampled.

:func:`smear_event` smears every object kind of a bundle with :func:`mlsmear.smear` in
:data:`~mlsmear.context.SMEAR_ORDER`. A jet model with object context (:mod:`mlsmear.jet_context`)
gets the claims of the sampled electrons, muons and photons
(:func:`~mlsmear.jet_context.smeared_claims`); a MET model with object context
(:mod:`mlsmear.met_context`) the recoil D of the sampled jets and muons
(:func:`~mlsmear.met_context.smeared_recoil`), and smears MET around GenMET + D (both through
:func:`~mlsmear.context.smeared_context`). The photons of the electrons the electron model lost
(:mod:`mlsmear.electron_photons`) join the photons. Every draw stays
a counter-based function of (seed, event, object, quantity, draw), so the objects are the same as
those of separate ``smear()`` calls with the same seed and inputs, and the result does not depend
on how the events are split into chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import awkward as ak

from .context import (
    context_kinds,
    followed_outcome,
    joining_kinds,
    needed_kinds,
    smeared_context,
)
from .electron_photons import joined
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
    """Reco collections by kind of plain-array truth events (e/μ/γ, jets, then MET).

    Arguments:
        truth: truth collections by kind (jagged records; ``met`` one record per event with
            ``pt``, ``phi`` = GenMET, ``ht``, ``njet``), all of the same events.
        bundle: the detector's models; kinds: the kinds to return (default: every kind of
            ``truth`` the bundle has).
        seed, event_id, device, sample_id: as for :func:`mlsmear.smear`.

    A model with object context needs the models and truth of the kinds it follows (MET: jets
    and muons; jets: electrons, muons and photons): they are smeared even when not asked for (the
    same objects ``smear`` gives). ``ValueError`` when one is missing. With a
    ``photon_from_electron`` model, the photons include those of the lost electrons
    (:mod:`mlsmear.electron_photons`: field ``from_electron``, ``truth_index`` then the
    electron's), and the electrons' truth is needed.
    """
    wanted = [k for k in (kinds or truth) if k in bundle]
    needed = needed_kinds(bundle, wanted)
    missing = sorted({bundle[k].spec.truth_kind for k in needed} - set(truth))
    if missing:
        raise ValueError(
            f"the models follow the sampled {missing} too: give their truth collections "
            "(empty ones where the events have none)"
        )
    options = dict(seed=seed, event_id=event_id, device=device, sample_id=sample_id)
    reco: dict[str, ak.Array] = {}
    for kind in needed:
        spec = bundle[kind].spec
        record = truth[spec.truth_kind]
        if context_kinds(bundle[kind]):
            for name, values in smeared_context(kind, truth, reco).items():
                record = ak.with_field(record, values, name)
        reco[kind] = smear(record, model=bundle[kind], kind=kind, **options)
        reco[kind] = followed_outcome(kind, reco[kind], reco)
    out = {}
    for kind in wanted:
        out[kind] = reco[kind]
        for joiner in joining_kinds(bundle, kind):  # photons from lost electrons
            out[kind] = joined(out[kind], reco[joiner])
    return out
