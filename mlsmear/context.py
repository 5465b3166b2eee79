"""Which sampled objects a model follows, and the order that makes them available.

Three kinds of model read other objects' *sampled* reco: a MET model with object context follows
the jets and muons (:mod:`mlsmear.met_context`), a jet model with object context the electrons,
muons and photons (:mod:`mlsmear.jet_context`), and the photons from lost electrons the electrons
(:mod:`mlsmear.electron_photons`; their photons join the photon collection). Smearing a whole
event therefore goes e, μ, γ, photons from electrons, then jets, then MET (:data:`SMEAR_ORDER`);
:func:`needed_kinds` closes a request over these dependencies.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import awkward as ak
import numpy as np

from .electron_photons import KIND as PHOTON_FROM_ELECTRON
from .electron_photons import from_lost
from .jet_context import CLAIM_FIELDS, CLAIMING_KINDS, smeared_claims, uses_claims
from .kinds import kind_spec
from .met_context import RECOIL_FIELDS, smeared_recoil, uses_objects
from .model import KindModel

__all__ = [
    "SAMPLED_FIELDS", "SMEAR_ORDER", "context_fields", "context_kinds", "joining_kinds",
    "followed_outcome", "needed_kinds", "smeared_context",
]

#: Kinds in the order whole events are smeared: each after the kinds it may follow.
SMEAR_ORDER = ("electron", "muon", "photon", PHOTON_FROM_ELECTRON, "jet", "met")
#: Truth fields that carry other objects' *sampled* reco (MET's recoil, the jets' claims): not a
#: property of the truth object itself.
SAMPLED_FIELDS = (*RECOIL_FIELDS, *CLAIM_FIELDS)


def context_kinds(model: KindModel) -> tuple[str, ...]:
    """The kinds whose sampled objects ``model`` reads (empty for a model of truth alone)."""
    if model.kind == "met" and uses_objects(model.card):
        return ("jet", "muon")
    if model.kind == "jet" and uses_claims(model.input_fields):
        return CLAIMING_KINDS
    if model.kind == PHOTON_FROM_ELECTRON:
        return ("electron",)
    return ()


def followed_outcome(kind: str, smeared: ak.Array, reco: Mapping[str, ak.Array]) -> ak.Array:
    """The :func:`mlsmear.smear` output ``smeared`` of ``kind`` after the outcome of the kinds it
    follows (``reco``, their outputs): the photons from electrons keep those of the lost
    electrons only (:func:`~mlsmear.electron_photons.from_lost`); other kinds as they are."""
    return from_lost(smeared, reco["electron"]) if kind == PHOTON_FROM_ELECTRON else smeared


def joining_kinds(kinds: Collection[str], kind: str) -> tuple[str, ...]:
    """The kinds among ``kinds`` (names, or models by kind) whose objects join the ``kind``
    collection (photons: those from lost electrons), in :data:`SMEAR_ORDER`."""
    return tuple(k for k in SMEAR_ORDER if k in kinds and kind_spec(k).joins == kind)


def context_fields(model: KindModel) -> tuple[str, ...]:
    """The truth fields that carry what ``model`` reads of the sampled objects (MET: the recoil
    D; jets: the claims), empty for a model of truth alone and for the photons from electrons
    (which follow the electrons' outcome, not a field)."""
    if model.kind == "met" and context_kinds(model):
        return RECOIL_FIELDS
    return CLAIM_FIELDS if model.kind == "jet" and context_kinds(model) else ()


def smeared_context(
    kind: str, truth: Mapping[str, ak.Array], reco: Mapping[str, ak.Array]
) -> dict[str, ak.Array | np.ndarray]:
    """What a ``kind`` model with object context reads of the sampled objects, as fields for its
    truth record: MET the recoil D (:func:`~mlsmear.met_context.smeared_recoil`), jets the claims
    (:func:`~mlsmear.jet_context.smeared_claims`); none for other kinds.

    Arguments:
        truth: jagged plain truth collections by kind (the kinds followed, and ``jet`` for jets).
        reco: the :func:`mlsmear.smear` output of the kinds followed.
    """
    if kind == "met":
        return dict(zip(RECOIL_FIELDS, smeared_recoil(truth, reco), strict=True))
    return dict(smeared_claims(truth, reco)) if kind == "jet" else {}


def needed_kinds(models: Mapping[str, KindModel], wanted: Iterable[str]) -> list[str]:
    """``wanted``, the kinds joining them (:func:`joining_kinds`) and every kind those follow,
    directly or not, in :data:`SMEAR_ORDER`.

    ``ValueError`` naming a followed kind ``models`` has no model for.
    """
    wanted = list(wanted)
    needed, todo = set(), [*wanted, *(j for k in wanted for j in joining_kinds(models, k))]
    while todo:
        kind = todo.pop()
        if kind in needed:
            continue
        if kind not in models:
            raise ValueError(f"no {kind} model, and it is needed (followed by another model)")
        needed.add(kind)
        todo += context_kinds(models[kind])
    return [k for k in SMEAR_ORDER if k in needed]
