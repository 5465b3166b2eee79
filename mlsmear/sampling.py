"""Categorical sampling of residual categories with counter-based uniforms (numba CPU, torch).

For each object, draw 0 of a quantity picks the category by inverse CDF over the 101 softmax
probabilities (accumulated in float64; their sum is taken as 1, a draw beyond the accumulated
total picks the last category); draw 1 is the uniform position inside the chosen bin.
The result is the object's CDF position ``(category − 1 + u) / n_bins`` in [0, 1), or −1 when
category 0 ("not reconstructed") was drawn. Heads that may not lose the object sample only
categories 1–100 (category 0's probability is removed and the rest renormalised).

Both implementations use the same uniforms (:mod:`mlsmear.counter_random`) and the same rule, so
CPU and GPU agree except where float rounding moves a category boundary across a uniform.
:class:`NumbaSampler` and :class:`TorchSampler` are the two as strategies of the engine: the
objects of one batch, their CDF positions per head, and the residual values at those positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numba
import numpy as np
import torch

from .binning import ResidualBinning, values_from_positions
from .counter_random import object_uniforms_torch, uniform_nb

__all__ = [
    "LOST", "SAMPLERS", "NumbaSampler", "Sampler", "TorchSampler", "sample_positions",
    "sample_positions_torch",
]

#: Position value marking a lost (not reconstructed) object.
LOST = -1.0


def _sample_positions(probs, keys, index, quantity, allow_lost, out):
    n, n_cat = probs.shape
    n_bins = n_cat - 1
    q = np.uint64(quantity)
    for i in numba.prange(n):
        p0 = np.float64(probs[i, 0])
        u = uniform_nb(keys[i], index[i], q, np.uint64(0))
        start = 0 if allow_lost else 1
        target = u if allow_lost else p0 + u * (1.0 - p0)
        cum = 0.0 if allow_lost else p0
        chosen = n_cat - 1
        for c in range(start, n_cat):
            cum += np.float64(probs[i, c])
            if cum > target:
                chosen = c
                break
        if chosen == 0:
            out[i] = -1.0
        else:
            v = uniform_nb(keys[i], index[i], q, np.uint64(1))
            out[i] = (chosen - 1 + v) / n_bins


#: The kernel over numba's threads, and on the calling thread alone (for callers that run
#: batches on threads of their own: numba's workqueue layer refuses concurrent parallel calls).
_sample_positions_nb = numba.njit(cache=True, nogil=True, parallel=True)(_sample_positions)
_sample_positions_serial_nb = numba.njit(cache=True, nogil=True)(_sample_positions)


def sample_positions(
    probs: np.ndarray, keys: np.ndarray, index: np.ndarray, quantity: int, allow_lost: bool,
    *, parallel: bool = True,
) -> np.ndarray:
    """CDF positions (or :data:`LOST`) from a ``(n, 101)`` float32 probability matrix (numba).

    Arguments:
        probs: softmax outputs of one head.
        keys: event key of each object (``uint64``, see :func:`~mlsmear.counter_random.event_keys`).
        index: index of each object in its event (``uint64``/``int64``).
        quantity: index of the quantity (head) in the model's sampling order.
        allow_lost: category 0 may be drawn (the efficiency decision, head 0 only).
        parallel: over numba's threads (else on the calling thread; the same result).
    """
    out = np.empty(probs.shape[0], dtype=np.float64)
    kernel = _sample_positions_nb if parallel else _sample_positions_serial_nb
    kernel(np.ascontiguousarray(probs), keys, index.view(np.uint64), quantity, allow_lost, out)
    return out


def sample_positions_torch(
    probs: torch.Tensor, keys: torch.Tensor, index: torch.Tensor, quantity: int, allow_lost: bool
) -> torch.Tensor:
    """Same rule as :func:`sample_positions`, in torch on ``probs.device`` (for CUDA)."""
    n_bins = probs.shape[1] - 1
    cum = probs.to(torch.float64).cumsum(dim=1)
    p0 = cum[:, 0]
    u = object_uniforms_torch(keys, index, quantity, 0)
    target = u if allow_lost else p0 + u * (1.0 - p0)
    chosen = torch.searchsorted(cum, target[:, None], right=True)[:, 0].clamp(max=n_bins)
    if not allow_lost:
        chosen = chosen.clamp(min=1)
    v = object_uniforms_torch(keys, index, quantity, 1)
    positions = ((chosen - 1).to(torch.float64) + v) / n_bins
    return torch.where(chosen == 0, torch.full_like(positions, LOST), positions)


class Sampler(Protocol):
    """How the engine samples one batch of objects: :meth:`start` with their identities, then
    :meth:`draw` per head, :meth:`keep` when objects are lost, :meth:`values` at the end. Made
    with ``(binnings, device, parallel=...)``: ``parallel=False`` when the engine runs batches on
    threads of its own."""

    device: torch.device

    def start(self, keys: np.ndarray, index: np.ndarray) -> None:
        """The batch's objects: event key (``uint64``) and index in the event (``int64``)."""

    def draw(self, probs: torch.Tensor, quantity: int, allow_lost: bool) -> torch.Tensor:
        """CDF positions (or :data:`LOST`) of the objects still sampled, from one head's
        ``(n, 101)`` float32 probabilities."""

    def keep(self, alive: torch.Tensor) -> None:
        """Only the objects at rows ``alive`` (of those still sampled) are drawn from now on."""

    def values(self, quantity: int, positions: torch.Tensor) -> np.ndarray:
        """Residuals (float64) at the CDF positions of one quantity, for the whole batch."""


class NumbaSampler:
    """Categories drawn by the numba kernel on the CPU, residual values in numpy."""

    def __init__(self, binnings: Sequence[ResidualBinning], device: torch.device, *,
                 parallel: bool = True) -> None:
        self.binnings, self.device, self.parallel = binnings, device, parallel
        self.keys = np.empty(0, dtype=np.uint64)
        self.index = np.empty(0, dtype=np.int64)

    def start(self, keys: np.ndarray, index: np.ndarray) -> None:
        self.keys, self.index = keys, index

    def draw(self, probs: torch.Tensor, quantity: int, allow_lost: bool) -> torch.Tensor:
        drawn = sample_positions(probs.cpu().numpy(), self.keys, self.index, quantity, allow_lost,
                                 parallel=self.parallel)
        return torch.from_numpy(drawn)

    def keep(self, alive: torch.Tensor) -> None:
        rows = alive.cpu().numpy()
        self.keys, self.index = self.keys[rows], self.index[rows]

    def values(self, quantity: int, positions: torch.Tensor) -> np.ndarray:
        return self.binnings[quantity].values(positions.cpu().numpy())


def _long(x: torch.Tensor) -> torch.Tensor:
    return x.long()


class TorchSampler:
    """Categories and residual values in torch on the network's device (CUDA): only the values
    come back to the host."""

    def __init__(self, binnings: Sequence[ResidualBinning], device: torch.device, *,
                 parallel: bool = True) -> None:
        self.binnings, self.device = binnings, device
        self.knots = [torch.from_numpy(b.knots).to(device) for b in binnings]
        self.keys = torch.empty(0, dtype=torch.int64, device=device)
        self.index = torch.empty(0, dtype=torch.int64, device=device)

    def start(self, keys: np.ndarray, index: np.ndarray) -> None:
        self.keys = torch.from_numpy(keys.view(np.int64)).to(self.device)
        self.index = torch.from_numpy(index).to(self.device)

    def draw(self, probs: torch.Tensor, quantity: int, allow_lost: bool) -> torch.Tensor:
        return sample_positions_torch(probs, self.keys, self.index, quantity, allow_lost)

    def keep(self, alive: torch.Tensor) -> None:
        self.keys, self.index = self.keys[alive], self.index[alive]

    def values(self, quantity: int, positions: torch.Tensor) -> np.ndarray:
        b = self.binnings[quantity]
        values = values_from_positions(
            positions, self.knots[quantity], b.tail_lo, b.tail_hi, torch, _long
        )
        return values.cpu().numpy()


#: The samplers by name (``sampler=`` of :func:`mlsmear.engine.sample_residuals`).
SAMPLERS: dict[str, type[NumbaSampler] | type[TorchSampler]] = {
    "numba": NumbaSampler, "torch": TorchSampler,
}
