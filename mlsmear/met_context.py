"""MET that follows the objects: the reference vector a MET model smears around.

A detector's missing ET is minus the vector sum of everything it measured. Relative to the
generator's GenMET (the neutrinos), it moves by minus the mismeasurement of every visible object:
a jet measured low makes MET along the jet, and a muon the tracker never sees (beyond its
acceptance) becomes MET. A MET model with *object context* therefore smears not around GenMET but
around the reference

    P = GenMET + D,   D = Σ_jets kept (c · truth − reco) + Σ_muons kept (truth − reco)
                          + Σ_muons with |η| > η_tracker truth,

(vectors in the transverse plane, GeV), where "kept" are the objects reconstructed above the
models' thresholds (the teacher's matched objects when training, the sampled ones when smearing),
c = 1 − ``muon_frac`` is the calorimeter share of a GenJet (its prompt muons are measured by the
tracker, not by the jet), and η_tracker = :data:`MUON_TRACKER_ETA`: muons inside the tracker
leave their track in MET whether identified or not, so only those beyond it are invisible.
Electrons and photons are inside the jets that the calorimeter makes of them. The network then
learns the remaining response around P from |P|, HT, N_jet, |GenMET| and |D|.

The same :func:`object_recoil` serves training (teacher reco from pairs), validation and smearing
(sampled objects), so the definition is written once. Inputs of a MET record: ``pt``, ``phi``
(GenMET), ``ht``, ``njet`` and ``dmet_px``, ``dmet_py`` (the components of D, GeV);
:func:`reference_truth` turns them into the model's truth columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import awkward as ak
import numpy as np

from .physics.collection import Collection

__all__ = [
    "MUON_TRACKER_ETA",
    "RECOIL_FIELDS",
    "REFERENCE",
    "ObjectTerms",
    "derived_names",
    "object_recoil",
    "object_terms",
    "reference_truth",
    "smeared_recoil",
    "uses_objects",
]

#: |η| beyond which a muon leaves no track, hence no trace in MET (ATLAS/CMS trackers: 2.5).
MUON_TRACKER_ETA = 2.5
#: Model-card value of ``reference`` for MET models with object context.
REFERENCE = "genmet+objects"
#: Fields of a MET record that carry the object recoil D (GeV).
RECOIL_FIELDS = ("dmet_px", "dmet_py")
#: Derived network inputs of such a model: |GenMET| and |D| (GeV).
_DERIVED = ("genmet", "dmet")


@dataclass(frozen=True)
class ObjectTerms:
    """Flat objects of one kind entering :func:`object_recoil` (and the jets' claims,
    :func:`mlsmear.jet_context.object_claims`).

    Arguments:
        event: row of each object's event (0 … n_events − 1).
        truth_pt (GeV), truth_eta, truth_phi: truth kinematics.
        reco_pt (GeV), reco_phi: reco kinematics (ignored where not ``kept``; NaN allowed).
        kept: reconstructed above the model's thresholds.
        calo_fraction: share of the truth pT the calorimeter measures (jets: 1 − muon_frac);
            None means 1.
    """

    event: np.ndarray
    truth_pt: np.ndarray
    truth_eta: np.ndarray
    truth_phi: np.ndarray
    reco_pt: np.ndarray
    reco_phi: np.ndarray
    kept: np.ndarray
    calo_fraction: np.ndarray | None = None


def _sum(event: np.ndarray, pt: np.ndarray, phi: np.ndarray, n_events: int) -> np.ndarray:
    px = np.bincount(event, weights=pt * np.cos(phi), minlength=n_events)
    py = np.bincount(event, weights=pt * np.sin(phi), minlength=n_events)
    return np.stack([px, py])


def object_recoil(
    n_events: int, *, jets: ObjectTerms | None = None, muons: ObjectTerms | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(dmet_px, dmet_py)`` per event: the vector D of the module docstring (GeV)."""
    total = np.zeros((2, n_events))
    for terms, is_muon in ((jets, False), (muons, True)):
        if terms is None or terms.event.size == 0:
            continue
        event = np.asarray(terms.event, dtype=np.int64)
        kept = np.asarray(terms.kept, dtype=bool)
        scale = 1.0 if terms.calo_fraction is None else np.clip(terms.calo_fraction, 0.0, 1.0)
        truth_pt = np.asarray(terms.truth_pt, dtype=np.float64) * scale
        total += _sum(event[kept], truth_pt[kept], terms.truth_phi[kept], n_events)
        total -= _sum(event[kept], terms.reco_pt[kept], terms.reco_phi[kept], n_events)
        if is_muon:
            unseen = ~kept & (np.abs(terms.truth_eta) > MUON_TRACKER_ETA)
            total += _sum(event[unseen], terms.truth_pt[unseen], terms.truth_phi[unseen], n_events)
    return total[0], total[1]


def uses_objects(card: Mapping) -> bool:
    """True for a MET model card whose reference is GenMET plus the object recoil."""
    return card.get("reference") == REFERENCE


def reference_truth(truth: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A MET model's truth columns from a MET record (``pt``, ``phi`` = GenMET, ``dmet_px``,
    ``dmet_py`` = D, GeV, and any others): ``pt``, ``phi`` of P = GenMET + D, ``genmet`` =
    |GenMET| and ``dmet`` = |D|; other columns pass through."""
    missing = [f for f in ("pt", "phi", *RECOIL_FIELDS) if f not in truth]
    if missing:
        raise ValueError(f"MET record lacks {missing} (the object recoil D, GeV)")
    dx, dy = (np.asarray(truth[f], dtype=np.float64) for f in RECOIL_FIELDS)
    genmet = np.asarray(truth["pt"], dtype=np.float64)
    px = genmet * np.cos(truth["phi"]) + dx
    py = genmet * np.sin(truth["phi"]) + dy
    out = dict(truth)
    out.update(pt=np.hypot(px, py), phi=np.arctan2(py, px), genmet=genmet, dmet=np.hypot(dx, dy))
    return out


def derived_names() -> tuple[str, ...]:
    """Network inputs :func:`reference_truth` adds (not fields of the MET record)."""
    return _DERIVED


def object_terms(truth: ak.Array, reco: ak.Array, *, calo_field: str | None = None) -> ObjectTerms:
    """The terms of one kind: every truth object (jagged plain records, ``pt`` GeV, ``eta``,
    ``phi``), kept where an object of ``reco`` (the :func:`mlsmear.smear` output of it, with
    ``truth_index``) points at it; ``calo_field``: the truth field whose complement is the
    calorimeter share (None: all of it)."""
    calo_fields = [calo_field] if calo_field is not None and calo_field in ak.fields(truth) else []
    objects = Collection.from_awkward(truth, ["pt", "eta", "phi", *calo_fields])
    flat = {f: objects[f].astype(np.float64) for f in objects.names}
    found = Collection.from_awkward(reco, ["truth_index", "pt", "phi"])
    rows = np.repeat(objects.offsets[:-1], found.counts) + found["truth_index"].astype(np.int64)
    kept = np.zeros(len(objects), dtype=bool)
    kept[rows] = True
    reco_pt, reco_phi = np.full(kept.size, np.nan), np.full(kept.size, np.nan)
    reco_pt[rows] = found["pt"]
    reco_phi[rows] = found["phi"]
    calo = 1.0 - flat[calo_fields[0]] if calo_fields else None
    return ObjectTerms(
        objects.event_index, flat["pt"], flat["eta"], flat["phi"], reco_pt, reco_phi, kept,
        calo_fraction=calo,
    )


def smeared_recoil(
    truth: Mapping[str, ak.Array], reco: Mapping[str, ak.Array]
) -> tuple[np.ndarray, np.ndarray]:
    """``(dmet_px, dmet_py)`` per event (GeV) of the sampled jets and muons.

    Arguments:
        truth: jagged truth collections by kind (``jet`` with ``muon_frac`` when it has one,
            ``muon``), plain records with ``pt`` (GeV), ``eta``, ``phi``.
        reco: the :func:`mlsmear.smear` output of the same kinds (plain records with
            ``truth_index``), after thresholds.
    """
    n_events = len(next(iter(truth.values())))
    terms = {
        kind: object_terms(
            truth[kind], reco[kind], calo_field="muon_frac" if kind == "jet" else None
        )
        for kind in ("jet", "muon") if kind in truth and kind in reco
    }
    return object_recoil(n_events, jets=terms.get("jet"), muons=terms.get("muon"))
