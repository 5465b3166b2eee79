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

Only NanoAOD's triple is unique across files. Where the identity repeats from file to file
(Delphes ``Event.Number``, entry numbers, positions in an array), a **sample key** is folded into
the run slot of the identity (``run ^ key``), so that two files never share random numbers
(:func:`sample_key_for`): the caller's ``sample_id`` (any string or integer: a file or sample
name), else the file of a coffea chunk (``fileuuid``/``uuid``/``filename`` in ``events.metadata``,
as coffea's ``Runner`` sets them); where neither exists an :class:`IdentityWarning` says so. The
key is 0 for NanoAOD and for a caller's ``event_id``, so their numbers are those of the triple.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "EventIdentity", "IdentityWarning", "event_identity", "events_of", "identity_columns",
    "sample_key", "sample_key_for", "fold_sample",
]

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


class IdentityWarning(UserWarning):
    """The event identity repeats across files or arrays: another input smeared with the same seed
    gets the same random numbers (pass ``sample_id=``)."""


def sample_key(sample_id: int | str | bytes) -> int:
    """64-bit key of a sample or file name (never 0): BLAKE2b of its text."""
    if isinstance(sample_id, bool) or not isinstance(sample_id, int | np.integer | str | bytes):
        raise TypeError(
            f"sample_id must be a string, bytes or an integer (a file or sample name), got "
            f"{type(sample_id).__name__}"
        )
    if isinstance(sample_id, bytes):
        text = b"bytes:" + sample_id
    elif isinstance(sample_id, str):
        text = b"str:" + sample_id.encode("utf-8", "surrogatepass")
    else:
        text = b"int:%d" % int(sample_id)
    key = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
    return key or 1


def _file_key(events: Any) -> int | None:
    metadata = getattr(events, "metadata", None) or {}
    for name in ("fileuuid", "uuid", "filename"):
        value = metadata.get(name) if isinstance(metadata, dict) else None
        if value is not None and value != "":
            return sample_key(value if isinstance(value, str | bytes) else str(value))
    return None


def sample_key_for(
    truth: Any, event_id: Any = None, sample_id: Any = None, *, lazy: bool = False
) -> int:
    """The sample key folded into the identity of ``truth``'s events (see the module docstring).

    0 where the identity is unique without it (NanoAOD, a caller's ``event_id``); warns
    (:class:`IdentityWarning`) where it is not and no file or sample name is known.
    """
    if sample_id is not None:
        return sample_key(sample_id)
    if event_id is not None:
        return 0
    attrs = getattr(truth, "attrs", None) or {}
    events = events_of(attrs) if attrs else None
    if events is not None:
        fields = set(events.fields)
        if {"run", "luminosityBlock", "event"} <= fields:
            return 0
        key = None if lazy else _file_key(events)
        if key is not None:
            return key
        what = (
            "Delphes Event.Number" if "Event" in fields else "the entry number in its file"
        )
        where = (
            "dask-awkward events do not say which file a partition comes from"
            if lazy else "these events carry no file name (coffea's Runner sets it)"
        )
        warnings.warn(
            f"the event identity is {what}, which repeats in every file, and {where}: another "
            "file smeared with the same seed gets the same random numbers. Pass sample_id= (the "
            "file or sample name), or event_id= unique across files",
            IdentityWarning, stacklevel=4,
        )
        return 0
    warnings.warn(
        "the event identity is the position in the array: another array smeared with the same "
        "seed gets the same random numbers. Pass sample_id= (the file or sample name), or "
        "event_id= unique across samples",
        IdentityWarning, stacklevel=4,
    )
    return 0


def fold_sample(run: np.ndarray, key: int) -> np.ndarray:
    """``run`` with the sample key folded in (``run ^ key``; unchanged for key 0), int64."""
    run = np.asarray(run, dtype=np.int64)
    if key == 0:
        return run
    return run ^ np.array(key, dtype=np.uint64).view(np.int64)
