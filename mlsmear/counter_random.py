"""Counter-based uniform random numbers: a pure function of (seed, event, object, quantity, draw).

Every uniform mlsmear draws is a hash of its coordinates, so the output of an event never depends
on chunking, executor, worker count, processing order or retries. The hash is SplitMix64's
finaliser; it is written once (:func:`_make_mix64`) and instantiated for numba (``uint64``
arithmetic) and for torch (``int64`` with two's-complement wrap and a logical right shift), so the
CPU and CUDA paths draw bit-identical uniforms.

Key layout: ``event_key = mix(mix(mix(mix(seed) ^ run) ^ lumi) ^ event)``; each object kind
draws from its own stream, ``key = mix(event_key ^ stream)`` (:data:`KIND_STREAMS`; jets, stream
0, use ``event_key`` itself), so that the jet and the electron of the same index in an event
never share a number; the uniform of draw ``d`` of quantity ``q`` of object ``i`` is
``unit(mix(key ^ mix((i << 16) | (q << 8) | d)))``.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import torch

__all__ = [
    "KIND_STREAMS",
    "event_keys",
    "kind_keys",
    "object_uniforms",
    "uniform_nb",
    "event_keys_torch",
    "object_uniforms_torch",
]

_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_TO_UNIT = 2.0**-53
#: Random stream of each object kind (module docstring).
KIND_STREAMS = {
    "jet": 0, "electron": 1, "muon": 2, "photon": 3, "met": 4, "photon_from_electron": 5,
}


def _make_mix64(shr: Callable, const: Callable) -> Callable:
    """SplitMix64 finaliser, given the library's logical right shift and constant type."""
    golden, mul1, mul2 = const(_GOLDEN), const(_MUL1), const(_MUL2)

    def mix64(z):
        z = z + golden
        z = (z ^ shr(z, 30)) * mul1
        z = (z ^ shr(z, 27)) * mul2
        return z ^ shr(z, 31)

    return mix64


def _make_uniform(
    mix64: Callable, shr: Callable, const: Callable, to_float: Callable
) -> Callable:
    """Uniform in [0, 1) of draw ``draw`` of ``quantity`` of object ``index`` of an event."""
    sixteen, eight, eleven = const(16), const(8), 11

    def uniform(event_key, index, quantity, draw):
        counter = (index << sixteen) | (quantity << eight) | draw
        return to_float(shr(mix64(event_key ^ mix64(counter)), eleven)) * _TO_UNIT

    return uniform


# -- numba (CPU) ---------------------------------------------------------------------------------


@numba.njit(inline="always")
def _shr_nb(z, s):
    return z >> np.uint64(s)


def _const_nb(c: int):
    return np.uint64(c)


_mix64_nb = numba.njit(inline="always")(_make_mix64(_shr_nb, _const_nb))


#: One uniform in [0, 1) (numba scalar); all four arguments are ``uint64``.
uniform_nb = numba.njit(inline="always")(_make_uniform(_mix64_nb, _shr_nb, _const_nb, np.float64))


@numba.njit(cache=True)
def _event_keys_nb(seed, run, lumi, event, out):
    s = _mix64_nb(np.uint64(seed))
    for i in range(out.size):
        out[i] = _mix64_nb(_mix64_nb(_mix64_nb(s ^ run[i]) ^ lumi[i]) ^ event[i])


@numba.njit(cache=True)
def _kind_keys_nb(keys, stream, out):
    for i in range(out.size):
        out[i] = _mix64_nb(keys[i] ^ stream)


@numba.njit(cache=True)
def _object_uniforms_nb(keys, index, quantity, draw, out):
    for i in range(out.size):
        out[i] = uniform_nb(keys[i], index[i], quantity, draw)


def _as_u64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values).astype(np.int64).view(np.uint64))


def event_keys(seed: int, run: np.ndarray, lumi: np.ndarray, event: np.ndarray) -> np.ndarray:
    """64-bit key of each event (``uint64`` array) from the user seed and the event identity."""
    run, lumi, event = _as_u64(run), _as_u64(lumi), _as_u64(event)
    out = np.empty(event.size, dtype=np.uint64)
    _event_keys_nb(np.uint64(seed & 0xFFFFFFFFFFFFFFFF), run, lumi, event, out)
    return out


def kind_keys(keys: np.ndarray, kind: str) -> np.ndarray:
    """The keys of ``kind``'s stream (``uint64``) from event keys (:func:`event_keys`)."""
    stream = KIND_STREAMS[kind]
    if stream == 0:
        return keys
    out = np.empty(len(keys), dtype=np.uint64)
    _kind_keys_nb(_as_u64(keys), np.uint64(stream), out)
    return out


def object_uniforms(keys: np.ndarray, index: np.ndarray, quantity: int, draw: int) -> np.ndarray:
    """Uniforms in [0, 1) for objects with event ``keys`` and in-event ``index`` (numba, CPU)."""
    out = np.empty(len(keys), dtype=np.float64)
    _object_uniforms_nb(_as_u64(keys), _as_u64(index), np.uint64(quantity), np.uint64(draw), out)
    return out


# -- torch (any device) --------------------------------------------------------------------------


def _shr_torch(z: torch.Tensor, s: int) -> torch.Tensor:
    return (z >> s) & ((1 << (64 - s)) - 1)


def _const_torch(c: int) -> int:
    return c - (1 << 64) if c >= (1 << 63) else c


def _float64_torch(z: torch.Tensor) -> torch.Tensor:
    return z.to(torch.float64)


_mix64_torch = _make_mix64(_shr_torch, _const_torch)
_uniform_torch = _make_uniform(_mix64_torch, _shr_torch, _const_torch, _float64_torch)


def _signed(values: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(np.ascontiguousarray(values).view(np.int64))
    return values.to(device=device, dtype=torch.int64)


def event_keys_torch(
    seed: int, run: np.ndarray, lumi: np.ndarray, event: np.ndarray, device: str = "cpu"
) -> torch.Tensor:
    """Same keys as :func:`event_keys` (as ``int64`` bit patterns), computed with torch."""
    s = _mix64_torch(torch.tensor(_const_torch(seed & 0xFFFFFFFFFFFFFFFF), device=device))
    r, lu, ev = (_signed(np.asarray(a).astype(np.int64), device) for a in (run, lumi, event))
    return _mix64_torch(_mix64_torch(_mix64_torch(s ^ r) ^ lu) ^ ev)


def object_uniforms_torch(
    keys: torch.Tensor, index: torch.Tensor, quantity: int, draw: int
) -> torch.Tensor:
    """Same uniforms as :func:`object_uniforms`, computed with torch on ``keys.device``."""
    return _uniform_torch(keys, index, quantity, draw)
