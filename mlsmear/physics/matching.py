"""Truth <-> reco matching (unique closest pairs within a Delta R cone) and pairs tables."""

from __future__ import annotations

import numba
import numpy as np

from ..pairs import RECO_ONLY, assemble_pairs
from .collection import Collection
from .kinematics import delta_r2

__all__ = ["MATCH_DR", "PAIR_COLUMNS", "match_unique", "pair_tables"]

#: Matching cone per object kind (DESIGN.md section 5).
MATCH_DR = {"jet": 0.2, "electron": 0.1, "muon": 0.1, "photon": 0.1}


@numba.njit(cache=True)
def _match(t_off, t_eta, t_phi, r_off, r_eta, r_phi, dr_max):
    match = np.full(len(t_eta), -1, dtype=np.int64)
    dr2_max = dr_max * dr_max
    for event in range(len(t_off) - 1):
        t0, t1, r0, r1 = t_off[event], t_off[event + 1], r_off[event], r_off[event + 1]
        n_pairs = 0
        dr2 = np.empty((t1 - t0) * (r1 - r0))
        ti = np.empty(len(dr2), dtype=np.int64)
        ri = np.empty(len(dr2), dtype=np.int64)
        for t in range(t0, t1):
            for r in range(r0, r1):
                d = delta_r2(t_eta[t], t_phi[t], r_eta[r], r_phi[r])
                if d < dr2_max:
                    dr2[n_pairs], ti[n_pairs], ri[n_pairs] = d, t, r
                    n_pairs += 1
        reco_used = np.zeros(r1 - r0, dtype=np.bool_)
        for k in np.argsort(dr2[:n_pairs], kind="mergesort"):
            t, r = ti[k], ri[k]
            if match[t] < 0 and not reco_used[r - r0]:
                match[t] = r
                reco_used[r - r0] = True
    return match


def match_unique(truth: Collection, reco: Collection, *, dr_max: float) -> np.ndarray:
    """For each truth row, the row of its reco partner in ``reco`` or -1 (int64).

    Pairs are taken in increasing Delta R, each truth and each reco object at most once, and
    only with Delta R < ``dr_max``; both collections must hold the same events.
    """
    if truth.n_events != reco.n_events:
        raise ValueError(f"truth has {truth.n_events} events, reco {reco.n_events}")
    return _match(
        truth.offsets, truth["eta"], truth["phi"], reco.offsets, reco["eta"], reco["phi"], dr_max
    )


#: Columns of each kind carried into the pairs (truth columns, reco columns), when present.
PAIR_COLUMNS = {
    "jet": (
        (
            "pt", "eta", "phi", "mass", "hadronFlavour", "dr_nearest", "nb_pt_ratio", "activity",
            "muon_frac", "em_frac",
        ),
        ("pt", "eta", "phi", "mass", "btag", "btagDeepFlavB"),
    ),
    **dict.fromkeys(
        ("electron", "muon", "photon"),
        (
            (
                "pt", "eta", "phi", "mass", "charge", "pdgId", "iso", "jet_iso", "em_iso",
                "muon_iso",
            ),
            ("pt", "eta", "phi", "mass", "charge"),
        ),
    ),
}


def pair_tables(
    event_ids: np.ndarray,
    truth: dict[str, Collection],
    reco: dict[str, Collection],
    *,
    matches: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Pairs columns (see :mod:`mlsmear.pairs`) of every kind present in ``truth``, and of the
    reco objects without a truth partner (tables ``<kind>_reco_only``).

    Arguments:
        event_ids: int64 identity of each event of the batch.
        truth, reco: kind -> collection; ``met`` has one row per event with truth columns
            pt, phi, ht, njet and reco columns pt, phi.
        matches: kind -> reco row of each truth row (-1: not reconstructed), for sources that
            store the truth link; other kinds are matched with :func:`match_unique` and
            :data:`MATCH_DR`.
    """
    event_ids = np.asarray(event_ids, dtype=np.int64)
    tables = {}
    for kind, objects in truth.items():
        if kind == "met":
            continue
        match = (matches or {}).get(kind)
        if match is None:
            match = match_unique(objects, reco[kind], dr_max=MATCH_DR[kind])
        truth_names, reco_names = PAIR_COLUMNS[kind]
        reco_columns = {name: reco[kind][name] for name in reco_names if name in reco[kind]}
        tables[kind] = assemble_pairs(
            event_ids[objects.event_index],
            {name: objects[name] for name in truth_names if name in objects},
            reco_columns,
            match,
        )
        partnerless = np.ones(len(reco[kind]), dtype=bool)
        partnerless[match[match >= 0]] = False
        tables[RECO_ONLY[kind]] = {
            "event": event_ids[reco[kind].event_index[partnerless]],
            **{f"reco_{name}": np.asarray(v)[partnerless] for name, v in reco_columns.items()},
        }
    if "met" in truth:
        met, reco_met = truth["met"], reco["met"]
        tables["met"] = {
            "event": event_ids,
            **{f"truth_{name}": met[name] for name in ("pt", "phi", "ht", "njet")},
            **{f"reco_{name}": reco_met[name] for name in ("pt", "phi")},
        }
    return tables
