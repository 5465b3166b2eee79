"""Particle guns for card validation: one particle per event, no generator needed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import KINDS, OBJECT_PDG
from ..physics.collection import Collection

__all__ = ["GUNS", "Gun"]

#: Gun process name -> PDG id of the particle (its sign is drawn at random).
GUNS = {"gun-e": 11, "gun-mu": 13, "gun-gamma": 22, "gun-pi": 211}
_MASS = {**{pdg: float(KINDS[k].mass or 0.0) for k, pdg in OBJECT_PDG.items()}, 211: 0.139570}
_CHARGE = {11: -1.0, 13: -1.0, 22: 0.0, 211: 1.0}  # of the positive PDG id


@dataclass(frozen=True)
class Gun:
    """Single particles with pT uniform in ``pt_range`` (GeV; lo == hi for a fixed pT) or with a
    fixed ``energy`` (GeV), eta uniform in ``eta_range``, phi uniform.

    Exactly one of ``pt_range`` and ``energy`` must be given.
    """

    pdg: int
    eta_range: tuple[float, float]
    pt_range: tuple[float, float] | None = None
    energy: float | None = None

    def __post_init__(self) -> None:
        if self.pdg not in _MASS:
            raise ValueError(f"no gun for PDG id {self.pdg}; guns shoot {sorted(_MASS)}")
        if self.pt_range is not None and self.energy is None:
            lo, hi = self.pt_range
        elif self.energy is not None and self.pt_range is None:
            lo = hi = self.energy
        else:
            raise ValueError("a gun needs exactly one of a pT (or pT range) and an energy")
        if not 0.0 < lo <= hi:
            raise ValueError(f"gun pT / energy must satisfy 0 < low <= high, got {lo}, {hi}")
        if not self.eta_range[0] <= self.eta_range[1]:
            raise ValueError(f"gun eta range must satisfy low <= high, got {self.eta_range}")

    def record(self, n_events: int, rng: np.random.Generator) -> Collection:
        """Generator record (see :mod:`mlsmear.generate.pythia`) of ``n_events`` gun events."""
        mass = _MASS[self.pdg]
        charged = _CHARGE[self.pdg] != 0.0
        sign = np.where(rng.random(n_events) < 0.5, 1, -1) if charged else np.ones(n_events, int)
        eta = rng.uniform(*self.eta_range, n_events)
        phi = rng.uniform(-np.pi, np.pi, n_events)
        if self.pt_range is not None:
            pt = rng.uniform(*self.pt_range, n_events)
        else:
            energy = float(self.energy or 0.0)  # exactly one of the two, checked at construction
            pt = np.sqrt(max(energy**2 - mass**2, 0.0)) / np.cosh(eta)
        columns = {
            "pid": (sign * self.pdg).astype(np.int32),
            "mother1": np.full(n_events, -1, np.int32),
            "final": np.ones(n_events, bool),
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "mass": np.full(n_events, mass),
            "charge": sign * _CHARGE[self.pdg],
        }
        return Collection.one_per_event(columns)
