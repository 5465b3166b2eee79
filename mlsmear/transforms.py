"""Input features: truth quantities mapped to network inputs, with the map stored in the model.

=============  ====================================================================  =========
transform      network input                                                         columns
=============  ====================================================================  =========
``quantile``   empirical CDF of the training values (quantile flattening), mapped to   1
               [−1, 1] (centred inputs train much faster than [0, 1]); a value held
               by many objects (0 for isolated leptons) takes one knot, so the rest
               spread over the whole range
``periodic``   sin and cos of the angle (rad)                                          2
``onehot``     one column per known category (e.g. hadron flavour 0, 4, 5)             n
=============  ====================================================================  =========

Out-of-range inputs of a ``quantile`` feature (outside the training range) are clamped to the
range edge, counted and reported by :meth:`InputFeature.out_of_range`; unknown categories of an
``onehot`` feature raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

__all__ = ["InputFeature", "TRANSFORMS", "input_matrix"]

TRANSFORMS = ("quantile", "periodic", "onehot")
_N_QUANTILE_KNOTS = 513


@numba.njit(cache=True, nogil=True, parallel=True)
def _interp_nb(x, xp, fp, out):
    """``np.interp(x, xp, fp)`` bit for bit (same interval choice with repeated knots, same
    formula, edge values outside), parallel over ``x``."""
    m = xp.size
    for i in numba.prange(x.size):
        v = x[i]
        if v >= xp[m - 1]:
            out[i] = fp[m - 1]
        elif v < xp[0]:
            out[i] = fp[0]
        else:
            lo, hi = 0, m - 1  # invariant: xp[lo] <= v < xp[hi]
            while hi - lo > 1:
                mid = (lo + hi) >> 1
                if xp[mid] <= v:
                    lo = mid
                else:
                    hi = mid
            slope = (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo])
            out[i] = slope * (v - xp[lo]) + fp[lo]


@dataclass(frozen=True)
class InputFeature:
    """One truth input of a model.

    Arguments:
        name: field of the truth record (``pt`` in GeV, ``eta``, ``phi`` in rad, ``mass`` in GeV,
            or an extra such as ``hadronFlavour``).
        transform: one of :data:`TRANSFORMS`.
        knots: quantile knots (``quantile``) or the category values (``onehot``).
    """

    name: str
    transform: str
    knots: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(
                f"unknown transform {self.transform!r} for input {self.name!r}; "
                f"expected one of {TRANSFORMS}"
            )
        object.__setattr__(self, "knots", np.asarray(self.knots, dtype=np.float64))

    @classmethod
    def fit(cls, name: str, transform: str, values: np.ndarray) -> InputFeature:
        """Fit the feature's map on training values."""
        values = np.asarray(values, dtype=np.float64)
        if transform == "quantile":  # repeated knots would waste the range on a point mass
            knots = np.unique(np.quantile(values, np.linspace(0.0, 1.0, _N_QUANTILE_KNOTS)))
        elif transform == "onehot":
            knots = np.unique(values)
        else:
            knots = np.zeros(0)
        return cls(name, transform, knots)

    @property
    def n_columns(self) -> int:
        """Number of network input columns this feature produces."""
        return {"quantile": 1, "periodic": 2}.get(self.transform, self.knots.size)

    def out_of_range(self, values: np.ndarray) -> int:
        """How many values lie outside the training range (these are clamped)."""
        if self.transform != "quantile":
            return 0
        return int(np.count_nonzero((values < self.knots[0]) | (values > self.knots[-1])))

    def columns(self, values: np.ndarray) -> np.ndarray:
        """Network input columns, shape ``(n, n_columns)``, float32."""
        values = np.asarray(values, dtype=np.float64)
        if self.transform == "quantile":
            grid = np.linspace(-1.0, 1.0, self.knots.size)
            out = np.empty(values.size)
            _interp_nb(np.ascontiguousarray(values), self.knots, grid, out)
            return out.astype(np.float32)[:, None]
        if self.transform == "periodic":
            return np.stack([np.sin(values), np.cos(values)], axis=1).astype(np.float32)
        known = np.isin(values, self.knots)
        if not np.all(known):
            bad = np.unique(values[~known])
            raise ValueError(
                f"input {self.name!r} has {np.count_nonzero(~known)} values with categories "
                f"{bad.tolist()[:10]} never seen in training; known: {self.knots.tolist()}"
            )
        return (values[:, None] == self.knots[None, :]).astype(np.float32)

    def to_config(self) -> dict[str, Any]:
        """JSON-able description (the knots go to safetensors)."""
        config: dict[str, Any] = {"name": self.name, "transform": self.transform}
        if self.transform == "quantile":
            config["range"] = [float(self.knots[0]), float(self.knots[-1])]
        if self.transform == "onehot":
            config["categories"] = self.knots.tolist()
        return config


def input_matrix(features: Sequence[InputFeature], truth: Mapping[str, np.ndarray]) -> np.ndarray:
    """Network input matrix ``(n, Σ n_columns)`` float32 from flat truth columns by field."""
    return np.concatenate([f.columns(truth[f.name]) for f in features], axis=1)
