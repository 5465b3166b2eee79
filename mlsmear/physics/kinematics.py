"""Kinematic helpers shared by truth building, matching and the detector stages (GeV, radians)."""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "cartesian",
    "delta_r2",
    "energy",
    "from_cartesian",
    "wrap_phi",
]


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Map azimuthal angles to [-pi, pi)."""
    return (np.asarray(phi) + np.pi) % (2.0 * np.pi) - np.pi


def energy(pt: np.ndarray, eta: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Energy (GeV) from pT (GeV), pseudorapidity and mass (GeV)."""
    p = pt * np.cosh(eta)
    return np.sqrt(p * p + mass * mass)


def cartesian(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(px, py, pz, E) in GeV from (pT, eta, phi, mass)."""
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy(pt, eta, mass)


def from_cartesian(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi, mass) from (px, py, pz, E) in GeV.

    Objects along the beam (pT = 0) get eta = +-1e3 instead of infinity; negative m^2 from
    rounding gives mass 0.
    """
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0.0, np.arcsinh(pz / pt), np.copysign(1e3, pz))
    mass = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    return pt, eta, np.arctan2(py, px), mass


@numba.njit(cache=True, inline="always")
def delta_r2(eta1: float, phi1: float, eta2: float, phi2: float) -> float:
    """Squared angular distance (Delta eta)^2 + (Delta phi)^2 with Delta phi wrapped."""
    dphi = (phi1 - phi2 + np.pi) % (2.0 * np.pi) - np.pi
    deta = eta1 - eta2
    return deta * deta + dphi * dphi
