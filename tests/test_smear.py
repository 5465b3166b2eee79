"""smear(): reproducibility, output structure, bad input."""

from __future__ import annotations

import pickle

import awkward as ak
import numpy as np
import pytest
import vector

import mlsmear
from mlsmear.synthetic import SyntheticDetector

# the toy truth reaches slightly beyond the tiny models' training range; tested on its own below
pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")


def _events(n_events: int, seed: int = 1) -> ak.Array:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 8, n_events)
    truth = SyntheticDetector().truth(int(counts.sum()), rng)
    truth["pdgId"] = rng.choice([-11, 11], counts.sum())
    return ak.unflatten(ak.zip(truth), counts)


def _assert_identical(a: ak.Array, b: ak.Array) -> None:
    assert ak.to_list(ak.num(a)) == ak.to_list(ak.num(b))
    for field in ak.fields(a):
        np.testing.assert_array_equal(
            ak.to_numpy(ak.flatten(a[field])), ak.to_numpy(ak.flatten(b[field]))
        )


def test_halves_equal_whole_bit_for_bit(tiny):
    events = _events(3000)
    ids = np.arange(len(events)) + 10_000
    whole = mlsmear.smear(events, model=tiny, kind="jet", seed=5, event_id=ids, batch_size=1000)
    parts = [
        mlsmear.smear(events[s], model=tiny, kind="jet", seed=5, event_id=ids[s], batch_size=333)
        for s in (slice(0, 1234), slice(1234, None))
    ]
    _assert_identical(whole, ak.concatenate(parts))


def test_other_seed_differs(tiny):
    events = _events(500)
    a = mlsmear.smear(events, model=tiny, kind="jet", seed=1)
    b = mlsmear.smear(events, model=tiny, kind="jet", seed=2)
    assert not np.array_equal(ak.to_numpy(ak.flatten(a.pt)), ak.to_numpy(ak.flatten(b.pt)))


def test_output_structure(tiny):
    events = _events(400)
    out = mlsmear.smear(events, model=tiny, kind="electron", seed=1)
    assert len(out) == len(events)
    assert set(ak.fields(out)) == {"pt", "eta", "phi", "mass", "charge", "truth_index"}
    assert ak.all(ak.num(out) <= ak.num(events))
    pt = out.pt
    assert ak.all(pt[:, 1:] <= pt[:, :-1]), "not pT-ordered"
    assert ak.all(pt > 15.0), "threshold not applied"
    matched = events[out.truth_index]
    assert ak.all(out.charge == -np.sign(matched.pdgId))
    total = (out[ak.num(out) > 1][:, 0] + out[ak.num(out) > 1][:, 1]).mass  # vector behaviour
    assert ak.all(total >= 0)
    assert isinstance(out[ak.num(out) > 0][0, 0], vector.backends.awkward.MomentumRecord4D)


def test_met_per_event(tiny):
    truth, _ = SyntheticDetector().met(300, np.random.default_rng(4))
    out = mlsmear.smear(ak.zip(truth), model=tiny, kind="met", seed=1)
    assert len(out) == 300 and set(ak.fields(out)) == {"pt", "phi"}
    assert np.all(ak.to_numpy(out.pt) >= 0)
    assert ak.all(out.px ** 2 + out.py ** 2 - out.pt ** 2 < 1e-6 * out.pt ** 2 + 1e-9)


@pytest.mark.parametrize("n_events", [0, 5])
def test_empty_inputs(tiny, n_events):
    events = _events(max(n_events, 1))[:n_events]
    events = ak.unflatten(ak.flatten(events)[:0], np.zeros(n_events, dtype=np.int64))
    out = mlsmear.smear(events, model=tiny, kind="electron")
    assert len(out) == n_events and ak.sum(ak.num(out)) == 0
    assert set(ak.fields(out)) == {"pt", "eta", "phi", "mass", "charge", "truth_index"}


@pytest.mark.parametrize(
    ("value", "match"),
    [(np.nan, "NaN/inf"), (np.inf, "NaN/inf"), (-5.0, "negative")],
)
def test_bad_pt_values(tiny, value, match):
    events = _events(50)
    flat = ak.flatten(events)
    pt = ak.to_numpy(flat.pt).copy()
    pt[[3, 7]] = value
    bad = ak.unflatten(ak.with_field(flat, pt, "pt"), ak.num(events))
    with pytest.raises(ValueError, match=rf"'pt' has 2 {match}"):
        mlsmear.smear(bad, model=tiny, kind="jet")


def test_missing_field_named(tiny):
    events = _events(20)
    no_mass = ak.zip({f: events[f] for f in ("pt", "eta", "phi")})
    with pytest.raises(ValueError, match=r"lacks field\(s\) \['mass'\]"):
        mlsmear.smear(no_mass, model=tiny, kind="jet")


def test_missing_derived_inputs_say_what_their_values_mean():
    """The shipped jet model on plain pt, eta, phi, mass: each missing input with its meaning, and
    the coffea collection that computes them; a muon collection is not sent to GenJet."""
    events = _events(5)
    plain = ak.zip({f: events[f] for f in ("pt", "eta", "phi", "mass")})
    with pytest.raises(ValueError) as err:
        mlsmear.smear(plain, model="atlas-like", kind="jet")
    message = str(err.value)
    assert "hadronFlavour: 5 b, 4 c, 0 light" in message and "muon_frac: summed pT" in message
    assert "em_frac: summed pT" in message and "smear events.GenJet" in message
    with pytest.raises(ValueError, match="smear events.GenPart with kind='muon'") as err:
        mlsmear.smear(plain, model="atlas-like", kind="muon")
    assert "GenJet)" not in str(err.value)


def test_kind_mismatch_and_unknown_kind(tiny):
    events = _events(20)
    with pytest.raises(ValueError, match="'jet' model but kind='muon'"):
        mlsmear.smear(events, model=tiny["jet"], kind="muon")
    with pytest.raises(ValueError, match="unknown object kind 'tau'"):
        mlsmear.smear(events, model=tiny, kind="tau")
    with pytest.raises(ValueError, match="cannot tell which object kind"):
        mlsmear.smear(ak.zip({f: events[f] for f in ("pt", "eta", "phi", "mass")}), model=tiny)


def test_out_of_range_warns_with_count(tiny):
    events = _events(50)
    flat = ak.flatten(events)
    pt = ak.to_numpy(flat.pt).copy()
    pt[:3] = 1e6
    far = ak.unflatten(ak.with_field(flat, pt, "pt"), ak.num(events))
    with pytest.warns(mlsmear.OutOfRangeWarning, match=r"^3 of \d+ jet objects have pt outside"
                      ) as caught:
        mlsmear.smear(far, model=tiny, kind="jet")
    warning = caught[0].message
    assert (warning.kind, warning.field, warning.count, warning.total) == ("jet", "pt", 3, len(pt))
    again = pickle.loads(pickle.dumps(warning))
    assert (str(again), again.field, again.count) == (str(warning), "pt", 3)


def test_bad_event_id(tiny):
    events = _events(20)
    with pytest.raises(ValueError, match="one entry per event"):
        mlsmear.smear(events, model=tiny, kind="jet", event_id=np.arange(5))
