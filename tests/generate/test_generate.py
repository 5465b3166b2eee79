"""``mlsmear generate`` end to end on real Pythia events (small counts), and the pairs format."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow as pa
import pytest

from mlsmear import cli
from mlsmear.generate.pythia import PROCESSES, import_pythia
from mlsmear.generate.runner import plan_jobs
from mlsmear.pairs import (
    KINDS,
    PairsWriter,
    read_meta,
    read_pairs,
    required_columns,
    validate_table,
    write_pairs,
)

EVENTS = 40


def _generate(output, *extra: str, seed: int = 7, process: str = "ttbar") -> int:
    argv = ["generate", "--process", process, "--events", str(EVENTS), "--seed", str(seed),
            "--output", str(output), "--job-size", "20", "--no-progress", *extra]  # fmt: skip
    return cli.main(argv)


def _tables(directory) -> dict[str, pa.Table]:
    return {kind: read_pairs(directory, kind) for kind in KINDS}


def _assert_same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> None:
    for kind in KINDS:
        assert a[kind].column_names == b[kind].column_names
        for name in a[kind].column_names:  # NaN == NaN here, unlike Table.equals
            np.testing.assert_array_equal(a[kind][name].to_numpy(), b[kind][name].to_numpy())


@pytest.fixture(scope="module")
def ttbar(tmp_path_factory):
    output = tmp_path_factory.mktemp("ttbar") / "pairs"
    assert _generate(output) == 0
    return output


def test_pairs_directory_is_valid(ttbar):
    meta = read_meta(ttbar)
    assert meta["n_events"] == EVENTS and meta["process"] == "ttbar" and meta["seed"] == 7
    assert meta["card"]["name"] == "atlas-like" and meta["generator"].startswith("pythia8mc")
    assert meta["composition"] == {"ttbar": {"settings": list(PROCESSES["ttbar"][0][0].settings),
                                             "n_events": EVENTS}}  # fmt: skip
    tables = _tables(ttbar)
    assert tables["met"].num_rows == EVENTS
    events = tables["met"].column("event").to_numpy()
    np.testing.assert_array_equal(events, (7 << 32) + np.arange(EVENTS))
    for kind in ("jet", "electron", "muon", "photon"):
        assert set(required_columns(kind)) <= set(tables[kind].column_names)
        assert set(tables[kind].column("event").to_numpy()) <= set(events)
        assert meta["rows"][kind] == tables[kind].num_rows
    jets = tables["jet"].to_pydict()
    assert min(jets["truth_pt"]) > 10.0
    assert 5 in jets["truth_hadronFlavour"]  # every ttbar event has two b quarks
    assert 0.0 < np.mean(jets["matched"]) < 1.0  # GenJets 10-20 GeV are below the reco cut
    assert {"truth_charge", "truth_pdgId", "truth_iso", "reco_charge"} <= set(
        tables["muon"].column_names
    )


def test_jet_prompt_content_by_brute_force(ttbar):
    """muon_frac / em_frac: pT of the prompt muons / electrons + photons within Delta R < 0.4
    over the jet pT (at most 1), recomputed here object by object from the pairs."""
    tables = {kind: _tables(ttbar)[kind].to_pandas() for kind in KINDS}
    jets = tables["jet"]
    expected = {"muon_frac": np.zeros(len(jets)), "em_frac": np.zeros(len(jets))}
    for name, kinds in (("muon_frac", ("muon",)), ("em_frac", ("electron", "photon"))):
        for kind in kinds:
            for _, obj in tables[kind].iterrows():
                same = (jets["event"] == obj["event"]).to_numpy()
                dphi = np.angle(np.exp(1j * (jets["truth_phi"].to_numpy() - obj["truth_phi"])))
                dr = np.hypot(jets["truth_eta"].to_numpy() - obj["truth_eta"], dphi)
                expected[name] += np.where(same & (dr < 0.4), obj["truth_pt"], 0.0)
        expected[name] = np.minimum(expected[name] / jets["truth_pt"].to_numpy(), 1.0)
        np.testing.assert_allclose(jets[f"truth_{name}"], expected[name], rtol=1e-5, atol=1e-6)
    assert jets["truth_muon_frac"].max() > 0.5  # a prompt muon from a W makes its own GenJet


def test_lepton_jet_isolation_by_brute_force(ttbar):
    """jet_iso: (pT of the closest GenJet within Delta R < 0.4 minus the object's pT) over the
    object's pT, at least 0, and 0 without such a jet; nb_jet_dr / nb_jet_ratio: Delta R to the
    closest other GenJet and its pT over the object's (10 / 0 without one) — recomputed here
    row by row."""
    tables = {kind: _tables(ttbar)[kind].to_pandas() for kind in KINDS}
    jets = tables["jet"]
    for kind in ("electron", "muon", "photon"):
        expected = {"jet_iso": [], "nb_jet_dr": [], "nb_jet_ratio": []}
        for _, obj in tables[kind].iterrows():
            same = jets[jets["event"] == obj["event"]]
            dphi = np.angle(np.exp(1j * (same["truth_phi"].to_numpy() - obj["truth_phi"])))
            dr = np.hypot(same["truth_eta"].to_numpy() - obj["truth_eta"], dphi)
            jet_pt = same["truth_pt"].to_numpy()
            own = np.argmin(dr) if dr.size and dr.min() < 0.4 else None
            iso = 0.0 if own is None else max(jet_pt[own] - obj["truth_pt"], 0.0) / obj["truth_pt"]
            expected["jet_iso"].append(iso)
            others = np.ones(dr.size, bool) if own is None else np.arange(dr.size) != own
            near = np.argmin(np.where(others, dr, np.inf)) if others.any() else None
            expected["nb_jet_dr"].append(10.0 if near is None else dr[near])
            expected["nb_jet_ratio"].append(0.0 if near is None else jet_pt[near] / obj["truth_pt"])
        for name, values in expected.items():
            np.testing.assert_allclose(tables[kind][f"truth_{name}"], values, rtol=1e-5,
                                       atol=1e-5)
    assert (tables["muon"]["truth_jet_iso"] > 0).any()  # not all trivially zero
    assert (tables["electron"]["truth_nb_jet_dr"] < 1.0).any()  # some have a jet beside them


def test_prompt_isolation_by_brute_force(ttbar):
    """em_iso / muon_iso: summed pT of the *other* prompt e and gamma / mu within Delta R < 0.4
    over the object's pT — recomputed here row by row from the pairs' e/mu/gamma rows."""
    tables = {kind: _tables(ttbar)[kind].to_pandas() for kind in KINDS}
    sums = {"em_iso": ("electron", "photon"), "muon_iso": ("muon",)}
    for kind in ("electron", "muon", "photon"):
        objects = tables[kind]
        for name, kinds in sums.items():
            expected = np.zeros(len(objects))
            for other in kinds:
                for row, (_, obj) in enumerate(objects.iterrows()):
                    rows = tables[other][tables[other]["event"] == obj["event"]]
                    dphi = np.angle(np.exp(1j * (rows["truth_phi"].to_numpy() - obj["truth_phi"])))
                    dr = np.hypot(rows["truth_eta"].to_numpy() - obj["truth_eta"], dphi)
                    itself = (dr == 0) & (rows["truth_pt"].to_numpy() == obj["truth_pt"])
                    expected[row] += rows["truth_pt"].to_numpy()[(dr < 0.4) & ~itself].sum()
            expected /= objects["truth_pt"].to_numpy()
            np.testing.assert_allclose(objects[f"truth_{name}"], expected, rtol=1e-5, atol=1e-6)
    # not all trivially zero: FSR photons sit next to the leptons
    assert any((tables[k]["truth_em_iso"] > 0).any() for k in ("electron", "muon", "photon"))


def test_same_seed_same_output_other_seed_different(ttbar, tmp_path):
    assert _generate(tmp_path / "again") == 0
    assert _generate(tmp_path / "other", seed=8) == 0
    reference = _tables(ttbar)
    _assert_same(_tables(tmp_path / "again"), reference)
    other = _tables(tmp_path / "other")
    assert other["jet"]["truth_pt"] != reference["jet"]["truth_pt"]


def test_output_does_not_depend_on_the_number_of_workers(ttbar, tmp_path):
    assert _generate(tmp_path / "two", "--workers", "2") == 0
    _assert_same(_tables(tmp_path / "two"), _tables(ttbar))


def test_gun_through_the_cli(tmp_path):
    argv = ["--pt-range", "20", "80", "--eta-range", "-1", "1"]
    assert _generate(tmp_path / "gun", *argv, process="gun-mu") == 0
    muons = read_pairs(tmp_path / "gun", "muon", as_numpy=True)
    assert len(muons["truth_pt"]) == EVENTS  # exactly one prompt muon per event
    assert np.all((muons["truth_pt"] >= 20) & (muons["truth_pt"] <= 80))
    assert np.all(np.abs(muons["truth_eta"]) <= 1)
    assert read_meta(tmp_path / "gun")["gun"]["pdg"] == 13


def test_mix_composition_covers_every_process():
    jobs = plan_jobs("mix", 300_000)
    names = {job.slice.name.split("_")[0] for job in jobs}
    assert names == {"ttbar", "gammajets", "qcd", "wjets", "zjets", "zvv"}
    assert sum(job.n_events for job in jobs) == 300_000
    assert [job.first_event for job in jobs[:3]] == [0, jobs[0].n_events, sum(
        j.n_events for j in jobs[:2])]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "process", "message"),
    [
        ((), "gun-e", "gun-e needs --pt, --pt-range or --energy"),
        (("--pt", "50"), "ttbar", "['--pt'] only apply to the gun processes"),
        (("--pt", "-5"), "gun-e", "0 < low <= high"),
        (("--seed", "-1"), "ttbar", "seed must be in 0 ... 2**31 - 1"),
        (("--card", "nope"), "ttbar", "unknown detector card 'nope'"),
    ],
)
def test_cli_errors(tmp_path, capsys, extra, process, message):
    assert _generate(tmp_path / "x", *extra, process=process) == 2
    assert message in capsys.readouterr().err


def test_existing_output_needs_overwrite(ttbar, capsys):
    assert _generate(ttbar) == 2
    assert "already holds pairs files" in capsys.readouterr().err


def test_missing_pythia_is_a_clear_error(monkeypatch, tmp_path, capsys):
    import_pythia.cache_clear()
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # makes `import pythia8mc` fail
    try:
        with pytest.raises(ImportError, match='pip install "mlsmear\\[generate\\]"'):
            import_pythia()
        assert _generate(tmp_path / "x") == 2
        assert 'pip install "mlsmear[generate]"' in capsys.readouterr().err
        assert not (tmp_path / "x").exists()  # failed before writing anything
    finally:
        import_pythia.cache_clear()


# ---------------------------------------------------------------------------- pairs format


def _jet_columns(n: int = 3) -> dict[str, np.ndarray]:
    matched = np.arange(n) % 2 == 0
    reco = np.where(matched, 40.0, np.nan)
    columns = {name: np.full(n, 30.0) for name in required_columns("jet")}
    columns.update(event=np.arange(n), matched=matched, reco_pt=reco, reco_eta=reco,
                   reco_phi=reco, reco_mass=reco)  # fmt: skip
    return columns


def test_pairs_round_trip_and_stored_types(tmp_path):
    write_pairs(tmp_path / "p", {"jet": _jet_columns()}, {"generator": "test", "n_events": 3})
    table = read_pairs(tmp_path / "p", "jet")
    assert table.schema.field("truth_pt").type == pa.float32()
    assert table.schema.field("event").type == pa.int64()
    assert read_pairs(tmp_path / "p", "jet", as_numpy=True)["matched"].tolist() == [1, 0, 1]
    assert json.loads((tmp_path / "p" / "meta.json").read_text())["format"] == "mlsmear-pairs"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"truth_pt": None}, "lack the columns \\['truth_pt'\\]"),
        ({"truth_pt": np.array(["a", "b", "c"])}, "wrong type"),
        ({"truth_hadronFlavour": np.array([0.5, 1.0, 5.0])}, "wrong type"),
        ({"reco_pt": np.full(3, 40.0)}, "NaN exactly where matched is false"),
        ({"truth_pt": np.array([30.0, np.nan, 30.0])}, "truth_pt has missing or non-finite"),
    ],
)
def test_pairs_validation_errors(change, message):
    columns = _jet_columns()
    for name, values in change.items():
        if values is None:
            del columns[name]
        else:
            columns[name] = values
    with pytest.raises(ValueError, match=message):
        validate_table("jet", columns)


def test_pairs_bad_directory_and_kind(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a pairs directory"):
        read_pairs(tmp_path, "jet")
    write_pairs(tmp_path / "p", {"jet": _jet_columns()}, {"generator": "test", "n_events": 3})
    with pytest.raises(FileNotFoundError, match="no muon pairs \\(kinds present: \\['jet'\\]\\)"):
        read_pairs(tmp_path / "p", "muon")
    with pytest.raises(ValueError, match="unknown pairs kind 'jets'"):
        read_pairs(tmp_path / "p", "jets")
    with pytest.raises(ValueError, match="meta lacks \\['n_events'\\]"):
        write_pairs(tmp_path / "q", {}, {"generator": "test"})
    with pytest.raises(ValueError, match="already holds pairs files"):
        PairsWriter(tmp_path / "p")
