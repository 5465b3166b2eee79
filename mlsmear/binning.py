"""Residual binning: 100 categories over a residual, a within-bin shape and exponential tails.

A binning is a monotone grid of ``n_bins · knots_per_bin + 1`` knots. Category ``b`` (1–100) covers
knots ``(b−1)·k … b·k``; inside it, a value is drawn by linear interpolation between the ``k + 1``
within-bin quantiles (the "knots"), so a bin is never flat unless the data were. The outermost
segment on each side is replaced by an exponential tail (mean excess fitted on the training
residuals), so values beyond the most extreme training residual stay possible: nothing is clipped.

Point masses (a residual that is exactly one value for a share of the objects, e.g. Delphes
leaves lepton eta and phi unsmeared: residual exactly 0) give runs of equal knots, a *plateau*.
Every position on a plateau maps back to exactly its value, so sampling reproduces the point mass
exactly; :meth:`ResidualBinning.positions` spreads the residuals equal to a plateau's value
uniformly over it (a fixed-seed draw, independent of the inputs), so that the categories it
covers get their true population. When all knots are equal (every residual the same) all
positions are the last one: one category, and every sampled value is that residual.

Two fitting schemes:

- ``"quantile"`` (default): equal-population bins over the full residual range, 32 knots per bin,
  exponential tails.
- ``"clipped"``: the paper's baseline — equal-width bins between the 1 % and 99 % quantiles,
  uniform inside bins, residuals beyond clipped into the edge bins.

The value-from-position formula (:func:`values_from_positions`) is written once for any array
library with numpy's names (numpy on CPU, torch on CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["ResidualBinning", "SCHEMES", "values_from_positions"]

SCHEMES = ("quantile", "clipped")
_TINY = 1e-300
#: Seed of the uniform spread of tied residuals over a plateau of equal knots.
_PLATEAU_SEED = 20260420


def values_from_positions(
    c: Any, knots: Any, tail_lo: float, tail_hi: float, xp: ModuleType, to_index: Any
) -> Any:
    """Residual at CDF position ``c`` in [0, 1) (array of ``xp``) on the knot grid ``knots``."""
    n_seg = knots.shape[0] - 1
    s = c * n_seg
    j = to_index(xp.floor(s).clip(0, n_seg - 1))
    w = s - j
    v = knots[j] + w * (knots[j + 1] - knots[j])
    if tail_lo > 0:
        low = j == 0
        v[low] = knots[1] + tail_lo * xp.log(w[low].clip(min=_TINY))
    if tail_hi > 0:
        high = j == n_seg - 1
        v[high] = knots[-2] - tail_hi * xp.log((1 - w[high]).clip(min=_TINY))
    return v


def _numpy_index(x: np.ndarray) -> np.ndarray:
    return x.astype(np.int64)


@dataclass(frozen=True)
class ResidualBinning:
    """Knot grid of one residual.

    Arguments:
        knots: monotone grid, ``n_bins · knots_per_bin + 1`` values (units of the residual).
        n_bins: number of residual categories (100).
        tail_lo, tail_hi: mean excess of the exponential tails beyond the outermost inner knots
            (0 = no tail: the outermost segment is linear, values stay inside the grid).
        clip: clip residuals into the grid when computing training targets (the paper's scheme).
    """

    knots: np.ndarray
    n_bins: int = 100
    tail_lo: float = 0.0
    tail_hi: float = 0.0
    clip: bool = False

    def __post_init__(self) -> None:
        knots = np.asarray(self.knots, dtype=np.float64)
        if knots.ndim != 1 or (knots.size - 1) % self.n_bins or knots.size < self.n_bins + 1:
            raise ValueError(
                f"binning needs n_bins·k + 1 knots with n_bins={self.n_bins}, got {knots.size}"
            )
        if not np.all(np.isfinite(knots)) or np.any(np.diff(knots) < 0):
            raise ValueError("binning knots must be finite and non-decreasing")
        object.__setattr__(self, "knots", knots)

    @property
    def knots_per_bin(self) -> int:
        """Within-bin segments per bin."""
        return (self.knots.size - 1) // self.n_bins

    @classmethod
    def fit(
        cls, residuals: np.ndarray, *, n_bins: int = 100, knots_per_bin: int = 32,
        scheme: str = "quantile",
    ) -> ResidualBinning:
        """Fit a binning to training residuals (matched objects only)."""
        r = np.asarray(residuals, dtype=np.float64)
        if r.size < 2 * n_bins:
            raise ValueError(f"need at least {2 * n_bins} residuals to fit a binning, got {r.size}")
        if scheme == "clipped":
            lo, hi = np.quantile(r, [0.01, 0.99])
            return cls(np.linspace(lo, hi, n_bins + 1), n_bins=n_bins, clip=True)
        if scheme != "quantile":
            raise ValueError(f"unknown binning scheme {scheme!r}; expected one of {SCHEMES}")
        knots = np.quantile(r, np.linspace(0.0, 1.0, n_bins * knots_per_bin + 1))
        below, above = r[r < knots[1]], r[r > knots[-2]]
        tail_lo = float(np.mean(knots[1] - below)) if below.size else 0.0
        tail_hi = float(np.mean(above - knots[-2])) if above.size else 0.0
        return cls(knots, n_bins=n_bins, tail_lo=tail_lo, tail_hi=tail_hi)

    def positions(self, residuals: np.ndarray) -> np.ndarray:
        """CDF position in [0, 1) of each residual: the inverse of :meth:`values`."""
        r = np.asarray(residuals, dtype=np.float64)
        knots, n_seg = self.knots, self.knots.size - 1
        if self.clip:
            r = np.clip(r, knots[0], knots[-1])
        c = np.interp(r, knots, np.linspace(0.0, 1.0, n_seg + 1))
        if self.tail_lo > 0:
            low = r < knots[1]
            c[low] = np.exp((r[low] - knots[1]) / self.tail_lo) / n_seg
        if self.tail_hi > 0:
            high = r > knots[-2]
            c[high] = 1.0 - np.exp(-(r[high] - knots[-2]) / self.tail_hi) / n_seg
        if knots[0] < knots[-1]:
            spread = np.random.default_rng(_PLATEAU_SEED)
            for value, lo, hi in self.plateaus():
                tied = r == value
                c[tied] = lo + spread.random(int(tied.sum())) * (hi - lo)
        return np.clip(c, 0.0, np.nextafter(1.0, 0.0))

    def plateaus(self) -> list[tuple[float, float, float]]:
        """(value, first position, last position) of each run of equal knots (a point mass)."""
        flat = np.concatenate([[0], (np.diff(self.knots) == 0).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(flat))
        n_seg = self.knots.size - 1
        return [
            (float(self.knots[s]), s / n_seg, e / n_seg)
            for s, e in zip(edges[0::2], edges[1::2], strict=True)
        ]

    def categories(self, residuals: np.ndarray) -> np.ndarray:
        """Category (1 … n_bins) of each residual."""
        return np.floor(self.positions(residuals) * self.n_bins).astype(np.int64) + 1

    def values(self, positions: np.ndarray) -> np.ndarray:
        """Residual at each CDF position (numpy)."""
        c = np.asarray(positions, dtype=np.float64)
        return values_from_positions(c, self.knots, self.tail_lo, self.tail_hi, np, _numpy_index)

    def to_config(self) -> dict[str, Any]:
        """JSON-able description (the knots themselves go to safetensors)."""
        return {
            "n_bins": self.n_bins, "knots_per_bin": self.knots_per_bin,
            "tail_lo": self.tail_lo, "tail_hi": self.tail_hi, "clip": self.clip,
            "range": [float(self.knots[0]), float(self.knots[-1])],
        }
