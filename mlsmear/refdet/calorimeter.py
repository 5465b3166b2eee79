"""A sampling calorimeter with towers (Delphes ``SimpleCalorimeter``), used for ECAL and HCAL.

Each particle deposits the fraction ``energy_fractions[|pid|]`` of its energy in the tower it
points to (straight-line propagation: the columns ``calo_eta``, ``calo_phi``). A tower's energy is
smeared log-normally with sigma(E) from the card formula at the tower centre, then zeroed below
``energy_min`` or below ``significance_min`` standard deviations. Energy flow as in Delphes:
where the tower energy exceeds the energy of the tracks pointing to it significantly, the excess
becomes a neutral energy-flow tower; otherwise those tracks are rescaled to the
inverse-variance-weighted mean of the track and tower measurements.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..physics.collection import Collection
from ..physics.kinematics import energy
from .formula import Formula
from .random_draws import lognormal
from .stage import CardError, Param, RunContext, Stage, boolean, formula, number

__all__ = ["Calorimeter", "FractionTable", "TowerGrid"]


class TowerGrid:
    """Tower geometry symmetric in eta: regions ``(|eta| from, |eta| to, d eta, d phi in deg)``.

    Regions must tile ``0 <= |eta| < eta_max`` in order; within a region the last eta bin is
    shortened if ``d eta`` does not divide its width. Phi bins start at -pi.
    """

    def __init__(self, regions: list[tuple[float, float, float, float]]) -> None:
        self.regions = regions
        positive: list[float] = [0.0]
        n_phi: list[int] = []
        for lo, hi, deta, dphi in regions:
            n_bins = int(np.ceil((hi - lo) / deta - 1e-6))
            edges = np.minimum(lo + deta * np.arange(1, n_bins + 1), hi)
            positive.extend(edges.tolist())
            n_phi.extend([round(360.0 / dphi)] * n_bins)
        pos = np.asarray(positive)
        self.eta_max = float(pos[-1])
        self.eta_edges = np.concatenate([-pos[:0:-1], pos])
        self.n_phi = np.asarray(n_phi[::-1] + n_phi, dtype=np.int64)
        self.cell_offset = np.concatenate([[0], np.cumsum(self.n_phi)])
        self.n_cells = int(self.cell_offset[-1])

    def cell(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Cell number of each direction (int64), -1 outside the eta coverage."""
        ieta = np.searchsorted(self.eta_edges, eta, side="right") - 1
        inside = (ieta >= 0) & (ieta < len(self.n_phi))
        ieta = np.clip(ieta, 0, len(self.n_phi) - 1)
        n_phi = self.n_phi[ieta]
        iphi = np.minimum(((phi + np.pi) / (2.0 * np.pi) * n_phi).astype(np.int64), n_phi - 1)
        return np.where(inside, self.cell_offset[ieta] + iphi, -1)

    def bounds(self, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(eta low, eta high, phi low, phi high) of each cell."""
        ieta = np.searchsorted(self.cell_offset, cell, side="right") - 1
        width = 2.0 * np.pi / self.n_phi[ieta]
        phi_lo = -np.pi + (cell - self.cell_offset[ieta]) * width
        return self.eta_edges[ieta], self.eta_edges[ieta + 1], phi_lo, phi_lo + width


class FractionTable:
    """Fraction of a particle's energy deposited in one calorimeter, by |PDG id|."""

    def __init__(self, fractions: dict[int, float], default: float) -> None:
        self.ids = np.asarray(sorted(fractions), dtype=np.int64)
        self.values = np.asarray([fractions[i] for i in self.ids], dtype=np.float64)
        self.default = default

    def __call__(self, pid: np.ndarray) -> np.ndarray:
        """Fraction for each PDG id (float64)."""
        pid = np.abs(np.asarray(pid, dtype=np.int64))
        if len(self.ids) == 0:
            return np.full(pid.shape, self.default)
        index = np.minimum(np.searchsorted(self.ids, pid), len(self.ids) - 1)
        return np.where(self.ids[index] == pid, self.values[index], self.default)


def _parse_granularity(value: Any, where: str) -> TowerGrid:
    if not isinstance(value, list) or not value:
        raise CardError(f"{where}: expected a list of [|eta| from, |eta| to, d eta, d phi deg]")
    regions = []
    previous = 0.0
    for row in value:
        if (
            not isinstance(row, list)
            or len(row) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)
        ):
            raise CardError(f"{where}: row {row!r} is not [|eta| from, |eta| to, d eta, d phi deg]")
        lo, hi, deta, dphi = (float(v) for v in row)
        if lo != previous or hi <= lo or deta <= 0.0:
            raise CardError(
                f"{where}: row {row!r} must start at {previous} and have |eta| to > from, d eta > 0"
            )
        if dphi <= 0.0 or abs(360.0 / dphi - round(360.0 / dphi)) > 1e-9:
            raise CardError(f"{where}: d phi {dphi} deg must divide 360")
        regions.append((lo, hi, deta, dphi))
        previous = hi
    return TowerGrid(regions)


def _parse_fractions(value: Any, where: str) -> FractionTable:
    if not isinstance(value, dict) or "default" not in value:
        raise CardError(f"{where}: expected a table {{ default = f, <|pdg id>> = f, ... }}")
    fractions: dict[int, float] = {}
    for key, fraction in value.items():
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise CardError(f"{where}.{key}: expected a number, got {fraction!r}")
        if not 0.0 <= fraction <= 1.0:
            raise CardError(f"{where}.{key}: fraction must be in [0, 1], got {fraction}")
        if key != "default":
            if not key.isdigit():
                raise CardError(f"{where}: key {key!r} is neither 'default' nor an |pdg id|")
            fractions[int(key)] = float(fraction)
    return FractionTable(fractions, float(value["default"]))


class Calorimeter(Stage):
    """Towers, neutral energy-flow towers and energy-flow tracks of one calorimeter."""

    INPUTS = ("particles", "tracks")
    OUTPUTS = ("towers", "eflow_towers", "eflow_tracks")
    PARAMS: ClassVar[dict[str, Param]] = {
        "granularity": Param(
            "tower sizes: list of [|eta| from, |eta| to, d eta, d phi in degrees]",
            _parse_granularity,
        ),
        "energy_fractions": Param(
            "fraction of the energy deposited, by |PDG id|, with a 'default'", _parse_fractions
        ),
        "resolution": formula("sigma(E) in GeV", ("energy", "eta")),
        "energy_min": number("minimum tower energy in GeV", minimum=0.0),
        "significance_min": number("minimum tower energy / sigma(E)", minimum=0.0),
        "smear_tower_center": boolean("place towers uniformly in their cell, not at its centre"),
    }
    granularity: TowerGrid
    energy_fractions: FractionTable
    resolution: Formula
    energy_min: float
    significance_min: float
    smear_tower_center: bool

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        particles, tracks = inputs
        grid = self.granularity
        key_p, e_p, _ = self._deposits(particles)
        key_t, e_t, in_calo_t = self._deposits(tracks)
        var_t = (e_t * tracks["resolution"][in_calo_t]) ** 2

        keys, inverse = np.unique(np.concatenate([key_p, key_t]), return_inverse=True)
        inv_p, inv_t = inverse[: len(key_p)], inverse[len(key_p) :]
        n = len(keys)
        e_true = np.bincount(inv_p, weights=e_p, minlength=n)
        e_trk = np.bincount(inv_t, weights=e_t, minlength=n)
        var_trk = np.bincount(inv_t, weights=var_t, minlength=n)
        event, cell = np.divmod(keys, grid.n_cells)

        eta_lo, eta_hi, phi_lo, phi_hi = grid.bounds(cell)
        sigma = self.resolution(energy=e_true, eta=0.5 * (eta_lo + eta_hi))
        measured = lognormal(ctx.rng, e_true, sigma)
        measured[(measured < self.energy_min) | (measured < self.significance_min * sigma)] = 0.0
        where = ctx.rng.random((2, n)) if self.smear_tower_center else np.full((2, n), 0.5)
        eta = eta_lo + where[0] * (eta_hi - eta_lo)
        phi = phi_lo + where[1] * (phi_hi - phi_lo)

        neutral = np.maximum(measured - e_trk, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            significance = neutral / np.sqrt(var_trk + sigma**2)
        is_neutral = (neutral > self.energy_min) & (significance > self.significance_min)

        # A neutral energy-flow tower shares the identity of the most energetic track pointing
        # to it (Delphes: they overlap), so an isolation sum skips a candidate's own excess.
        order = np.lexsort((-e_t, inv_t))
        with_track, first = np.unique(inv_t[order], return_index=True)
        eflow_uid = ctx.new_uids(n)
        eflow_uid[with_track] = tracks["uid"][in_calo_t][order[first]]

        towers = self._towers(
            event, measured, eta, phi, measured > 0.0, ctx.new_uids(n), ctx.n_events
        )
        eflow_towers = self._towers(event, neutral, eta, phi, is_neutral, eflow_uid, ctx.n_events)
        eflow_tracks = self._rescale_tracks(
            tracks, in_calo_t, inv_t, measured, sigma, e_trk, var_trk, ~is_neutral
        )
        return [towers, eflow_towers, eflow_tracks]

    def _deposits(self, rows: Collection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tower key, deposited energy, row mask) of the rows that reach this calorimeter."""
        fraction = self.energy_fractions(rows["pid"])
        cell = self.granularity.cell(rows["calo_eta"], rows["calo_phi"])
        mask = (fraction > 0.0) & (cell >= 0)
        deposit = energy(rows["pt"][mask], rows["eta"][mask], rows["mass"][mask]) * fraction[mask]
        key = rows.event_index[mask] * self.granularity.n_cells + cell[mask]
        return key, deposit, mask

    @staticmethod
    def _towers(
        event: np.ndarray,
        tower_energy: np.ndarray,
        eta: np.ndarray,
        phi: np.ndarray,
        keep: np.ndarray,
        uid: np.ndarray,
        n_events: int,
    ) -> Collection:
        """Massless objects (pid 0, charge 0) of the kept towers."""
        n = int(np.count_nonzero(keep))
        columns = {
            "pt": tower_energy[keep] / np.cosh(eta[keep]),
            "eta": eta[keep],
            "phi": phi[keep],
            "mass": np.zeros(n),
            "pid": np.zeros(n, dtype=np.int64),
            "charge": np.zeros(n, dtype=np.int64),
            "uid": uid[keep],
        }
        return Collection.from_event_index(event[keep], n_events, columns)

    @staticmethod
    def _rescale_tracks(
        tracks: Collection,
        in_calo: np.ndarray,
        inv_t: np.ndarray,
        measured: np.ndarray,
        sigma: np.ndarray,
        e_trk: np.ndarray,
        var_trk: np.ndarray,
        rescale: np.ndarray,
    ) -> Collection:
        """Scale the tracks of towers without a significant neutral excess to the combined
        track + calorimeter energy estimate (inverse-variance weights)."""
        tiny = 1e-300
        w_cal = 1.0 / np.maximum(sigma**2, tiny)
        w_trk = 1.0 / np.maximum(var_trk, tiny)
        with np.errstate(divide="ignore", invalid="ignore"):
            combined = (measured * w_cal + e_trk * w_trk) / (w_cal + w_trk)
            factor = np.where(rescale & (e_trk > 0.0), combined / e_trk, 1.0)
        per_track = np.ones(len(tracks))
        per_track[in_calo] = factor[inv_t]
        return tracks.with_columns(pt=tracks["pt"] * per_track, mass=tracks["mass"] * per_track)
