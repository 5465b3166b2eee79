"""Jets that follow the sampled e/γ/μ: claims by brute force, a learnt overlap removal, coffea."""

from __future__ import annotations

import warnings

import awkward as ak
import dask
import numpy as np
import pyarrow as pa
import pytest

import mlsmear
from mlsmear.context import needed_kinds
from mlsmear.event_pairs import teacher_claims
from mlsmear.jet_context import CLAIM_DR, CLAIM_FIELDS, object_claims
from mlsmear.met_context import ObjectTerms
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model
from mlsmear.whole_event import smear_event

SMALL = TrainConfig(trunk=(32, 32), head=32, epochs=8, batch_size=512, progress=False, seed=5)
P_ELECTRON, P_JET = 0.7, 0.95  # the toy teacher's efficiencies


def _dr(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi)


def test_object_claims_by_brute_force():
    rng = np.random.default_rng(1)
    n_events = 50
    jet_event = rng.integers(0, n_events, 700)
    jet = {"pt": rng.uniform(20, 200, 700), "eta": rng.uniform(-2, 2, 700),
           "phi": rng.uniform(-np.pi, np.pi, 700)}
    objects = {}
    for kind, n in (("electron", 300), ("muon", 300), ("photon", 200)):
        objects[kind] = ObjectTerms(
            event=rng.integers(0, n_events, n), truth_pt=rng.uniform(10, 100, n),
            truth_eta=rng.uniform(-2, 2, n), truth_phi=rng.uniform(-np.pi, np.pi, n),
            reco_pt=rng.uniform(10, 100, n), reco_phi=np.zeros(n), kept=rng.random(n) < 0.6,
        )
    got = object_claims(n_events, jet_event, jet["pt"], jet["eta"], jet["phi"], objects)
    for name, kinds in (("claimed_em", ("electron", "photon")), ("claimed_muon", ("muon",))):
        expected = np.zeros(700)
        for i in range(700):
            for kind in kinds:
                o = objects[kind]
                near = (o.event == jet_event[i]) & o.kept & (
                    _dr(o.truth_eta, o.truth_phi, jet["eta"][i], jet["phi"][i]) <= CLAIM_DR
                )
                expected[i] += o.reco_pt[near].sum()
        np.testing.assert_allclose(got[name], expected / jet["pt"], rtol=1e-12)
        assert (got[name] > 0).sum() > 20  # not trivially zero


def _smeared(det: SyntheticDetector, truth: dict, rng: np.random.Generator) -> dict:
    """The toy detector's reco values of every object (its own efficiency ignored)."""
    reco, _ = det.reconstruct(truth, rng)
    return {k: np.where(np.isnan(v), truth[k], v) for k, v in reco.items()}


def _toy_events(n_events: int, rng: np.random.Generator):
    """One jet and one electron per event; in half of the events the jet is made of the electron
    (ΔR 0.05). The teacher reconstructs the electron with P_ELECTRON and the jet with P_JET,
    except that a jet made of a reconstructed electron is never reconstructed (overlap removal).
    Pairs tables of the jets, electrons, (no) muons and photons."""
    det = SyntheticDetector()
    e_truth = det.truth(n_events, rng)
    e_truth["pt"] = np.maximum(e_truth["pt"], 30.0)
    e_reco = _smeared(det, e_truth, rng)
    e_matched = rng.random(n_events) < P_ELECTRON
    j_truth = det.truth(n_events, rng)
    made_of_electron = rng.random(n_events) < 0.5
    j_truth["eta"] = np.where(made_of_electron, e_truth["eta"] + 0.05, e_truth["eta"] + 2.0)
    j_truth["phi"] = e_truth["phi"]
    j_truth["pt"] = np.where(made_of_electron, e_truth["pt"] * 1.05, j_truth["pt"])
    j_reco = _smeared(det, j_truth, rng)
    j_matched = (rng.random(n_events) < P_JET) & ~(made_of_electron & e_matched)
    event = np.arange(n_events)

    def table(truth, reco, matched):
        columns = {"event": event, "matched": matched}
        columns.update({f"truth_{k}": truth[k] for k in ("pt", "eta", "phi", "mass")})
        columns.update({f"reco_{k}": np.where(matched, reco[k], np.nan)
                        for k in ("pt", "eta", "phi", "mass")})
        return pa.table(columns)

    empty = {k: np.zeros(0) for k in ("pt", "eta", "phi", "mass")}
    tables = {"jet": table(j_truth, j_reco, j_matched),
              "electron": table(e_truth, e_reco, e_matched)}
    for kind in ("muon", "photon"):
        tables[kind] = pa.table({"event": np.zeros(0, np.int64), "matched": np.zeros(0, bool),
                                 **{f"truth_{k}": v for k, v in empty.items()},
                                 **{f"reco_{k}": v for k, v in empty.items()}})
    return tables, e_truth, j_truth, made_of_electron


def _columns(table: pa.Table, prefix: str) -> dict[str, np.ndarray]:
    return {c[len(prefix):]: table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in table.column_names if c.startswith(prefix)}


@pytest.fixture(scope="module")
def overlap_bundle(tmp_path_factory):
    """Electron, muon, photon models and a jet model that follows them (claims from the
    teacher's reconstructed electrons), trained on the toy events (saved)."""
    tables, _, _, _ = _toy_events(30_000, np.random.default_rng(21))
    jets = tables["jet"]
    truth = {**_columns(jets, "truth_"), **teacher_claims(tables)}
    inputs = [("pt", "quantile"), ("eta", "quantile"), ("mass", "quantile"),
              *((f, "quantile") for f in CLAIM_FIELDS)]
    matched = jets.column("matched").to_numpy()
    models = {"jet": fit_model("jet", truth, _columns(jets, "reco_"), matched, inputs=inputs,
                               config=SMALL, thresholds={"pt_min": 0.0})}
    electrons = tables["electron"]
    models["electron"] = fit_model(
        "electron", _columns(electrons, "truth_"), _columns(electrons, "reco_"),
        electrons.column("matched").to_numpy(), config=SMALL, thresholds={"pt_min": 0.0},
    )
    det, rng = SyntheticDetector(), np.random.default_rng(3)
    for kind in ("muon", "photon"):
        t = det.truth(3000, rng)
        r, m = det.reconstruct(t, rng)
        models[kind] = fit_model(kind, t, r, m, config=SMALL, thresholds={"pt_min": 15.0})
    directory = tmp_path_factory.mktemp("overlap")
    mlsmear.Bundle("toy-overlap", models).save(directory)
    return directory


def _events(e_truth, j_truth, n_events):
    none = ak.zip({k: np.zeros(0) for k in ("pt", "eta", "phi", "mass", "charge")})
    one = np.ones(n_events, np.int64)
    return {
        "jet": ak.unflatten(ak.zip({k: j_truth[k] for k in ("pt", "eta", "phi", "mass")}), one),
        "electron": ak.unflatten(ak.zip({**{k: e_truth[k] for k in ("pt", "eta", "phi", "mass")},
                                         "charge": -one}), one),
        "muon": ak.unflatten(none, np.zeros(n_events, np.int64)),
        "photon": ak.unflatten(none, np.zeros(n_events, np.int64)),
    }


def test_jets_follow_the_sampled_electrons(overlap_bundle):
    """On a hold-out: a jet made of an electron is (almost) never reconstructed when the sampled
    electron is, and is at the teacher's P_JET when it is not; jets away from electrons keep
    P_JET. Sampled independently, the first would be P_JET too."""
    bundle = mlsmear.load(overlap_bundle)
    assert needed_kinds(bundle, ["jet"]) == ["electron", "muon", "photon", "jet"]
    n = 20_000
    _, e_truth, j_truth, made_of_electron = _toy_events(n, np.random.default_rng(22))
    events = _events(e_truth, j_truth, n)
    out = smear_event(events, bundle=bundle, seed=4, kinds=["jet", "electron"])
    e_reco = ak.to_numpy(ak.num(out["electron"])) == 1
    j_reco = ak.to_numpy(ak.num(out["jet"])) == 1
    assert abs(e_reco.mean() - P_ELECTRON) < 0.03  # the electron model itself
    for rows, expected in (
        (made_of_electron & e_reco, 0.0),
        (made_of_electron & ~e_reco, P_JET),
        (~made_of_electron, P_JET),
    ):
        # 4 sigma of the binomial sampling (teacher and hold-out alike) plus 0.08 for the blur of
        # a small network trained for seconds on 30 000 events (~0.05 on its own training rows);
        # sampled independently of the electron, the first would be at P_JET
        sigma = np.sqrt(max(expected * (1 - expected), 0.01) / rows.sum() * 2)
        got = j_reco[rows].mean()
        assert abs(got - expected) < 4 * sigma + 0.08, (expected, got)
    # the same jets whatever was asked for: the electrons are smeared first either way
    alone = smear_event(events, bundle=bundle, seed=4, kinds=["jet"])
    assert ak.array_equal(alone["jet"], out["jet"])


def test_a_jet_model_with_claims_refuses_truth_without_them(overlap_bundle):
    bundle = mlsmear.load(overlap_bundle)
    jets = ak.zip({"pt": [[50.0]], "eta": [[0.0]], "phi": [[0.0]], "mass": [[5.0]]})
    with pytest.raises(ValueError, match="claimed_em"):
        mlsmear.smear(jets, model=bundle["jet"])
    with pytest.raises(ValueError, match="follow the sampled"):
        smear_event({"jet": jets}, bundle=bundle)


def test_coffea_jets_follow_the_smeared_electrons(overlap_bundle):
    """smear_events on NanoAOD: the jets equal plain smear() of the GenJets with the claims of
    the smeared e/μ/γ computed by hand from their truth links."""
    from coffea_support import nano_events

    events = nano_events()
    model = str(overlap_bundle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
        out = mlsmear.smear_events(events, model=model, seed=2,
                                   replace=["Jet", "Electron", "Muon", "Photon"])
    claims = {}
    for name, collections in (("claimed_em", ("Electron", "Photon")), ("claimed_muon", ("Muon",))):
        total = ak.zeros_like(events.GenJet.pt, dtype=np.float64)
        for collection in collections:
            reco = out[collection]
            truth = events.GenPart[reco.genPartIdx]
            pairs = ak.cartesian([events.GenJet, ak.zip({"eta": truth.eta, "phi": truth.phi,
                                                         "pt": reco.pt})], nested=True)
            jet, obj = ak.unzip(pairs)
            near = _dr(jet.eta, jet.phi, obj.eta, obj.phi) <= CLAIM_DR
            total = total + ak.sum(ak.where(near, ak.values_astype(obj.pt, np.float64), 0.0),
                                   axis=2)
        claims[name] = total / events.GenJet.pt
    assert ak.sum(claims["claimed_em"] > 0) > 0  # Drell-Yan electrons inside GenJets
    gen_jets = events.GenJet
    record = ak.zip({**{k: gen_jets[k] for k in ("pt", "eta", "phi", "mass")}, **claims})
    identity = tuple(ak.to_numpy(events[f]) for f in ("run", "luminosityBlock", "event"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
        plain = mlsmear.smear(record, model=model, kind="jet", seed=2, event_id=identity)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(out.Jet.pt)),
                               ak.to_numpy(ak.flatten(plain.pt)), rtol=1e-6)
    # dask-awkward: the same one pass per partition (each kind smeared once, then followed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
        lazy = mlsmear.smear_events(nano_events(mode="dask"), model=model, seed=2,
                                    replace=["Jet", "Electron", "Muon", "Photon"])
        jets, photons = dask.compute(lazy.Jet, lazy.Photon)
    assert ak.array_equal(jets, out.Jet) and ak.array_equal(photons, out.Photon)


def test_overlap_removal_on_empty_and_bad_input(overlap_bundle):
    """Zero events, events without jets or electrons, NaN claims given by hand."""
    bundle = mlsmear.load(overlap_bundle)
    _, e_truth, j_truth, _ = _toy_events(4, np.random.default_rng(5))
    events = _events(e_truth, j_truth, 4)
    zero = {k: v[:0] for k, v in events.items()}
    out = smear_event(zero, bundle=bundle, seed=1, kinds=["jet"])
    assert len(out["jet"]) == 0
    no_jets = {**events, "jet": ak.unflatten(ak.flatten(events["jet"])[:0],
                                             np.zeros(4, np.int64))}
    no_electrons = {**events, "electron": ak.unflatten(ak.flatten(events["electron"])[:0],
                                                       np.zeros(4, np.int64))}
    assert ak.sum(ak.num(smear_event(no_jets, bundle=bundle, seed=1)["jet"])) == 0
    alone = smear_event(no_electrons, bundle=bundle, seed=1)["jet"]
    assert len(alone) == 4  # jets without electrons: nothing claims them
    jets = ak.zip({"pt": [[50.0]], "eta": [[0.0]], "phi": [[0.0]], "mass": [[5.0]],
                   "claimed_em": [[np.nan]], "claimed_muon": [[0.0]]})
    with pytest.raises(ValueError, match="'claimed_em' has 1 NaN"):
        mlsmear.smear(jets, model=bundle["jet"])
