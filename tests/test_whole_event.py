"""Whole events: jet neighbourhood inputs, learnt tags, MET from the sampled objects, closure."""

from __future__ import annotations

import warnings

import awkward as ak
import numpy as np
import pytest

import mlsmear
from mlsmear.met_context import (
    MUON_TRACKER_ETA,
    REFERENCE,
    ObjectTerms,
    object_recoil,
    reference_truth,
)
from mlsmear.pairs import RECO_ONLY
from mlsmear.physics.collection import Collection
from mlsmear.physics.matching import pair_tables
from mlsmear.physics.truth import ACTIVITY_DR, neighbour_context
from mlsmear.readers.nanoaod import prompt_mask
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model
from mlsmear.validation.closure import CLOSURE_MIN_EVENTS, closure_metrics, object_checks
from mlsmear.validation.sampling import KindSample, Reco
from mlsmear.whole_event import smear_event

SMALL = TrainConfig(trunk=(32, 32), head=32, epochs=6, batch_size=512, progress=False, seed=5)


def _dphi(a, b):
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def test_neighbour_context_by_brute_force():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 7, 300)
    n = counts.sum()
    columns = {"pt": rng.uniform(10, 200, n), "eta": rng.uniform(-3, 3, n),
               "phi": rng.uniform(-np.pi, np.pi, n)}
    jets = Collection(np.concatenate([[0], np.cumsum(counts)]), columns)
    got = neighbour_context(jets)
    start = 0
    for c in counts:
        for i in range(start, start + c):
            others = [j for j in range(start, start + c) if j != i]
            dr = np.array([np.hypot(columns["eta"][i] - columns["eta"][j],
                                    _dphi(columns["phi"][i], columns["phi"][j])) for j in others])
            pts = columns["pt"][others]
            if others:
                k = int(np.argmin(dr))
                assert got["dr_nearest"][i] == pytest.approx(dr[k])
                assert got["nb_pt_ratio"][i] == pytest.approx(pts[k] / columns["pt"][i])
                around = pts[dr < ACTIVITY_DR].sum()
                assert got["activity"][i] == pytest.approx(around / columns["pt"][i])
            else:
                assert got["dr_nearest"][i] == 10.0
                assert got["nb_pt_ratio"][i] == 0.0 and got["activity"][i] == 0.0
        start += c


def test_object_recoil_follows_mismeasured_jets_and_unseen_muons():
    # event 0: a 100 GeV jet along x measured at 80 GeV -> MET moves by +20 GeV along x;
    # event 1: a muon beyond the tracker (lost) -> its 50 GeV along y become MET; a lost muon
    # inside the tracker leaves its track: nothing; event 2: a lost jet: nothing.
    jets = ObjectTerms(
        event=np.array([0, 2]), truth_pt=np.array([100.0, 40.0]), truth_eta=np.zeros(2),
        truth_phi=np.zeros(2), reco_pt=np.array([80.0, np.nan]), reco_phi=np.array([0.0, np.nan]),
        kept=np.array([True, False]),
    )
    muons = ObjectTerms(
        event=np.array([1, 1]), truth_pt=np.array([50.0, 30.0]),
        truth_eta=np.array([MUON_TRACKER_ETA + 0.1, 0.0]), truth_phi=np.array([np.pi / 2, 0.0]),
        reco_pt=np.full(2, np.nan), reco_phi=np.full(2, np.nan), kept=np.zeros(2, bool),
    )
    dx, dy = object_recoil(3, jets=jets, muons=muons)
    np.testing.assert_allclose(dx, [20.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(dy, [0.0, 50.0, 0.0], atol=1e-12)
    ref = reference_truth({"pt": np.array([10.0, 0.0, 5.0]), "phi": np.zeros(3),
                           "dmet_px": dx, "dmet_py": dy})
    np.testing.assert_allclose(ref["pt"], [30.0, 50.0, 5.0])
    np.testing.assert_allclose(ref["dmet"], [20.0, 50.0, 0.0])
    np.testing.assert_allclose(ref["genmet"], [10.0, 0.0, 5.0])


def _tagged_jets(n: int, rng: np.random.Generator):
    det = SyntheticDetector()
    truth = det.truth(n, rng)
    truth["hadronFlavour"] = rng.choice([0.0, 4.0, 5.0], n, p=[0.6, 0.2, 0.2])
    reco, matched = det.reconstruct(truth, rng)
    p_tag = np.select([truth["hadronFlavour"] == 5, truth["hadronFlavour"] == 4], [0.7, 0.2], 0.02)
    reco["btag"] = np.where(matched, (rng.random(n) < p_tag).astype(float), np.nan)
    return truth, reco, matched, p_tag


@pytest.fixture(scope="module")
def tag_model(tmp_path_factory):
    truth, reco, matched, _ = _tagged_jets(30_000, np.random.default_rng(11))
    inputs = [("pt", "quantile"), ("eta", "quantile"), ("mass", "quantile"),
              ("hadronFlavour", "onehot")]
    model = fit_model("jet", truth, reco, matched, inputs=inputs, config=SMALL,
                      thresholds={"pt_min": 15.0}, tag_types={"btag": "decision"})
    directory = tmp_path_factory.mktemp("tagged")
    model.save(directory)
    return mlsmear.load(directory / "jet.json")


def test_tag_is_learnt_per_flavour_and_survives_the_model_file(tag_model):
    assert tag_model.tags == ("btag",) and tag_model.tag_types == {"btag": "decision"}
    assert tag_model.quantities[-1] == "btag"
    rng = np.random.default_rng(12)  # a hold-out the model never saw
    truth, _, _, p_tag = _tagged_jets(30_000, rng)
    jets = ak.unflatten(ak.zip({k: truth[k] for k in ("pt", "eta", "phi", "mass",
                                                      "hadronFlavour")}), np.full(3000, 10))
    out = mlsmear.smear(jets, model=tag_model, seed=3)
    tags = ak.to_numpy(ak.flatten(out.btag))
    assert set(np.unique(tags)) <= {0.0, 1.0}  # a decision: exactly 0 or 1
    flavour = ak.to_numpy(ak.flatten(jets.hadronFlavour[out.truth_index]))
    for f, p in ((5, 0.7), (4, 0.2), (0, 0.02)):
        sel = flavour == f
        # tolerance: 4 sigma of the binomial sampling plus the training sample's own statistics
        # (as many training jets as hold-out ones, ~0.9 of them matched)
        sigma = np.sqrt(p * (1 - p) / sel.sum()) * np.sqrt(1 + sel.sum() / (0.9 * sel.sum()))
        assert abs(tags[sel].mean() - p) < 4 * sigma + 0.005, (f, tags[sel].mean())


def _met_events(n_events: int, rng: np.random.Generator):
    """Events of 2 jets; MET = GenMET + recoil of the jets' mismeasurement + small noise."""
    det = SyntheticDetector()
    truth = det.truth(2 * n_events, rng)
    truth["pt"] = np.maximum(truth["pt"], 40.0)
    reco, matched = det.reconstruct(truth, rng)
    matched[:] = True
    jets = ak.unflatten(ak.zip(truth), np.full(n_events, 2))
    genmet = {"pt": rng.exponential(20.0, n_events), "phi": rng.uniform(-np.pi, np.pi, n_events),
              "ht": ak.to_numpy(ak.sum(jets.pt, axis=1)), "njet": np.full(n_events, 2.0)}
    event = np.repeat(np.arange(n_events), 2)
    terms = ObjectTerms(event, truth["pt"], truth["eta"], truth["phi"], reco["pt"], reco["phi"],
                        matched)
    dx, dy = object_recoil(n_events, jets=terms)
    px = genmet["pt"] * np.cos(genmet["phi"]) + dx + rng.normal(0, 2.0, n_events)
    py = genmet["pt"] * np.sin(genmet["phi"]) + dy + rng.normal(0, 2.0, n_events)
    return truth, reco, matched, genmet, (dx, dy), {"pt": np.hypot(px, py),
                                                    "phi": np.arctan2(py, px)}


@pytest.fixture(scope="module")
def object_met_bundle(tmp_path_factory):
    """Jets, muons and a MET model that follows them, trained on the toy events (saved)."""
    truth, reco, matched, genmet, recoil, met_reco = _met_events(20_000, np.random.default_rng(21))
    jet_model = fit_model("jet", truth, reco, matched, config=SMALL, thresholds={"pt_min": 0.0})
    met_truth = reference_truth({**genmet, "dmet_px": recoil[0], "dmet_py": recoil[1]})
    inputs = [("pt", "quantile"), ("ht", "quantile"), ("njet", "quantile"),
              ("genmet", "quantile"), ("dmet", "quantile")]
    met_model = fit_model("met", met_truth, met_reco, np.ones(20_000, bool), inputs=inputs,
                          config=SMALL, card={"reference": REFERENCE})
    det, rng = SyntheticDetector(), np.random.default_rng(3)
    mu_truth = det.truth(5000, rng)
    mu_reco, mu_matched = det.reconstruct(mu_truth, rng)
    muon_model = fit_model("muon", mu_truth, mu_reco, mu_matched, config=SMALL,
                           thresholds={"pt_min": 15.0})
    directory = tmp_path_factory.mktemp("object-met")
    mlsmear.Bundle("toy", {"jet": jet_model, "muon": muon_model, "met": met_model}).save(directory)
    return directory


def test_met_follows_the_sampled_jets(object_met_bundle):
    bundle = mlsmear.load(object_met_bundle)
    truth, _, _, genmet, _, _ = _met_events(10_000, np.random.default_rng(22))  # a hold-out
    no_muons = ak.zip({k: np.zeros(0) for k in ("pt", "eta", "phi", "mass", "charge")})
    events = {"jet": ak.unflatten(ak.zip(truth), np.full(10_000, 2)),
              "muon": ak.unflatten(no_muons, np.zeros(10_000, np.int64)),
              "met": ak.zip(genmet)}
    with pytest.raises(ValueError, match="follow the sampled"):
        smear_event({k: events[k] for k in ("jet", "met")}, bundle=bundle, seed=4)
    out = smear_event(events, bundle=bundle, seed=4, kinds=["jet", "met"])
    jets = out["jet"]
    t = events["jet"][jets.truth_index]
    sx = ak.to_numpy(ak.sum(t.pt * np.cos(t.phi) - jets.pt * np.cos(jets.phi), axis=1))
    mx = ak.to_numpy(out["met"].pt * np.cos(out["met"].phi))
    gx = genmet["pt"] * np.cos(genmet["phi"])
    rho = np.corrcoef(mx - gx, sx)[0, 1]
    assert rho > 0.9, rho  # MET moves with the sampled jets' mismeasurement (noise 2 GeV)
    again = smear_event(events, bundle=bundle, seed=4, kinds=["met"])  # MET alone: same draws
    np.testing.assert_array_equal(ak.to_numpy(again["met"].pt), ak.to_numpy(out["met"].pt))


def _recoil(truth, reco):
    """Σ (truth − reco) per event, x and y (GeV), in float64 as the engine computes it."""
    t_pt, t_phi, r_pt, r_phi = (
        ak.values_astype(x, np.float64) for x in (truth.pt, truth.phi, reco.pt, reco.phi)
    )
    return tuple(ak.sum(t_pt * f(t_phi) - r_pt * f(r_phi), axis=1) for f in (np.cos, np.sin))


def test_coffea_met_follows_the_smeared_jets_and_muons(object_met_bundle):
    from coffea_support import nano_events

    events = nano_events()
    model = str(object_met_bundle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
        out = mlsmear.smear_events(events, model=model, seed=2, replace=["Jet", "Muon", "MET"])
    # the recoil by hand, from the smeared collections and their truth links
    jx, jy = _recoil(events.GenJet[out.Jet.genJetIdx], out.Jet)
    mx, my = _recoil(events.GenPart[out.Muon.genPartIdx], out.Muon)
    gen = events.GenPart
    prompt = prompt_mask(gen.pdgId, gen.status, gen.statusFlags, gen.pt, 13)
    index = ak.local_index(gen.pt)
    kept = ak.any(index[:, :, None] == out.Muon.genPartIdx[:, None, :], axis=2)
    unseen = gen[prompt & ~kept & (np.abs(gen.eta) > MUON_TRACKER_ETA)]
    u_pt, u_phi = (ak.values_astype(x, np.float64) for x in (unseen.pt, unseen.phi))
    ux, uy = (ak.sum(u_pt * f(u_phi), axis=1) for f in (np.cos, np.sin))
    hard = events.GenJet[events.GenJet.pt > 20]
    record = ak.zip({
        "pt": events.GenMET.pt, "phi": events.GenMET.phi, "ht": ak.sum(hard.pt, axis=1),
        "njet": ak.num(hard), "dmet_px": jx + mx + ux, "dmet_py": jy + my + uy,
    })
    identity = tuple(ak.to_numpy(events[f]) for f in ("run", "luminosityBlock", "event"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
        plain = mlsmear.smear(record, model=model, kind="met", seed=2, event_id=identity)
    np.testing.assert_allclose(ak.to_numpy(out.MET.pt), ak.to_numpy(plain.pt), rtol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(out.MET.phi), ak.to_numpy(plain.phi), rtol=1e-9)


def test_pairs_keep_reco_objects_without_truth_partner():
    truth = {"jet": Collection(np.array([0, 2, 2]), {
        "pt": np.array([50.0, 30.0]), "eta": np.array([0.0, 1.0]), "phi": np.array([0.0, 1.0]),
        "mass": np.array([5.0, 3.0])})}
    reco = {"jet": Collection(np.array([0, 1, 3]), {
        "pt": np.array([48.0, 25.0, 60.0]), "eta": np.array([0.01, -2.0, 0.5]),
        "phi": np.array([0.0, 2.0, -1.0]), "mass": np.array([4.0, 2.0, 6.0])})}
    tables = pair_tables(np.array([7, 8]), truth, reco)
    only = tables[RECO_ONLY["jet"]]
    # event 7: two truth jets, one reco jet (matched to the first); event 8: no truth jet, two
    # reco jets: both are reco-only
    np.testing.assert_array_equal(only["event"], [8, 8])
    np.testing.assert_array_equal(only["reco_pt"], [25.0, 60.0])
    np.testing.assert_array_equal(tables["jet"]["matched"], [True, False])


def test_closure_yields_and_paired_uncertainty():
    rng = np.random.default_rng(5)
    n = 20_000
    teacher = {"n_leptons": np.ones(n, int), "n_jets": rng.integers(2, 8, n),
               "n_btags": rng.integers(0, 3, n)}
    for key in ("ht", "met", "dphi_min", "mll", "m3", "lead_jet_pt", "n_photons"):
        teacher[key] = rng.uniform(0, 1000, n)
    learnt = dict(teacher)
    flip = rng.random(n) < 0.05  # 5 % of the events get one jet more in the learnt reco
    learnt["n_jets"] = teacher["n_jets"] + flip
    result = closure_metrics(teacher, learnt)["1l_4j"]
    t = teacher["n_jets"] >= 4
    l4 = learnt["n_jets"] >= 4
    assert result["teacher"] == t.sum() and result["learnt"] == l4.sum()
    assert result["only_teacher"] == 0 and result["only_learnt"] == (l4 & ~t).sum()
    assert result["sigma"] == pytest.approx(np.sqrt((l4 & ~t).sum()) / t.sum())
    assert result["teacher"] >= CLOSURE_MIN_EVENTS
    assert result["pass"] == bool(abs(l4.sum() / t.sum() - 1) <= 0.05)


def test_neighbour_context_of_empty_input():
    none = neighbour_context(Collection(np.zeros(1, np.int64), {
        k: np.zeros(0) for k in ("pt", "eta", "phi")}))
    assert all(v.size == 0 for v in none.values())
    lonely = neighbour_context(Collection(np.array([0, 0, 1, 1]), {
        "pt": np.array([30.0]), "eta": np.array([0.0]), "phi": np.array([0.0])}))
    assert lonely["dr_nearest"].tolist() == [10.0] and lonely["activity"].tolist() == [0.0]


def test_whole_events_on_empty_and_bad_input(object_met_bundle):
    bundle = mlsmear.load(object_met_bundle)
    fields = ("pt", "eta", "phi", "mass", "charge")
    met_fields = {k: np.zeros(0) for k in ("pt", "phi", "ht", "njet")}
    for n_events, per_event in ((0, 0), (4, 0)):  # no events; events without any object
        empty = ak.unflatten(ak.zip({k: np.zeros(0) for k in fields}),
                             np.full(n_events, per_event, np.int64))
        met = ak.zip({k: np.full(n_events, 10.0) for k in met_fields})
        out = smear_event({"jet": empty, "muon": empty, "met": met}, bundle=bundle, seed=1,
                          event_id=np.arange(n_events))
        assert len(out["met"]) == n_events and ak.sum(ak.num(out["jet"])) == 0
        assert np.all(np.isfinite(ak.to_numpy(out["met"].pt)))
    record = ak.zip({k: np.full(3, 10.0) for k in met_fields})
    with pytest.raises(ValueError, match=r"dmet_px.*recoil D \(GeV\)"):  # a missing field
        mlsmear.smear(record, model=bundle["met"], event_id=np.arange(3))
    bad = ak.with_field(ak.with_field(record, np.array([0.0, np.nan, 1.0]), "dmet_px"),
                        np.zeros(3), "dmet_py")
    with pytest.raises(ValueError, match="dmet_px.*NaN"):  # NaN in the recoil
        mlsmear.smear(bad, model=bundle["met"], event_id=np.arange(3))


def test_dilepton_pairs_both_kept_and_isolated_efficiency():
    """object_checks counts, per kind, the events with exactly two accepted leptons whose two
    are both reconstructed (hand-counted here), apart from each lepton's efficiency."""
    # events 0-3: two muons of 40 GeV; event 4: three (not a pair); event 5: one in acceptance
    event = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5])
    pt = np.array([40.0] * 11 + [40.0, 10.0])
    eta = np.zeros(event.size)
    teacher = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1], dtype=bool)
    learnt = np.array([1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0], dtype=bool)
    truth = {"pt": pt, "eta": eta, "jet_iso": np.zeros(event.size)}
    values = {"pt": pt}
    sample = KindSample("muon", event, truth, Reco(teacher, values))
    checks = object_checks({"muon": sample}, {"muon": Reco(learnt, values)})
    pairs = checks["muon_pairs_both_kept"]["pt25+"]
    assert pairs["objects"] == 4  # events 0-3
    assert pairs["teacher"] == pytest.approx(3 / 4) and pairs["learnt"] == pytest.approx(1 / 4)
    single = checks["muon_efficiency"]["pt25+"]
    assert single["objects"] == 12
    assert single["teacher"] == pytest.approx(11 / 12) and single["learnt"] == pytest.approx(9 / 12)


def test_a_rate_on_one_object_is_not_judged():
    """One event with a pair, kept by the teacher and lost by the learnt model: a difference of 1
    whose σ is not 0, so it is not judged (pass None) rather than failed."""
    event, pt = np.array([0, 0]), np.array([40.0, 50.0])
    truth = {"pt": pt, "eta": np.zeros(2), "jet_iso": np.zeros(2)}
    sample = KindSample("electron", event, truth, Reco(np.ones(2, bool), {"pt": pt}))
    row = object_checks({"electron": sample}, {"electron": Reco(np.zeros(2, bool), {"pt": pt})})[
        "electron_pairs_both_kept"]["pt25+"]
    assert row["diff"] == -1.0 and row["sigma"] > 0.1 and row["pass"] is None
