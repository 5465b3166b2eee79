"""Jet flavour from heavy-flavour hadrons."""

from __future__ import annotations

import numba
import numpy as np

from .collection import Collection
from .kinematics import delta_r2

__all__ = ["label_flavour"]


@numba.njit(cache=True)
def _label(j_off, j_eta, j_phi, h_off, h_eta, h_phi, h_flavour, dr_max):
    labels = np.zeros(len(j_eta), dtype=np.int8)
    dr2_max = dr_max * dr_max
    for event in range(len(j_off) - 1):
        for h in range(h_off[event], h_off[event + 1]):
            best, best_dr2 = -1, dr2_max
            for j in range(j_off[event], j_off[event + 1]):
                dr2 = delta_r2(j_eta[j], j_phi[j], h_eta[h], h_phi[h])
                if dr2 < best_dr2:
                    best, best_dr2 = j, dr2
            if best >= 0 and h_flavour[h] > labels[best]:
                labels[best] = h_flavour[h]
    return labels


def label_flavour(jets: Collection, hadrons: Collection, *, dr_max: float) -> np.ndarray:
    """Hadron flavour of each jet: 5 (b), 4 (c) or 0 (light), as int8.

    Each hadron (columns eta, phi, ``flavour`` = 5 or 4) labels the closest jet of its event
    within ``dr_max``; a jet takes the highest flavour among the hadrons it receives.
    """
    return _label(
        jets.offsets, jets["eta"], jets["phi"],
        hadrons.offsets, hadrons["eta"], hadrons["phi"], hadrons["flavour"].astype(np.int8),
        dr_max,
    )  # fmt: skip
