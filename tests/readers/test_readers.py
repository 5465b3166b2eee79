"""Readers: real CMS NanoAOD and Delphes files -> pairs; dispatch; bad input."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from mlsmear.pairs import OBJECT_KINDS, RECO_ONLY, validate_table, write_pairs
from mlsmear.physics.matching import LEFTOVER_DR, MATCH_DR, match_rows
from mlsmear.readers import (
    nanoaod_event_id,
    pairs_from_source,
    read_pairs_from_delphes,
    read_pairs_from_nanoaod,
)

DATA = Path(__file__).parents[1] / "data"
NANO_TT = DATA / "nano_tt_v12.root"
NANO_DY = DATA / "nano_dy.root"
DELPHES = DATA / "delphes.root"


@pytest.fixture(scope="module")
def nano_tt():
    return read_pairs_from_nanoaod(NANO_TT)


def test_nanoaod_jets_1336_of_1504_matched_and_lost_genjets(nano_tt):
    jets = nano_tt["jet"].to_pydict()
    n_reco_jets = int(ak.sum(ak.num(uproot.open(NANO_TT)["Events"]["Jet_pt"].array())))
    assert n_reco_jets == 1504
    assert sum(jets["matched"]) == 1336  # reco jets with a GenJet link (all links unique)
    assert len(jets["matched"]) == 1694  # one row per GenJet: 358 GenJets are lost
    assert np.isnan(np.array(jets["reco_pt"])[~np.array(jets["matched"])]).all()
    print(f"\nNanoAOD ttbar: {sum(jets['matched'])} matched jets of {n_reco_jets} reco jets; "
          f"{1694 - sum(jets['matched'])} of 1694 GenJets not reconstructed")  # fmt: skip


def test_nanoaod_pairs_follow_the_stored_links(nano_tt):
    arrays = uproot.open(NANO_TT)["Events"].arrays(["Jet_pt", "Jet_genJetIdx", "GenJet_pt"])
    first = arrays[0]
    pairs = zip(first.Jet_pt, first.Jet_genJetIdx, strict=True)
    linked = {int(g): float(pt) for pt, g in pairs if g >= 0}
    jets = nano_tt["jet"].to_pydict()
    event0 = [i for i, e in enumerate(jets["event"]) if e == jets["event"][0]]
    assert len(event0) == len(first.GenJet_pt)
    for local, row in enumerate(event0):
        assert jets["matched"][row] == (local in linked)
        if local in linked:
            assert jets["reco_pt"][row] == pytest.approx(linked[local], rel=1e-6)


def test_nanoaod_leptons_met_and_event_ids(nano_tt):
    assert "photon" not in nano_tt  # nano_tt_v12 has no Photon collection
    muons = nano_tt["muon"].to_pydict()
    assert min(muons["truth_pt"]) > 5.0 and set(np.abs(muons["truth_pdgId"])) == {13}
    np.testing.assert_array_equal(muons["truth_charge"], -np.sign(muons["truth_pdgId"]))
    assert 0 < sum(muons["matched"]) <= len(muons["matched"])
    met = nano_tt["met"]
    assert met.num_rows == 200 and len(set(met.column("event").to_pylist())) == 200
    ids = uproot.open(NANO_TT)["Events"].arrays(["run", "luminosityBlock", "event"], library="np")
    expected = nanoaod_event_id(ids["run"], ids["luminosityBlock"], ids["event"])
    np.testing.assert_array_equal(met.column("event").to_numpy(), expected)
    assert expected.dtype == np.int64 and np.all(expected >= 0)
    dy = read_pairs_from_nanoaod(NANO_DY)
    assert dy["photon"].num_rows > 0  # this file has photons


def test_nanoaod_dressing_agrees_with_the_files_own_dressed_leptons():
    """The leptons' dressing from the prompt GenPart photons (any pT, ΔR < 0.1) against the file's
    GenDressedLepton (CMS's own dressing, pT > 15 GeV, |η| < 2.5): dressed pT / bare pT − 1.
    Tolerance: GenPart pTs are stored with 8-bit mantissas (rounding ≤ 2^-9 of the lepton's and of
    each photon's pT; GenDressedLepton is stored in full) and GenDressedLepton adds the photons as
    vectors, not scalars (≤ 1 − cos 0.1 = 0.005 of the dressing)."""
    dy = read_pairs_from_nanoaod(NANO_DY)
    tree = uproot.open(NANO_DY)["Events"]
    dressed = tree.arrays([f"GenDressedLepton_{c}" for c in ("pt", "eta", "phi")] +
                          ["run", "luminosityBlock", "event"])  # fmt: skip
    ids = nanoaod_event_id(
        *(ak.to_numpy(dressed[b]) for b in ("run", "luminosityBlock", "event"))
    )
    event = np.repeat(ids, ak.to_numpy(ak.num(dressed.GenDressedLepton_pt)))
    flat = {
        c: ak.to_numpy(ak.flatten(dressed[f"GenDressedLepton_{c}"])) for c in ("pt", "eta", "phi")
    }
    n_compared = 0
    for kind in ("electron", "muon"):
        leptons = dy[kind].to_pandas()
        match = match_rows(leptons.event.to_numpy(), leptons.truth_eta.to_numpy(),
                           leptons.truth_phi.to_numpy(), event, flat["eta"], flat["phi"],
                           dr_max=0.1)  # fmt: skip
        ok = match >= 0
        expected = flat["pt"][match[ok]] / leptons.truth_pt.to_numpy()[ok] - 1
        dressing = leptons.truth_dressing.to_numpy()[ok]
        bound = 2**-9 * (1 + 2 * dressing) + 0.005 * dressing
        np.testing.assert_array_less(np.abs(dressing - expected), bound)
        assert np.all(leptons.truth_dressing >= 0)
        n_compared += ok.sum()
    assert n_compared >= 20 and (dy["electron"].column("truth_dressing").to_numpy() > 0.1).any()
    assert "truth_dressing" not in dy["photon"].column_names


def test_delphes_delta_r_matching():
    pairs = read_pairs_from_delphes(DELPHES)
    jets = pairs["jet"].to_pandas()
    matched = jets[jets.matched]
    rate = len(matched) / len(jets)
    print(f"\nDelphes: {len(matched)} of {len(jets)} GenJets matched to a reco jet "
          f"(Delta R < 0.2, then leftovers < 0.4): match rate {rate:.3f}")  # fmt: skip
    assert 0.5 < rate <= 1.0
    dphi = (matched.reco_phi - matched.truth_phi + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(matched.reco_eta - matched.truth_eta, dphi)
    assert np.all(dr < LEFTOVER_DR["jet"]) and np.mean(dr < MATCH_DR["jet"]) > 0.9
    number = uproot.open(DELPHES)["Delphes"]["Event.Number"].array()
    np.testing.assert_array_equal(
        pairs["met"].column("event").to_numpy(), ak.to_numpy(ak.flatten(number))
    )
    assert set(pairs) == {*OBJECT_KINDS, "met", *RECO_ONLY.values()}
    n_reco = len(ak.flatten(uproot.open(DELPHES)["Delphes"]["Jet.PT"].array()))
    assert pairs["jet_reco_only"].num_rows == n_reco - len(matched)  # the rest of the reco


def test_dispatch_on_sources(tmp_path, nano_tt):
    assert pairs_from_source(NANO_TT)["jet"].num_rows == nano_tt["jet"].num_rows
    assert pairs_from_source(DELPHES)["met"].num_rows == 25
    both = pairs_from_source([NANO_TT, DELPHES])
    assert both["met"].num_rows == 225
    validate_table("jet", both["jet"])
    write_pairs(tmp_path / "p", nano_tt, {"generator": "CMS NanoAOD", "n_events": 200})
    again = pairs_from_source(tmp_path / "p")
    assert again["jet"].to_pydict()["matched"] == nano_tt["jet"].to_pydict()["matched"]
    with pytest.raises(ValueError, match="event identities are not unique"):
        pairs_from_source([NANO_TT, NANO_TT])


def _nanoaod_without_genjetidx(path: Path) -> Path:
    tree = uproot.open(NANO_TT)["Events"]
    arrays = tree.arrays(
        ["run", "luminosityBlock", "event", "GenMET_pt", "GenMET_phi", "MET_pt", "MET_phi"]
    )
    content = {name: arrays[name] for name in arrays.fields}
    for collection in ("GenJet", "Jet"):
        fields = tree.arrays([f"{collection}_{c}" for c in ("pt", "eta", "phi", "mass")])
        content[collection] = ak.zip({c: fields[f"{collection}_{c}"] for c in
                                      ("pt", "eta", "phi", "mass")})  # fmt: skip
    with uproot.recreate(path) as out:
        out.mktree("Events", {name: values.type for name, values in content.items()})
        out["Events"].extend(content)
    return path


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ROOT file"):
        read_pairs_from_nanoaod(tmp_path / "missing.root")
    with pytest.raises(FileNotFoundError, match="no such pairs directory or ROOT file"):
        pairs_from_source(tmp_path / "missing.root")
    with pytest.raises(ValueError, match="has no tree 'Delphes'; its trees are \\['Events'\\]"):
        read_pairs_from_delphes(NANO_TT)
    with pytest.raises(ValueError, match="has no tree 'Events'"):
        read_pairs_from_nanoaod(DELPHES)
    with pytest.raises(ValueError, match="lacks the branches \\['Jet_genJetIdx'\\]"):
        read_pairs_from_nanoaod(_nanoaod_without_genjetidx(tmp_path / "nogen.root"))
    with pytest.raises(ValueError, match="lacks the branches \\['CaloJet04x.PT'"):
        read_pairs_from_delphes(DELPHES, reco_jets="CaloJet04x")
    not_root = tmp_path / "notes.txt"
    not_root.write_text("hello")
    with pytest.raises(ValueError, match="not a readable ROOT file"):
        pairs_from_source(not_root)
    with pytest.raises(ValueError, match="not a pairs directory"):
        pairs_from_source(tmp_path)
