"""Photons from lost electrons: the teacher's pairs, the lost-only rule, a learnt chain, coffea."""

from __future__ import annotations

import dataclasses
import warnings

import awkward as ak
import numpy as np
import pyarrow as pa
import pytest
from coffea_support import NANO_DY, nano_events

import mlsmear
from mlsmear.electron_photons import KIND, MATCH_DR, from_lost, joined, teacher_table
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model
from mlsmear.whole_event import smear_event

SMALL = TrainConfig(trunk=(32, 32), head=32, epochs=8, batch_size=512, progress=False, seed=5)
#: the photon model learns from ~15 k lost electrons: smaller batches, more steps
PHOTONS = dataclasses.replace(SMALL, epochs=20, batch_size=256, patience=8)
P_PHOTON = 0.6  # the toy teacher: a lost electron with |η| < 1 comes back as a photon this often
PHOTON_SCALE = 0.9  # ... at this fraction of the electron's pT
BEND = 0.02  # ... and φ shifted by charge × BEND (rad), as the field bends the electron's track


def _electron_table(event, pt, eta, phi, matched):
    n = len(event)
    return pa.table({
        "event": np.asarray(event, np.int64), "truth_pt": np.asarray(pt, np.float32),
        "truth_eta": np.asarray(eta, np.float32), "truth_phi": np.asarray(phi, np.float32),
        "truth_mass": np.zeros(n, np.float32), "matched": np.asarray(matched, bool),
        **{f"reco_{q}": np.where(matched, 1.0, np.nan).astype(np.float32)
           for q in ("pt", "eta", "phi", "mass")},
    })


def test_teacher_table_pairs_lost_electrons_with_close_photons():
    # event 7: a lost electron with a photon ΔR 0.05 away, a reconstructed one with a photon
    # next to it (not a row: only lost electrons are); event 9: two lost electrons, one photon
    # closer to the second; event 11: a lost electron whose photon lies just outside MATCH_DR
    electrons = _electron_table(
        [9, 7, 7, 9, 11], [50.0, 40.0, 30.0, 45.0, 20.0], [0.0, 1.0, -1.0, 0.08, 2.0],
        [0.0, 0.5, 2.0, 0.0, 1.0], [False, False, True, False, False],
    )
    photons = pa.table({
        "event": np.array([7, 7, 9, 11]), "reco_pt": np.array([36.0, 25.0, 41.0, 18.0]),
        "reco_eta": np.array([1.05, -1.0, 0.07, 2.0 + MATCH_DR + 0.01]),
        "reco_phi": np.array([0.5, 2.0, 0.0, 1.0]), "reco_mass": np.zeros(4),
    })
    table = teacher_table(electrons, photons)
    assert table.column("event").to_pylist() == [9, 7, 9, 11]  # the lost electrons, in order
    assert table.column("matched").to_pylist() == [False, True, True, False]
    np.testing.assert_array_equal(table.column("reco_pt").to_numpy(), [np.nan, 36.0, 41.0, np.nan])
    assert table.column("truth_pt").to_pylist() == [50.0, 40.0, 45.0, 20.0]
    assert teacher_table(electrons, None).column("matched").to_pylist() == [False] * 4


def test_from_lost_keeps_photons_of_lost_electrons_only():
    photons = ak.zip({"pt": [[30.0, 20.0], [], [15.0]], "truth_index": [[0, 2], [], [1]]})
    electrons = ak.zip({"pt": [[44.0], [10.0], []], "truth_index": [[2], [0], []]})
    kept = from_lost(photons, electrons)
    assert kept.truth_index.tolist() == [[0], [], [1]]
    both = joined(ak.zip({"pt": [[5.0], [], []], "truth_index": [[0], [], []]}), kept)
    assert both.pt.tolist() == [[30.0, 5.0], [], [15.0]]
    assert both.from_electron.tolist() == [[True, False], [], [True]]


def _teacher(n: int, rng: np.random.Generator):
    """Truth electrons (charge ±1), the teacher's electrons (synthetic detector) and its photons
    of the lost ones: P_PHOTON at |η| < 1, none beyond, pT = PHOTON_SCALE × truth pT, η of the
    truth, φ of the truth + charge × BEND (each with a 5 % / BEND / 4 resolution)."""
    det = SyntheticDetector()
    truth = det.truth(n, rng)
    truth["charge"] = rng.choice([-1.0, 1.0], n)
    reco, matched = det.reconstruct(truth, rng)
    photon = ~matched & (np.abs(truth["eta"]) < 1.0) & (rng.random(n) < P_PHOTON)
    noise = rng.standard_normal((3, n))
    photon_reco = {
        "pt": PHOTON_SCALE * truth["pt"] * (1 + 0.05 * noise[0]),
        "eta": truth["eta"] + BEND / 4 * noise[1],
        "phi": truth["phi"] + BEND * truth["charge"] + BEND / 4 * noise[2],
    }
    return truth, reco, matched, photon, photon_reco


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A bundle of an electron, a photon and a photon_from_electron model (saved to disk)."""
    rng = np.random.default_rng(41)
    truth, reco, matched, photon, photon_reco = _teacher(30_000, rng)
    nan = {k: np.where(matched, v, np.nan) for k, v in reco.items()}
    thresholds = {"pt_min": 15.0}
    models = {kind: fit_model(kind, truth, nan, matched, config=SMALL, thresholds=thresholds)
              for kind in ("electron", "photon")}
    lost = ~matched
    models[KIND] = fit_model(
        KIND, {k: v[lost] for k, v in truth.items()},
        {k: np.where(photon, v, np.nan)[lost] for k, v in photon_reco.items()}, photon[lost],
        inputs=[("pt", "quantile"), ("eta", "quantile"), ("charge", "onehot")],
        config=PHOTONS, thresholds=thresholds,
    )
    directory = tmp_path_factory.mktemp("chain")
    mlsmear.Bundle("chain", models).save(directory)
    return mlsmear.load(directory)


def _events(truth: dict, n_events: int) -> ak.Array:
    counts = np.full(n_events, truth["pt"].size // n_events)
    fields = {k: truth[k] for k in ("pt", "eta", "phi", "mass", "charge")}
    return ak.unflatten(ak.zip(fields), counts)


def test_lost_electrons_come_back_as_photons(chain):
    """Hold-out: a photon of an electron only where the electron was lost, as often as the
    teacher makes one at |η| < 1 and (almost) never beyond, at the teacher's pT; the same
    objects whatever the chunking."""
    n_events = 5_000
    truth, *_ = _teacher(4 * n_events, np.random.default_rng(42))
    electrons = _events(truth, n_events)
    no_photons = electrons[:, :0]
    ids = np.arange(n_events)
    out = smear_event({"electron": electrons, "photon": no_photons}, bundle=chain, seed=3,
                      event_id=ids)
    photons, kept = out["photon"], out["electron"]
    assert ak.all(photons.from_electron)  # no truth photons: all of them are an electron's
    index = ak.local_index(electrons)
    has_photon = ak.any(index[:, :, None] == photons.truth_index[:, None, :], axis=2)
    reconstructed = ak.any(index[:, :, None] == kept.truth_index[:, None, :], axis=2)
    assert not ak.any(has_photon & reconstructed)
    # exactly the model's own photons of the electrons that were lost: keyed by electron index
    direct = mlsmear.smear(electrons, model=chain[KIND], seed=3, event_id=ids)
    lost_direct = ak.all(direct.truth_index[:, :, None] != kept.truth_index[:, None, :], axis=2)
    assert ak.array_equal(photons.pt, direct.pt[lost_direct])
    flat = {k: ak.to_numpy(ak.flatten(v)) for k, v in (
        ("photon", has_photon), ("kept", reconstructed), ("eta", np.abs(electrons.eta)))}
    central = ~flat["kept"] & (flat["eta"] < 0.9)
    forward = ~flat["kept"] & (flat["eta"] > 1.5)  # clear of the step at |η| = 1
    got = flat["photon"][central].mean()
    # 4 binomial sigmas of the hold-out plus 0.1 for a small network trained for seconds (its
    # efficiency comes out ~0.05 low: the residual heads stop the training early)
    expected = P_PHOTON
    assert abs(got - expected) < 4 * np.sqrt(expected * (1 - expected) / central.sum()) + 0.1
    assert flat["photon"][forward].mean() < 0.05  # the teacher's 0, plus the network's 0.05
    electron = electrons[photons.truth_index]
    ratio = ak.to_numpy(ak.flatten(photons.pt / electron.pt))
    assert np.median(ratio) == pytest.approx(PHOTON_SCALE, abs=0.03)
    bend = ak.to_numpy(ak.flatten((photons.phi - electron.phi) * electron.charge))
    assert np.median(bend) == pytest.approx(BEND, abs=0.2 * BEND)  # the sign follows the charge
    half = smear_event({"electron": electrons[1000:], "photon": no_photons[1000:]},
                       bundle=chain, seed=3, event_id=ids[1000:])
    assert ak.array_equal(half["photon"], photons[1000:])


def test_photons_without_electrons_and_on_empty_events(chain):
    empty = _events({k: np.zeros(0) for k in ("pt", "eta", "phi", "mass", "charge")}, 4)
    out = smear_event({"electron": empty, "photon": empty}, bundle=chain, seed=1,
                      event_id=np.arange(4))
    assert len(out["photon"]) == 4 and ak.sum(ak.num(out["photon"])) == 0
    with pytest.raises(ValueError, match="electron"):
        smear_event({"photon": empty}, bundle=chain, seed=1, event_id=np.arange(4))


@pytest.mark.parametrize("charge", [np.nan, 0.0])
def test_an_electron_charge_not_plus_or_minus_one_is_refused(chain, charge):
    truth, *_ = _teacher(40, np.random.default_rng(7))
    truth["charge"][3] = charge
    electrons = _events(truth, 10)
    with pytest.raises(ValueError, match="1 of 40 electron truth objects have a charge"):
        smear_event({"electron": electrons, "photon": electrons[:, :0]}, bundle=chain, seed=1,
                    event_id=np.arange(10))
    with pytest.raises(ValueError, match="1 of 40 electron truth objects have a charge"):
        mlsmear.smear(electrons, model=chain["electron"], seed=1)  # the output charge alone


def test_coffea_photons_link_to_their_electron(chain, tmp_path):
    """NanoAOD Drell-Yan events: the smeared Photon holds the photons of lost electrons, whose
    genPartIdx is the electron's GenPart row (their charge from GenPart's pdgId); smear(
    events.GenPart, kind="photon") gives the same collection as smear_events."""
    events = nano_events(NANO_DY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic models' input ranges
        out = mlsmear.smear_events(events, model=chain, seed=4, replace=["Electron", "Photon"])
        alone = mlsmear.smear(events.GenPart, model=chain, kind="photon", seed=4)
    photons = out.Photon
    assert ak.array_equal(photons.pt, alone.pt)
    truth_pdg = abs(ak.to_numpy(ak.flatten(events.GenPart.pdgId[photons.genPartIdx])))
    assert (truth_pdg == 11).sum() > 0 and set(truth_pdg) <= {11, 22}
    from_e = events.GenPart.pdgId[photons.genPartIdx] != 22
    kept_e = out.Electron.genPartIdx
    assert not ak.any(ak.any(photons.genPartIdx[from_e][:, :, None] == kept_e[:, None, :],
                             axis=2))
