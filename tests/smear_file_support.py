"""Shared by the ``mlsmear smear`` tests: compare columns value for value, read an output file
(plain, or as NanoAOD NanoEvents)."""

from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory


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


def nano_events_of(path: Path):
    """Eager NanoAOD NanoEvents of a ROOT or parquet output (coffea's warning about the
    cross-references into collections the output does not hold is silenced)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)
        if path.suffix == ".root":
            factory, source = NanoEventsFactory.from_root, {str(path): "Events"}
        else:
            factory, source = NanoEventsFactory.from_parquet, str(path)
        return factory(source, schemaclass=NanoAODSchema, mode="eager").events()
