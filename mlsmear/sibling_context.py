"""Objects that follow their sampled siblings: close objects of the same kind in one event.

The two electrons of a boosted Z → ee lie within ΔR 0.5 of each other in 40 % of the Delphes CMS
Z+jets hold-out's Z → ee events, and there Delphes reconstructs both or neither far more often
than chance (both 57 %, one 14 %, neither 29 %): an electron whose track is lost becomes an
energy-flow photon that spoils the other's isolation. Sampled independently, the same electrons
give both 41 %, one 44 %, neither 14 %, and the dilepton Z yield comes out 9 % low.

A model with sibling context reads, per object, over the *higher-pT* objects of the same kind in
its event within ΔR < :data:`SIBLING_DR`:

    sib_kept = Σ truth pT of those that were reconstructed, over the object's truth pT
    sib_lost = Σ truth pT of those that were lost, over the object's truth pT

(0 when there are none), and, over *all* the other objects of the same kind in its event,

    sib_dr = ΔR to the closest one (:data:`~mlsmear.flavour_neighbours.ALONE` when alone)

— the two electrons of a boosted Z share calorimeter cells when they are closer than a few
cells, not at ΔR 0.3: the same ``sib_kept`` or ``em_iso`` means a merged shower or none. Delphes
CMS Z+jets electrons above 40 GeV with the other electron at ΔR 0.2–0.4: the 95 % quantile of
reco/truth − 1 is +0.049 for the teacher, +0.100 learnt without ``sib_dr``, +0.080 with it (the
Z → ee pairs within ±3 GeV of the Z mass stay 14 % low: docs/whole-events.md).

In training "reconstructed" is the teacher's (the pairs' ``matched``); when smearing, the objects
of an event are sampled in order of truth pT, rank by rank (:func:`mlsmear.engine.sample_reco`),
each rank seeing the sampled outcome of the ranks before.
Every draw stays keyed by (event, object index), so the result does not depend on chunking.
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np

from .flavour_neighbours import ALONE
from .physics.collection import group_members
from .physics.kinematics import delta_r2

__all__ = ["SIBLING_DR", "SIBLING_FIELDS", "sibling_ranks", "sibling_sums", "uses_siblings"]

SIBLING_FIELDS = ("sib_kept", "sib_lost", "sib_dr")
#: Cone (ΔR) in which a sibling counts.
SIBLING_DR = 0.5


def uses_siblings(input_names: Iterable[str]) -> bool:
    """True for a model that reads its siblings' sampled outcome."""
    return any(n in SIBLING_FIELDS for n in input_names)


def sibling_ranks(group: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Rank of each object among the objects of its group (event) by truth pT, highest first
    (ties: first in order first)."""
    group = np.asarray(group)
    n = group.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(n), -np.asarray(pt, dtype=np.float64), group))
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first
    return rank


@numba.njit(cache=True)
def _sums(rows, offsets, members, group, rank, kept, pt, eta, phi, dr2_max, out_kept, out_lost,
          out_dr):
    for k in range(rows.size):
        i = rows[k]
        g = group[i]
        closest2 = out_dr[k] ** 2
        for m in range(offsets[g], offsets[g + 1]):
            j = members[m]
            if j == i:
                continue
            dr2 = delta_r2(eta[i], phi[i], eta[j], phi[j])
            closest2 = min(closest2, dr2)
            if rank[j] < rank[i] and dr2 < dr2_max:
                if kept[j]:
                    out_kept[k] += pt[j]
                else:
                    out_lost[k] += pt[j]
        out_dr[k] = np.sqrt(closest2)
        out_kept[k] /= pt[i]
        out_lost[k] /= pt[i]


def sibling_sums(
    group: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, rank: np.ndarray,
    kept: np.ndarray, rows: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``sib_kept``, ``sib_lost`` and ``sib_dr`` (module docstring) of ``rows`` (default: every
    object).

    Arguments:
        group: event of each object (integers 0 … n_groups − 1); pt (GeV), eta, phi: truth.
        rank: :func:`sibling_ranks`; kept: reconstructed, for every object of a lower rank than
            those of ``rows`` (the others are not read).
    """
    group = np.asarray(group, dtype=np.int64)
    rows = np.arange(group.size) if rows is None else np.asarray(rows, dtype=np.int64)
    members, offsets = group_members(group)
    out_kept, out_lost = np.zeros(rows.size), np.zeros(rows.size)
    out_dr = np.full(rows.size, ALONE)
    pt, eta, phi = (np.ascontiguousarray(a, dtype=np.float64) for a in (pt, eta, phi))
    _sums(rows, offsets, members, group, np.asarray(rank, np.int64),
          np.asarray(kept, dtype=np.bool_), pt, eta, phi, SIBLING_DR**2, out_kept, out_lost,
          out_dr)
    return {"sib_kept": out_kept, "sib_lost": out_lost, "sib_dr": out_dr}
