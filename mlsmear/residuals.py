"""Residual definitions: how a reconstructed quantity relates to its truth value.

Each quantity of a model names one residual kind. ``residual`` maps (truth, reco) to the residual
the classifier bins; ``apply`` inverts it. Energies and momenta are in GeV.

=================  ==============================  ===========================================
kind               residual r                      reco from truth and r
=================  ==============================  ===========================================
``log_ratio``      log(reco / truth)               truth · exp(r)          (stays > 0)
``diff``           reco − truth                    truth + r
``delta_phi``      reco − truth wrapped to [−π,π)  wrap(truth + r)
``diff_over_pt``   (reco − truth) / truth pT       max(truth + r · truth pT, 0)   (jet mass)
``norm_diff``      reco − truth                    |truth + r|   (a vector's norm, e.g. MET)
``value``          reco itself (truth ignored)     r             (a tag or discriminant)
=================  ==============================  ===========================================
"""

from __future__ import annotations

import numpy as np

from .physics.kinematics import wrap_phi

__all__ = ["RESIDUAL_KINDS", "residual", "apply", "wrap_phi"]

RESIDUAL_KINDS = ("log_ratio", "diff", "delta_phi", "diff_over_pt", "norm_diff", "value")


def _check(kind: str) -> None:
    if kind not in RESIDUAL_KINDS:
        raise ValueError(f"unknown residual kind {kind!r}; expected one of {RESIDUAL_KINDS}")


def residual(
    kind: str, truth: np.ndarray | None, reco: np.ndarray, truth_pt: np.ndarray
) -> np.ndarray:
    """Residual of ``reco`` w.r.t. ``truth`` (``truth_pt`` in GeV scales ``diff_over_pt``;
    ``truth`` is not used, and may be None, for ``value``)."""
    _check(kind)
    if kind == "value":
        return np.asarray(reco, dtype=np.float64)
    if kind == "log_ratio":
        return np.log(reco / truth)
    if kind == "delta_phi":
        return wrap_phi(reco - truth)
    if kind == "diff_over_pt":
        return (reco - truth) / truth_pt
    return reco - truth


def apply(
    kind: str, truth: np.ndarray | None, r: np.ndarray, truth_pt: np.ndarray
) -> np.ndarray:
    """Reconstructed value from ``truth`` and the sampled residual ``r`` (``truth`` unused, and
    may be None, for ``value``)."""
    _check(kind)
    if kind == "value":
        return np.array(r, dtype=np.float64)
    if kind == "log_ratio":
        return truth * np.exp(r)
    if kind == "delta_phi":
        return wrap_phi(truth + r)
    if kind == "diff_over_pt":
        return np.maximum(truth + r * truth_pt, 0.0)
    if kind == "norm_diff":
        return np.abs(truth + r)
    return truth + r
