"""Cone sums: the summed pT of objects around candidates (isolation)."""

from __future__ import annotations

import numba
import numpy as np

from .collection import Collection
from .kinematics import delta_r2

__all__ = ["cone_sums"]


@numba.njit(cache=True)
def _cone_sums(c_off, c_eta, c_phi, c_uid, o_off, o_pt, o_eta, o_phi, o_uid, pt_min, dr_max):
    dr2_max = dr_max * dr_max
    sums = np.zeros(len(c_eta))
    for event in range(len(c_off) - 1):
        for c in range(c_off[event], c_off[event + 1]):
            total = 0.0
            for o in range(o_off[event], o_off[event + 1]):
                if (
                    o_pt[o] > pt_min
                    and o_uid[o] != c_uid[c]
                    and delta_r2(c_eta[c], c_phi[c], o_eta[o], o_phi[o]) <= dr2_max
                ):
                    total += o_pt[o]
            sums[c] = total
    return sums


def cone_sums(
    candidates: Collection,
    objects: Collection,
    *,
    dr_max: float,
    pt_min: float,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Sum of pT (GeV) of ``objects`` above ``pt_min`` within ``dr_max`` of each candidate.

    ``exclude = (candidate ids, object ids)``: an object whose id equals the candidate's is not
    counted (the candidate itself). Without it nothing is excluded.
    """
    if exclude is None:
        exclude = (np.full(len(candidates), -1, np.int64), np.full(len(objects), -2, np.int64))
    return _cone_sums(
        candidates.offsets, candidates["eta"], candidates["phi"], exclude[0],
        objects.offsets, objects["pt"], objects["eta"], objects["phi"], exclude[1],
        pt_min, dr_max,
    )  # fmt: skip
