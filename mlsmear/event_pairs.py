"""Whole events from pairs tables: per-event rows, the teacher's object recoil, tag columns.

The pairs format stores one table per object kind (:mod:`mlsmear.pairs`); events are tied
together by their ``event`` identity. The MET table has one row per event, so it defines the
events; every object row is placed in it with :func:`event_rows`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from .met_context import RecoilTerms, object_recoil

__all__ = ["TAG_COLUMNS", "event_rows", "recoil_terms", "tag_columns", "teacher_recoil"]

#: Per tag: pairs columns holding the teacher's tag, first found wins, with the tag's type.
TAG_COLUMNS = {
    "btag": (("reco_btagDeepFlavB", "discriminant"), ("reco_btag", "decision")),
    "ctag": (("reco_btagDeepFlavCvL", "discriminant"), ("reco_ctag", "decision")),
}


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def event_rows(events: np.ndarray, object_events: np.ndarray) -> np.ndarray:
    """Row in ``events`` (sorted unique identities) of each object's event; ``ValueError`` when
    an object's event is not among them."""
    rows = np.searchsorted(events, object_events)
    inside = rows < events.size
    if not np.all(inside) or not np.array_equal(events[rows], object_events):
        raise ValueError("pairs tables disagree: object rows of events the MET table lacks")
    return rows


def recoil_terms(table: pa.Table, events: np.ndarray, kind: str) -> RecoilTerms:
    """The teacher's :class:`~mlsmear.met_context.RecoilTerms` of one kind's pairs table (rows
    of events outside ``events``, sorted unique identities, are left out)."""
    object_events = _column(table, "event")
    rows = np.searchsorted(events, object_events).clip(max=max(events.size - 1, 0))
    present = events[rows] == object_events if events.size else np.zeros(rows.size, bool)
    table = table.filter(pa.array(present))
    names = set(table.column_names)
    calo = None
    if kind == "jet" and "truth_muon_frac" in names:
        calo = 1.0 - _column(table, "truth_muon_frac").astype(np.float64)
    return RecoilTerms(
        event=event_rows(events, _column(table, "event")),
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
    reconstructed jets and muons (:func:`mlsmear.met_context.object_recoil`)."""
    met_events = _column(tables["met"], "event")
    order = np.argsort(met_events, kind="stable")
    events = met_events[order]
    terms = {
        kind: recoil_terms(tables[kind], events, kind) for kind in ("jet", "muon") if kind in tables
    }
    dx, dy = object_recoil(events.size, jets=terms.get("jet"), muons=terms.get("muon"))
    out_x, out_y = np.empty_like(dx), np.empty_like(dy)
    out_x[order], out_y[order] = dx, dy
    return out_x, out_y


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
