"""Shared by the ``mlsmear smear`` tests: compare columns value for value, read an output file."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import uproot


def assert_same(a, b, what: str) -> None:
    """``a`` and ``b`` (flat or jagged) hold the same values in the same layout."""
    a, b = ak.Array(a), ak.Array(b)
    assert len(a) == len(b), what
    if a.ndim > 1:
        assert ak.to_list(ak.num(a)) == ak.to_list(ak.num(b)), f"{what}: counts differ"
    np.testing.assert_array_equal(ak.to_numpy(ak.ravel(a)), ak.to_numpy(ak.ravel(b)), what)


def read_output(path: Path) -> ak.Array:
    """The ``Events`` of a ROOT output, or the table of a parquet output."""
    if path.suffix == ".root":
        return uproot.open(path)["Events"].arrays()
    return ak.from_parquet(path)
