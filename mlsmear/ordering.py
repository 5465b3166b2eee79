"""Descending-pT order of the kept objects of each event (numba, parallel over events)."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["pt_order"]


@numba.njit(cache=True, nogil=True, parallel=True)
def _pt_order_nb(pt, keep, offsets, out, out_offsets):
    for e in numba.prange(offsets.size - 1):
        j = out_offsets[e]
        for i in range(offsets[e], offsets[e + 1]):
            if not keep[i]:
                continue
            # insertion sort, stable: an object moves before earlier ones only if strictly harder
            k = j
            while k > out_offsets[e] and pt[out[k - 1]] < pt[i]:
                out[k] = out[k - 1]
                k -= 1
            out[k] = i
            j += 1


def pt_order(pt: np.ndarray, keep: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the kept objects, event by event, each event's in descending ``pt`` (ties
    keep their input order), and the number kept per event.

    Arguments:
        pt: flat transverse momenta (GeV) of objects grouped by event (NaN only where not kept).
        keep: flat bool mask of the objects to keep.
        counts: objects per event (summing to ``pt.size``).

    Equivalent to ``np.lexsort((-pt[k], event[k]))`` on the kept indices ``k``, linear in the
    number of objects for the few objects an event holds.
    """
    keep = np.ascontiguousarray(keep, dtype=np.bool_)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    cumulative = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=cumulative[1:])
    kept = cumulative[offsets[1:]] - cumulative[offsets[:-1]]
    out_offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(kept, out=out_offsets[1:])
    out = np.empty(out_offsets[-1], dtype=np.int64)
    _pt_order_nb(np.ascontiguousarray(pt, dtype=np.float64), keep, offsets, out, out_offsets)
    return out, kept
