"""Event identity: the (run, luminosityBlock, event) triple every random number is keyed on.

Where it comes from, in order:

1. ``event_id`` given by the caller: one integer per event, or a ``(run, lumi, event)`` triple of
   per-event arrays.
2. A coffea NanoEvents collection: ``run``/``luminosityBlock``/``event`` of its events (NanoAOD),
   ``Event.Number`` (Delphes), else the global entry number (chunk ``entrystart`` + position).
   The collection must not have been sliced along the event axis (``events[mask].GenJet``):
   coffea hands back the unsliced events, so a length mismatch raises and asks for ``event_id``.
3. A plain array: the position of the event in the array (so pass ``event_id`` when smearing
   parts of a sample separately).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

__all__ = ["EventIdentity", "event_identity"]

EventIdentity = tuple[np.ndarray, np.ndarray, np.ndarray]


def _ints(values: Any, n: int, what: str) -> np.ndarray:
    array = np.asarray(ak.to_numpy(values) if isinstance(values, ak.Array) else values)
    if array.shape != (n,):
        raise ValueError(f"{what} must have one entry per event ({n}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got {array.dtype}")
    return array.astype(np.uint64).view(np.int64)


def _from_coffea(truth: ak.Array, n: int) -> EventIdentity | None:
    if "@events_factory" not in truth.attrs and "@original_array" not in truth.attrs:
        return None
    events = truth._events()
    if len(events) != n:
        raise ValueError(
            f"this collection has {n} events but its NanoEvents has {len(events)}: it was sliced "
            "along the event axis, so the event identity is ambiguous. Smear before slicing, or "
            "pass event_id=(events.run, events.luminosityBlock, events.event)"
        )
    fields = ak.fields(events)
    if {"run", "luminosityBlock", "event"} <= set(fields):
        return tuple(
            _ints(events[f], n, f) for f in ("run", "luminosityBlock", "event")
        )  # type: ignore[return-value]
    zeros = np.zeros(n, dtype=np.int64)
    if "Event" in fields and "Number" in ak.fields(events.Event):
        return zeros, zeros, _ints(ak.firsts(events.Event.Number), n, "Event.Number")
    start = int(events.metadata.get("entrystart", 0) or 0)
    return zeros, zeros, np.arange(start, start + n, dtype=np.int64)


def event_identity(truth: ak.Array, event_id: Any = None) -> EventIdentity:
    """``(run, lumi, event)`` int64 arrays, one entry per event of ``truth``."""
    n = len(truth)
    zeros = np.zeros(n, dtype=np.int64)
    if event_id is None:
        found = _from_coffea(truth, n)
        return found if found is not None else (zeros, zeros, np.arange(n, dtype=np.int64))
    if isinstance(event_id, tuple):
        if len(event_id) != 3:
            raise ValueError("event_id as a tuple must be (run, luminosityBlock, event)")
        run, lumi, event = event_id
        return _ints(run, n, "run"), _ints(lumi, n, "luminosityBlock"), _ints(event, n, "event")
    return zeros, zeros, _ints(event_id, n, "event_id")
