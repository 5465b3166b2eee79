"""How to smear: :class:`SmearOptions`, the checked keyword arguments of :func:`mlsmear.smear`.

The public functions (``smear``, ``smear_events``, ``MLSmearProcessor``) keep their typed keyword
arguments and docstrings; each builds one frozen :class:`SmearOptions`, checked once, and passes
it down (to :mod:`mlsmear.columnar` for plain arrays, :mod:`mlsmear.coffea` for NanoEvents).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .engine import DEFAULT_BATCH_SIZE
from .model_files import PRECISIONS

__all__ = ["SmearOptions", "check_options"]

#: Largest seed + 1 (seeds are 64-bit: [-2**63, 2**64), negative ones as two's complement).
_SEED_END = 1 << 64


def check_options(seed: Any, batch_size: Any, precision: Any = None) -> int:
    """The seed as a Python int; ``TypeError``/``ValueError`` naming a bad seed, batch size or
    precision."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not -(_SEED_END >> 1) <= seed < _SEED_END:
        raise ValueError(f"seed must be a 64-bit integer in [-2**63, 2**64), got {seed}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(
            f"precision must be None (the model card's) or one of {', '.join(PRECISIONS)}, got "
            f"{precision!r}"
        )
    return seed


@dataclass(frozen=True)
class SmearOptions:
    """Everything :func:`mlsmear.smear` is told besides the truth and the model (see there).

    Arguments:
        kind: object kind, or None to infer it; seed: the user seed (a 64-bit integer, stored
            as a Python int); event_id: event identity, or None for the default.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``; batch_size: rows per network evaluation.
        extra: additional per-object inputs by name (plain arrays only).
        sample_id: file or sample name folded into the event identity.
        precision: network evaluation precision (None: the model card's).

    Raises:
        TypeError, ValueError: a bad seed, batch size or precision (at construction).
    """

    kind: str | None = None
    seed: int = 0
    event_id: Any = None
    device: str | torch.device = "auto"
    batch_size: int = DEFAULT_BATCH_SIZE
    extra: Mapping[str, Any] | None = None
    sample_id: str | int | None = None
    precision: str | None = None

    def __post_init__(self) -> None:
        seed = check_options(self.seed, self.batch_size, self.precision)
        object.__setattr__(self, "seed", seed)
