"""pt_order: the kept objects of each event in descending pT, as a lexsort would give."""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.ordering import pt_order


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_lexsort_with_ties_and_empty_events(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 12, 5000)
    counts[-3:] = 0  # trailing empty events
    n = int(counts.sum())
    pt = rng.integers(20, 40, n).astype(np.float64)  # many ties
    keep = rng.random(n) < 0.7
    pt[~keep] = np.nan
    event = np.repeat(np.arange(counts.size), counts)
    kept = np.flatnonzero(keep)
    expected = kept[np.lexsort((-pt[kept], event[kept]))]
    order, new_counts = pt_order(pt, keep, counts)
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(new_counts, np.bincount(event[kept], minlength=counts.size))


def test_no_objects():
    order, new_counts = pt_order(np.zeros(0), np.zeros(0, bool), np.zeros(4, np.int64))
    assert order.size == 0 and new_counts.tolist() == [0, 0, 0, 0]
