"""Pairs tables as training columns: truth/reco/matched columns and default inputs of a kind,
whole events (per-event rows, the teacher's object recoil and jet claims, tag columns).

The pairs format stores one table per object kind (:mod:`mlsmear.pairs`); events are tied
together by their ``event`` identity. The MET table has one row per event, so it defines the
events; every object row is placed in it by its identity (:func:`recoil_by_event`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from .flavour_neighbours import flavour_neighbours
from .jet_context import CLAIMING_KINDS, object_claims
from .kinds import kind_spec
from .met_context import RECOIL_FIELDS, ObjectTerms, object_recoil, reference_truth
from .sibling_context import sibling_ranks, sibling_sums

__all__ = [
    "EXTRA_INPUTS", "TAG_COLUMNS", "claims_by_event", "columns_from_pairs", "default_inputs",
    "recoil_by_event", "tag_columns", "teacher_claims", "teacher_recoil", "teacher_siblings",
    "training_columns",
]

#: Per tag: pairs columns holding the teacher's tag, first found wins, with the tag's type.
TAG_COLUMNS = {
    "btag": (("reco_btagDeepFlavB", "discriminant"), ("reco_btag", "decision")),
    "ctag": (("reco_btagDeepFlavCvL", "discriminant"), ("reco_ctag", "decision")),
}


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def _placed(
    events: np.ndarray, objects: Mapping[str, ObjectTerms]
) -> dict[str, ObjectTerms]:
    """``objects`` whose ``event`` holds identities, re-expressed with rows of the sorted unique
    identities ``events``; objects of other events are left out."""
    placed = {}
    for kind, t in objects.items():
        rows = np.searchsorted(events, t.event).clip(max=max(events.size - 1, 0))
        present = events[rows] == t.event if events.size else np.zeros(rows.size, bool)
        calo = None if t.calo_fraction is None else t.calo_fraction[present]
        placed[kind] = ObjectTerms(
            rows[present], t.truth_pt[present], t.truth_eta[present], t.truth_phi[present],
            t.reco_pt[present], t.reco_phi[present], t.kept[present], calo,
        )
    return placed


def recoil_by_event(
    met_events: np.ndarray, objects: Mapping[str, ObjectTerms]
) -> tuple[np.ndarray, np.ndarray]:
    """``(dmet_px, dmet_py)`` (GeV) of each event of ``met_events`` (identities, any order) from
    its jets and muons (:func:`mlsmear.met_context.object_recoil`).

    ``objects``: kind → :class:`~mlsmear.met_context.ObjectTerms` whose ``event`` holds event
    *identities*; objects of events outside ``met_events`` are left out.
    """
    order = np.argsort(met_events, kind="stable")
    events = met_events[order]
    terms = _placed(events, objects)
    dx, dy = object_recoil(events.size, jets=terms.get("jet"), muons=terms.get("muon"))
    out_x, out_y = np.empty_like(dx), np.empty_like(dy)
    out_x[order], out_y[order] = dx, dy
    return out_x, out_y


def claims_by_event(
    jet_event: np.ndarray, jet_pt: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray,
    objects: Mapping[str, ObjectTerms],
) -> dict[str, np.ndarray]:
    """``claimed_em`` and ``claimed_muon`` (:func:`mlsmear.jet_context.object_claims`) of jets
    given by event *identity* (``jet_event``) and kinematics (GeV), from e/μ/γ whose ``event``
    holds identities too."""
    events, rows = np.unique(jet_event, return_inverse=True)
    return object_claims(events.size, rows, jet_pt, jet_eta, jet_phi, _placed(events, objects))


def _table_terms(table: pa.Table, kind: str) -> ObjectTerms:
    """The teacher's objects of one kind's pairs table (``event`` = identities; jets: the
    calorimeter share 1 − ``truth_muon_frac`` when the table has it)."""
    calo = None
    if kind == "jet" and "truth_muon_frac" in table.column_names:
        calo = 1.0 - _column(table, "truth_muon_frac").astype(np.float64)
    return ObjectTerms(
        event=_column(table, "event"),
        truth_pt=_column(table, "truth_pt").astype(np.float64),
        truth_eta=_column(table, "truth_eta").astype(np.float64),
        truth_phi=_column(table, "truth_phi").astype(np.float64),
        reco_pt=_column(table, "reco_pt").astype(np.float64),
        reco_phi=_column(table, "reco_phi").astype(np.float64),
        kept=_column(table, "matched").astype(bool),
        calo_fraction=calo,
    )


def teacher_recoil(tables: Mapping[str, pa.Table]) -> tuple[np.ndarray, np.ndarray]:
    """``(dmet_px, dmet_py)`` (GeV) of every row of ``tables["met"]`` from the teacher's
    reconstructed jets and muons (:func:`recoil_by_event`)."""
    objects = {kind: _table_terms(tables[kind], kind) for kind in ("jet", "muon") if kind in tables}
    return recoil_by_event(_column(tables["met"], "event"), objects)


def teacher_claims(tables: Mapping[str, pa.Table]) -> dict[str, np.ndarray]:
    """``claimed_em`` and ``claimed_muon`` of every row of ``tables["jet"]`` from the teacher's
    reconstructed electrons, muons and photons (:func:`claims_by_event`); ``ValueError`` when
    the tables lack one of those kinds."""
    missing = [k for k in CLAIMING_KINDS if k not in tables]
    if missing:
        raise ValueError(f"jets that follow the reconstructed e/γ/μ need {missing} pairs too")
    jets = tables["jet"]
    objects = {kind: _table_terms(tables[kind], kind) for kind in CLAIMING_KINDS}
    pt, eta, phi = (_column(jets, f"truth_{c}").astype(np.float64) for c in ("pt", "eta", "phi"))
    return claims_by_event(_column(jets, "event"), pt, eta, phi, objects)


def tag_columns(table: pa.Table) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The teacher's tags in a jet pairs table: values by tag (float, NaN where not matched)
    and each tag's type (``decision`` or ``discriminant``)."""
    names = set(table.column_names)
    matched = _column(table, "matched").astype(bool)
    values, types = {}, {}
    for tag, candidates in TAG_COLUMNS.items():
        for column, tag_type in candidates:
            if column in names:
                v = _column(table, column).astype(np.float64)
                values[tag] = np.where(matched, v, np.nan)
                types[tag] = tag_type
                break
    return values, types


_PROMPT_ISOLATION = (
    ("truth_jet_iso", "jet_iso", "quantile"),
    ("truth_nb_jet_dr", "nb_jet_dr", "quantile"),
    ("truth_nb_jet_ratio", "nb_jet_ratio", "quantile"),
    ("truth_em_iso", "em_iso", "quantile"),
    ("truth_muon_iso", "muon_iso", "quantile"),
)
#: Extra pairs columns used as network inputs when present: (column, field, transform); column
#: ``computed``: computed from the table where its sources are (the jets' flavoured neighbours).
EXTRA_INPUTS = {
    "jet": (
        ("truth_hadronFlavour", "hadronFlavour", "onehot"),
        ("truth_muon_frac", "muon_frac", "quantile"),
        ("truth_em_frac", "em_frac", "quantile"),
        ("truth_dr_nearest", "dr_nearest", "quantile"),
        ("truth_nb_pt_ratio", "nb_pt_ratio", "quantile"),
        ("truth_activity", "activity", "quantile"),
        ("computed", "dr_b", "quantile"),  # mlsmear.flavour_neighbours
        ("computed", "dr_c", "quantile"),
    ),
    "met": (("genmet", "genmet", "quantile"), ("dmet", "dmet", "quantile")),
    # an electron's reco energy holds the FSR photons in its calorimeter cell (Delphes, CMS)
    "electron": (*_PROMPT_ISOLATION, ("truth_dressing", "dressing", "quantile")),
    **dict.fromkeys(("muon", "photon"), _PROMPT_ISOLATION),
    # the shower of a lost electron sits where the field bent its track: φ shifts with the charge
    "photon_from_electron": (*_PROMPT_ISOLATION, ("truth_charge", "charge", "onehot")),
}


def columns_from_pairs(
    kind: str, table: pa.Table, recoil: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Flat truth columns (by field), reco columns (by quantity; jets: also their tags, see
    :func:`tag_columns`) and the matched flags. For MET, ``recoil`` (the
    teacher's object recoil per row, :func:`teacher_recoil`) makes the
    truth columns those of a MET model with object context
    (:func:`mlsmear.met_context.reference_truth`)."""
    spec = kind_spec(kind)
    fields = [f for f, _ in spec.inputs] + list(spec.quantities)
    fields += [field for _, field, _ in EXTRA_INPUTS.get(kind, ())]
    names = set(table.column_names)
    truth = {
        f: table.column(f"truth_{f}").to_numpy().astype(np.float64)
        for f in dict.fromkeys(fields) if f"truth_{f}" in names
    }
    reco = {
        q: table.column(f"reco_{q}").to_numpy(zero_copy_only=False).astype(np.float64)
        for q in spec.quantities
    }
    if "matched" not in names:  # MET: always reconstructed
        if recoil is not None:
            truth = reference_truth({**truth, **dict(zip(RECOIL_FIELDS, recoil, strict=True))})
        return truth, reco, np.ones(len(table), dtype=bool)
    if kind == "jet":
        reco.update(tag_columns(table)[0])
        if "hadronFlavour" in truth:
            truth.update(flavour_neighbours(
                _column(table, "event"), truth["eta"], truth["phi"], truth["hadronFlavour"]
            ))
    return truth, reco, table.column("matched").to_numpy().astype(bool)


def teacher_siblings(table: pa.Table) -> dict[str, np.ndarray]:
    """``sib_kept``, ``sib_lost`` and ``sib_dr`` (:mod:`mlsmear.sibling_context`) of every row of
    one kind's pairs table, from the teacher's outcome (``matched``) of the other rows of its
    event."""
    group = np.unique(_column(table, "event"), return_inverse=True)[1].ravel()
    pt, eta, phi = (_column(table, f"truth_{c}").astype(np.float64) for c in ("pt", "eta", "phi"))
    matched = _column(table, "matched").astype(bool)
    return sibling_sums(group, pt, eta, phi, sibling_ranks(group, pt), matched)


def training_columns(
    kind: str, tables: Mapping[str, pa.Table], table: pa.Table, *, follow_objects: bool = False,
    follow_siblings: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """:func:`columns_from_pairs` of ``table`` (rows of ``tables[kind]``); with
    ``follow_objects`` the truth columns also hold what a model with object context reads of the
    teacher's objects in ``tables``: MET the recoil (:func:`teacher_recoil`), jets the claims
    (:func:`teacher_claims`); with ``follow_siblings`` the siblings' outcome
    (:func:`teacher_siblings`)."""
    follow_met = follow_objects and kind == "met"
    if follow_met:
        missing = sorted({"jet", "muon"} - set(tables))
        if missing:
            raise ValueError(f"MET that follows the objects needs {missing} pairs too")
    recoil = teacher_recoil({**tables, "met": table}) if follow_met else None
    truth, reco, matched = columns_from_pairs(kind, table, recoil)
    if follow_objects and kind == "jet":
        truth.update(teacher_claims({**tables, "jet": table}))
    if follow_siblings:
        truth.update(teacher_siblings(table))
    return truth, reco, matched


def default_inputs(kind: str, truth: Mapping[str, np.ndarray]) -> list[tuple[str, str]]:
    """The kind's default inputs plus the extras the pairs carry (e.g. jet hadron flavour)."""
    extras = [(f, t) for _, f, t in EXTRA_INPUTS.get(kind, ()) if f in truth]
    return [*kind_spec(kind).inputs, *extras]
