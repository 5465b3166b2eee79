"""Jets that follow the sampled leptons and photons: the detector's overlap removal.

A detector that reconstructs an isolated electron, photon or muon does not also make a jet of it:
Delphes' ``UniqueObjectFinder`` drops every jet that shares a particle with one (the CMS card
lists photons, electrons and muons before jets), and analyses remove jets next to their leptons.
Whether a GenJet becomes a reco jet therefore depends on whether its prompt e/γ/μ were
*reconstructed*: in the Delphes CMS ttbar hold-out, a GenJet above 30 GeV around a truth electron
(ΔR < 0.4) is reconstructed in 0 % of the events where Delphes also reconstructs that electron,
in 82 % where it does not. Sampled one object at a time the two are independent, and events keep
both the lepton and the jet made of it.

A jet model with object context therefore reads, per GenJet,

    claimed_em   = Σ pT(reco) of the reconstructed e and γ within ΔR < 0.4, over pT(GenJet)
    claimed_muon = the same for the reconstructed muons

(ΔR from the objects' truth direction to the GenJet axis; 0 when there are none). "Reconstructed"
is the teacher's reco in training (the pairs' matched e/γ/μ) and the sampled objects when
smearing, so electrons, muons and photons are smeared before the jets. The same
:func:`object_claims` serves training (:func:`mlsmear.event_pairs.teacher_claims`), validation
and smearing (:func:`smeared_claims`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import awkward as ak
import numpy as np

from .met_context import ObjectTerms, object_terms
from .physics.collection import Collection
from .physics.isolation import cone_sums

__all__ = [
    "CLAIM_DR", "CLAIM_FIELDS", "CLAIM_KINDS", "CLAIMING_KINDS", "object_claims",
    "smeared_claims", "uses_claims",
]

#: Jet input → the kinds of reconstructed objects it sums.
CLAIM_KINDS = {"claimed_em": ("electron", "photon"), "claimed_muon": ("muon",)}
CLAIM_FIELDS = tuple(CLAIM_KINDS)
#: Every kind a jet model with object context follows, in the order they are smeared.
CLAIMING_KINDS = ("electron", "muon", "photon")
#: Cone (ΔR) around the GenJet axis.
CLAIM_DR = 0.4


def uses_claims(input_fields: Iterable[str]) -> bool:
    """True for a jet model that reads the claims of the reconstructed e/γ/μ."""
    return any(f in CLAIM_FIELDS for f in input_fields)


def _by_event(
    n_events: int, event: np.ndarray, columns: Mapping[str, np.ndarray]
) -> tuple[Collection, np.ndarray]:
    """Rows grouped by event (a :class:`Collection`) and the order that grouped them."""
    order = np.argsort(event, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(event, minlength=n_events))])
    grouped = {k: np.asarray(v, np.float64)[order] for k, v in columns.items()}
    return Collection(offsets, grouped), order


def object_claims(
    n_events: int,
    jet_event: np.ndarray,
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    objects: Mapping[str, ObjectTerms],
) -> dict[str, np.ndarray]:
    """``claimed_em`` and ``claimed_muon`` of each GenJet (module docstring).

    Arguments:
        n_events: number of events; jet_event: row (0 … n_events − 1) of each jet's event.
        jet_pt (GeV), jet_eta, jet_phi: the GenJets.
        objects: electrons, muons and photons by kind (:class:`~mlsmear.met_context.ObjectTerms`
            with event rows; ``kept`` = reconstructed, ``reco_pt`` their reco pT); a kind left
            out counts as none reconstructed.
    """
    jet_event = np.asarray(jet_event, dtype=np.int64)
    jets, order = _by_event(n_events, jet_event, {"pt": jet_pt, "eta": jet_eta, "phi": jet_phi})
    out = {}
    for name, kinds in CLAIM_KINDS.items():
        total = np.zeros(len(jets))
        for kind in kinds:
            terms = objects.get(kind)
            if terms is None or terms.event.size == 0:
                continue
            kept = np.asarray(terms.kept, dtype=bool)
            columns = {"pt": terms.reco_pt, "eta": terms.truth_eta, "phi": terms.truth_phi}
            claimed, _ = _by_event(
                n_events, np.asarray(terms.event, np.int64)[kept],
                {k: np.asarray(v)[kept] for k, v in columns.items()},
            )
            total += cone_sums(jets, claimed, dr_max=CLAIM_DR, pt_min=0.0)
        values = np.empty(len(jets))
        values[order] = total / jets["pt"]
        out[name] = values
    return out


def smeared_claims(
    truth: Mapping[str, ak.Array], reco: Mapping[str, ak.Array]
) -> dict[str, ak.Array]:
    """``claimed_em`` and ``claimed_muon`` of the truth jets (jagged, like ``truth["jet"]``) from
    the sampled electrons, muons and photons.

    Arguments:
        truth: jagged plain truth collections by kind (``jet`` and those of
            :data:`CLAIMING_KINDS` there are), records with ``pt`` (GeV), ``eta``, ``phi``.
        reco: the :func:`mlsmear.smear` output of those e/μ/γ kinds (with ``truth_index``),
            after thresholds.
    """
    jets = Collection.from_awkward(truth["jet"], ["pt", "eta", "phi"])
    flat = {f: jets[f].astype(np.float64) for f in jets.names}
    counts = jets.counts
    terms = {
        kind: object_terms(truth[kind], reco[kind])
        for kind in CLAIMING_KINDS if kind in truth and kind in reco
    }
    claims = object_claims(
        jets.n_events, jets.event_index, flat["pt"], flat["eta"], flat["phi"], terms,
    )
    return {name: ak.unflatten(values, counts) for name, values in claims.items()}
