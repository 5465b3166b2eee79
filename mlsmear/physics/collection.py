"""Columnar storage of one object kind for a batch of events: flat numpy columns + event offsets.

Every stage of the reference detector reads and writes :class:`Collection` objects. Rows are
always grouped by event (all rows of event 0, then event 1, ...), so a collection converts to a
jagged awkward array with a single ``ak.unflatten``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import awkward as ak
import numpy as np

__all__ = ["Collection", "group_members"]


def group_members(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows by group for rows in any order: ``(members, offsets)``, so that
    ``members[offsets[g]:offsets[g + 1]]`` are the rows of group ``g`` in their order.

    ``group``: dense group numbers 0 … n_groups − 1 (e.g. ``np.unique(keys, return_inverse=True)``);
    a number no row has is an empty group.
    """
    group = np.asarray(group, dtype=np.int64)
    members = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=group.max(initial=-1) + 1)
    return members, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


class Collection:
    """Rows of one object kind for ``n_events`` events, stored as flat columns plus offsets.

    Arguments:
        offsets: int64 array of length ``n_events + 1``; rows of event ``i`` are
            ``offsets[i]:offsets[i + 1]``.
        columns: name -> 1-D numpy array, each of length ``offsets[-1]``.

    Example:
        >>> c = Collection.from_counts([2, 0, 1], {"pt": np.array([30.0, 20.0, 50.0])})
        >>> c.select(c["pt"] > 25.0).counts.tolist()
        [1, 0, 1]
    """

    __slots__ = ("offsets", "columns", "_event_index")

    def __init__(self, offsets: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        n_rows = int(self.offsets[-1])
        self.columns = {name: np.asarray(values) for name, values in columns.items()}
        for name, values in self.columns.items():
            if values.shape != (n_rows,):
                raise ValueError(
                    f"column {name!r} has shape {values.shape}, expected ({n_rows},) from offsets"
                )
        self._event_index: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_counts(cls, counts: Sequence[int] | np.ndarray, columns: Mapping[str, np.ndarray]):
        """Build from the number of rows per event."""
        counts = np.asarray(counts, dtype=np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(offsets, columns)

    @classmethod
    def from_event_index(
        cls, event_index: np.ndarray, n_events: int, columns: Mapping[str, np.ndarray]
    ) -> Collection:
        """Build from rows already sorted by their (0-based) event index."""
        counts = np.bincount(np.asarray(event_index, dtype=np.int64), minlength=n_events)
        return cls.from_counts(counts, columns)

    @classmethod
    def one_per_event(cls, columns: Mapping[str, np.ndarray]) -> Collection:
        """One row per event (e.g. missing ET), from columns of length ``n_events``."""
        n_events = len(next(iter(columns.values())))
        return cls(np.arange(n_events + 1, dtype=np.int64), columns)

    @classmethod
    def empty(cls, n_events: int, columns: Mapping[str, np.dtype | type]) -> Collection:
        """A collection with ``n_events`` events and no rows (name -> dtype)."""
        return cls(
            np.zeros(n_events + 1, dtype=np.int64),
            {name: np.zeros(0, dtype=dtype) for name, dtype in columns.items()},
        )

    @classmethod
    def from_awkward(cls, array: ak.Array, fields: Iterable[str] | None = None) -> Collection:
        """Build from a jagged awkward record array (events x objects).

        Raises ``ValueError`` naming the missing fields when ``fields`` are not all present.
        """
        fields = list(array.fields if fields is None else fields)
        missing = [name for name in fields if name not in array.fields]
        if missing:
            raise ValueError(
                f"input is missing the fields {missing}; it must have {fields} "
                f"(got {list(array.fields)})"
            )
        counts = ak.to_numpy(ak.num(array, axis=1))
        flat = ak.flatten(array, axis=1)  # the records once, not each field
        columns = {name: ak.to_numpy(flat[name]) for name in fields}
        return cls.from_counts(counts, columns)

    # ------------------------------------------------------------------ access
    @property
    def n_events(self) -> int:
        """Number of events (including events without rows)."""
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def counts(self) -> np.ndarray:
        """Rows per event (int64)."""
        return np.diff(self.offsets)

    @property
    def event_index(self) -> np.ndarray:
        """0-based event index of every row (int64, cached)."""
        if self._event_index is None:
            self._event_index = np.repeat(np.arange(self.n_events, dtype=np.int64), self.counts)
        return self._event_index

    @property
    def names(self) -> list[str]:
        """Column names."""
        return list(self.columns)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; columns are {self.names}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __repr__(self) -> str:
        return f"Collection({self.n_events} events, {len(self)} rows, columns={self.names})"

    # ------------------------------------------------------------------ derived collections
    def with_columns(self, **columns: np.ndarray) -> Collection:
        """A copy with columns added or replaced (same rows)."""
        out = Collection(self.offsets, {**self.columns, **columns})
        out._event_index = self._event_index
        return out

    def select(self, mask: np.ndarray, columns: Iterable[str] | None = None) -> Collection:
        """Keep the rows where ``mask`` is true (and only ``columns``, when given: the others are
        not copied); the event structure is kept."""
        mask = np.asarray(mask, dtype=bool)
        counts = np.bincount(self.event_index[mask], minlength=self.n_events)
        names = self.columns if columns is None else columns
        return Collection.from_counts(counts, {k: self[k][mask] for k in names})

    def to_awkward(self) -> ak.Array:
        """Jagged awkward record array (events x rows) of all columns."""
        flat = ak.zip(dict(self.columns), depth_limit=1) if self.columns else ak.Array([])
        return ak.unflatten(flat, self.counts)

    @staticmethod
    def concatenate(parts: Sequence[Collection]) -> Collection:
        """Merge collections of the same events row-wise, keeping the columns common to all.

        Within an event the rows of ``parts[0]`` come first, then those of ``parts[1]``, ...
        """
        if not parts:
            raise ValueError("concatenate needs at least one collection")
        n_events = parts[0].n_events
        if any(p.n_events != n_events for p in parts):
            raise ValueError(f"cannot merge collections with {[p.n_events for p in parts]} events")
        names = [n for n in parts[0].names if all(n in p.columns for p in parts[1:])]
        order = np.argsort(np.concatenate([p.event_index for p in parts]), kind="stable")
        columns = {n: np.concatenate([p.columns[n] for p in parts])[order] for n in names}
        return Collection.from_counts(np.sum([p.counts for p in parts], axis=0), columns)
