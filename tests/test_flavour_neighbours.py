"""Jets next to b and c jets: ΔR to the closest flavoured GenJet, learnt b-tag mistag near them."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pyarrow as pa
import pytest

import mlsmear
from mlsmear.event_pairs import columns_from_pairs, default_inputs
from mlsmear.flavour_neighbours import ALONE, flavour_neighbours
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model

JETS_PER_EVENT = 10
P_B, P_NEAR, P_LIGHT = 0.7, 0.6, 0.03  # the toy teacher's tag rates (b; light near a b; light)
NEAR = 0.5  # ... "near": the closest b GenJet within this ΔR, as Delphes' flavour cone


def _dr(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi)


def test_closest_flavoured_neighbour_by_brute_force():
    rng = np.random.default_rng(3)
    n = 400
    group = rng.integers(0, 60, n) * 7  # any integers, in any order
    eta, phi = rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    flavour = rng.choice([0, 4, 5], n)
    got = flavour_neighbours(group, eta, phi, flavour)
    for i in range(n):
        for name, f in (("dr_b", 5), ("dr_c", 4)):
            others = (group == group[i]) & (flavour == f) & (np.arange(n) != i)
            want = _dr(eta[i], phi[i], eta[others], phi[others]).min() if others.any() else ALONE
            assert got[name][i] == pytest.approx(want)
    empty = flavour_neighbours(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    assert empty["dr_b"].size == 0 and empty["dr_c"].size == 0


def _pairs(n_events: int, rng: np.random.Generator) -> pa.Table:
    """A jet pairs table: events of JETS_PER_EVENT jets in |η| < 1, |φ| < 1.5 (a quarter of the
    light jets have a b jet within NEAR); the toy teacher tags b jets P_B of the time, other jets
    P_NEAR when a b GenJet lies within NEAR, else P_LIGHT."""
    n = n_events * JETS_PER_EVENT
    det = SyntheticDetector()
    truth = det.truth(n, rng)
    truth["eta"], truth["phi"] = rng.uniform(-1, 1, n), rng.uniform(-1.5, 1.5, n)
    truth["hadronFlavour"] = rng.choice([0.0, 5.0], n, p=[0.8, 0.2])
    event = np.repeat(np.arange(n_events), JETS_PER_EVENT)
    reco, matched = det.reconstruct(truth, rng)
    near = flavour_neighbours(event, truth["eta"], truth["phi"], truth["hadronFlavour"])["dr_b"]
    p_tag = np.select([truth["hadronFlavour"] == 5, near < NEAR], [P_B, P_NEAR], P_LIGHT)
    reco["btag"] = (rng.random(n) < p_tag).astype(float)
    return pa.table({
        "event": event, **{f"truth_{k}": v for k, v in truth.items()}, "matched": matched,
        **{f"reco_{k}": np.where(matched, v, np.nan) for k, v in reco.items()},
    })


@pytest.fixture(scope="module")
def model() -> mlsmear.KindModel:
    """A jet model with b-tag trained from a toy pairs table (dr_b, dr_c computed from it)."""
    truth, reco, matched = columns_from_pairs("jet", _pairs(4_000, np.random.default_rng(21)))
    inputs = default_inputs("jet", truth)
    assert ("dr_b", "quantile") in inputs and ("dr_c", "quantile") in inputs
    config = TrainConfig(trunk=(32, 32), head=32, epochs=8, batch_size=512, progress=False,
                         seed=5)
    return fit_model("jet", truth, reco, matched, inputs=inputs, config=config,
                     thresholds={"pt_min": 15.0}, tag_types={"btag": "decision"})


def test_light_jets_next_to_a_b_jet_are_tagged_as_the_teacher_tags_them(model):
    """Trained from a pairs table (dr_b computed from it), smeared as jagged events (dr_b
    computed by the engine): the mistag of light jets near a b jet is the teacher's, not the
    average that a model blind to its neighbours would give."""
    assert "dr_b" not in model.input_fields  # computed from the event's jets, not read

    hold = _pairs(4_000, np.random.default_rng(22)).to_pydict()
    fields = {k: np.asarray(hold[f"truth_{k}"]) for k in ("pt", "eta", "phi", "mass",
                                                         "hadronFlavour")}
    jets = ak.unflatten(ak.zip(fields), np.full(4_000, JETS_PER_EVENT))
    out = mlsmear.smear(jets, model=model, seed=2)
    tags = ak.to_numpy(ak.flatten(out.btag))
    event = np.repeat(np.arange(4_000), JETS_PER_EVENT)
    index = (JETS_PER_EVENT * np.repeat(np.arange(4_000), ak.to_numpy(ak.num(out)))
             + ak.to_numpy(ak.flatten(out.truth_index)))
    dr_b = flavour_neighbours(event, fields["eta"], fields["phi"],
                              fields["hadronFlavour"])["dr_b"][index]
    light = fields["hadronFlavour"][index] == 0
    for sel, p in ((light & (dr_b < NEAR - 0.1), P_NEAR), (light & (dr_b > NEAR + 0.2), P_LIGHT)):
        # 4 binomial sigmas of the hold-out and of the as large training sample, plus 0.1 for
        # a small network trained for seconds smoothing the step at NEAR; a model blind to dr_b
        # gives every light jet the average, 0.17, near a b jet too
        sigma = np.sqrt(2 * p * (1 - p) / sel.sum())
        assert abs(tags[sel].mean() - p) < 4 * sigma + 0.1, (p, tags[sel].mean(), sel.sum())


def test_flavoured_neighbours_on_empty_and_bad_input(model):
    """No events, events without jets, a jet alone (no neighbour: dr_b = 10): smeared; a NaN
    or missing hadronFlavour (the neighbours' source): refused, naming the field."""
    jet = {"pt": [[50.0]], "eta": [[0.1]], "phi": [[0.2]], "mass": [[5.0]], "hadronFlavour": [[0]]}
    alone = ak.zip({k: np.asarray(v, dtype=np.float64) for k, v in jet.items()})
    assert len(mlsmear.smear(alone[:0], model=model, seed=1, event_id=np.zeros(0, int))) == 0
    no_jets = mlsmear.smear(alone[:, :0], model=model, seed=1, event_id=[3])
    assert ak.num(no_jets).tolist() == [0]
    out = mlsmear.smear(alone, model=model, seed=1, event_id=[3])
    assert len(out) == 1 and ak.num(out).tolist()[0] <= 1
    with pytest.raises(ValueError, match="hadronFlavour"):
        mlsmear.smear(ak.with_field(alone, np.nan, "hadronFlavour"), model=model, seed=1,
                      event_id=[3])
    with pytest.raises(ValueError, match="hadronFlavour"):
        mlsmear.smear(alone[["pt", "eta", "phi", "mass"]], model=model, seed=1, event_id=[3])
