"""Event identity: the (run, luminosityBlock, event) triple every random number is keyed on.

Where it comes from, in order:

1. ``event_id`` given by the caller: one integer per event, or a ``(run, lumi, event)`` triple of
   per-event arrays.
2. A coffea NanoEvents collection: ``run``/``luminosityBlock``/``event`` of its events (NanoAOD),
   ``Event.Number`` (Delphes), else the global entry number (chunk ``entrystart`` + position).
   :func:`identity_columns` names these columns for eager and dask-awkward events alike.
   The collection must not have been sliced along the event axis (``events[mask].GenJet``):
   coffea hands back the unsliced events, so a length mismatch raises and asks for ``event_id``.
3. A plain array: the position of the event in the array (so pass ``event_id`` when smearing
   parts of a sample separately).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

__all__ = ["EventIdentity", "event_identity", "events_of", "identity_columns"]

EventIdentity = tuple[np.ndarray, np.ndarray, np.ndarray]


def _ints(values: Any, n: int, what: str) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=np.int64)
    array = np.asarray(ak.to_numpy(values) if isinstance(values, ak.Array) else values)
    if array.shape != (n,):
        raise ValueError(f"{what} must have one entry per event ({n}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be integers, got {array.dtype}")
    return array.astype(np.uint64).view(np.int64)


def identity_columns(events: Any) -> tuple[Any, Any, Any] | None:
    """``(run, luminosityBlock, event)`` columns of coffea events (eager or dask-awkward).

    NanoAOD gives all three; Delphes gives ``(None, None, Event.Number)`` (``None`` reads as 0);
    other schemas give ``None``.
    """
    fields = set(events.fields)
    if {"run", "luminosityBlock", "event"} <= fields:
        return events.run, events.luminosityBlock, events.event
    if "Event" in fields and "Number" in events.Event.fields:
        number = events.Event.Number
        return None, None, (number[:, 0] if number.ndim == 2 else number)
    return None


def events_of(attrs: Any) -> Any:
    """The NanoEvents (eager or dask-awkward) a coffea collection with these ``attrs`` was taken
    from, or None. (What coffea's ``_events()`` does, also for collections without that method,
    e.g. Delphes ``Particle``.)"""
    if "@original_array" in attrs:
        return attrs["@original_array"]
    if "@events_factory" in attrs:
        return attrs["@events_factory"].events()
    return None


def _from_coffea(truth: ak.Array, n: int) -> EventIdentity | None:
    events = events_of(truth.attrs)
    if events is None:
        return None
    if len(events) != n:
        raise ValueError(
            f"this collection has {n} events but its NanoEvents has {len(events)}: it was sliced "
            "along the event axis, so the event identity is ambiguous. Smear before slicing, or "
            "pass event_id=(events.run, events.luminosityBlock, events.event)"
        )
    columns = identity_columns(events)
    if columns is not None:
        names = ("run", "luminosityBlock", "event")
        return tuple(_ints(c, n, w) for c, w in zip(columns, names, strict=True))  # type: ignore
    zeros = np.zeros(n, dtype=np.int64)
    start = int(events.metadata.get("entrystart", 0) or 0)
    return zeros, zeros, np.arange(start, start + n, dtype=np.int64)


def event_identity(truth: ak.Array, event_id: Any = None) -> EventIdentity:
    """``(run, lumi, event)`` int64 arrays, one entry per event of ``truth``.

    ``event_id``: ``None`` (see the module docstring), one integer per event, or a
    ``(run, luminosityBlock, event)`` triple of per-event arrays (an entry ``None`` reads as 0).
    """
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
