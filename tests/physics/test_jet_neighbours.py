"""nb_jet_dr / nb_jet_ratio: the GenJet beside an object's own (the one jet_iso reads)."""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.physics.collection import Collection
from mlsmear.physics.truth import jet_surroundings


def _objects(counts: list[int], pt: list[float], eta: list[float], phi: list[float]) -> Collection:
    return Collection.from_counts(counts, {"pt": np.array(pt, float), "eta": np.array(eta, float),
                                           "phi": np.array(phi, float)})


def test_own_jet_skipped_neighbour_found_alone_and_no_jets():
    # event 0: a lepton inside its own jet (ΔR 0.05) with a neighbour at ΔR 0.45 and one at 2.0;
    # event 1: a lepton with one jet at ΔR 0.6 (not its own: beyond 0.4); event 2: no jets
    leptons = _objects([1, 1, 1], [40.0, 30.0, 20.0], [0.0, 1.0, -1.0], [0.0, 0.0, 0.0])
    jets = _objects([3, 1, 0], [42.0, 80.0, 20.0, 15.0], [0.05, 0.45, 2.0, 1.6], [0.0] * 4)
    out = jet_surroundings(leptons, jets)
    np.testing.assert_allclose(out["nb_jet_dr"], [0.45, 0.6, 10.0])
    np.testing.assert_allclose(out["nb_jet_ratio"], [80.0 / 40.0, 15.0 / 30.0, 0.0])
    np.testing.assert_allclose(out["jet_iso"], [2.0 / 40.0, 0.0, 0.0])


def test_zero_events_and_mismatched_events():
    none = _objects([], [], [], [])
    assert jet_surroundings(none, none)["nb_jet_dr"].size == 0
    with pytest.raises(ValueError, match="objects have 1 events, jets 0"):
        jet_surroundings(_objects([1], [10.0], [0.0], [0.0]), none)


def test_a_nan_genjet_is_refused():
    leptons = _objects([1], [40.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="GenJets hold 1 NaN/inf"):
        jet_surroundings(leptons, _objects([2], [30.0, 20.0], [np.nan, 1.0], [0.0, 0.0]))
