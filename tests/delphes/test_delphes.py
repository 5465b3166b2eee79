"""Real Delphes as a teacher: build helpers, cards, and ``generate --detector delphes`` for real.

The tests that run Delphes are skipped, with the reason, only when no Delphes build is found
(``mlsmear delphes build --source ...``; CI builds it from ``../shared/vendor`` when present).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import mlsmear
from mlsmear.delphes.build import DelphesBuildError, patch_cmakelists
from mlsmear.delphes.cards import apply_changes, seeded_text, shipped_delphes_cards
from mlsmear.delphes.run import hepmc_record

_CMAKE = """\
find_package(ROOT REQUIRED COMPONENTS EG Eve Gui GuiHtml)
add_subdirectory(classes)
add_subdirectory(display)
add_subdirectory(readers)
add_library(DelphesDisplay SHARED
  $<TARGET_OBJECTS:display>
)

target_link_libraries(DelphesDisplay PUBLIC Delphes ROOT::Geom ROOT::Eve ROOT::GuiHtml)

install(TARGETS Delphes DelphesDisplay DESTINATION lib)
"""

_TCL = """\
module FastJetFinder GenJetFinder {
  set ParameterR 0.6
  set JetPTMin 20.0
}

module FastJetFinder FastJetFinder {
  set InputArray Calorimeter/towers
  set ParameterR 0.6
}
"""


def test_cmakelists_patch():
    patched = patch_cmakelists(_CMAKE)
    assert "find_package(ROOT REQUIRED COMPONENTS EG)" in patched
    assert "display" not in patched and "DelphesDisplay" not in patched
    assert "add_subdirectory(readers)" in patched
    assert "install(TARGETS Delphes DESTINATION" in patched
    with pytest.raises(DelphesBuildError, match="find_package"):
        patch_cmakelists("project(Delphes)\n")


def test_card_changes_touch_only_the_named_modules():
    text = apply_changes(_TCL, [{"module": "FastJetFinder", "parameter": "ParameterR",
                                 "value": "0.4"}])  # fmt: skip
    assert "set ParameterR 0.4" in text.split("module FastJetFinder FastJetFinder")[1]
    assert "set ParameterR 0.6" in text.split("module FastJetFinder FastJetFinder")[0]
    with pytest.raises(DelphesBuildError, match="no module"):
        apply_changes(_TCL, [{"module": "Nope", "parameter": "ParameterR", "value": "1"}])
    card = type("Card", (), {"text": _TCL})()
    assert seeded_text(card, 7).rstrip().endswith("set RandomSeed 7")
    with pytest.raises(ValueError):
        seeded_text(card, 0)  # 0 would be a time-dependent seed in Delphes
    assert {"delphes-atlas", "delphes-cms"} <= set(shipped_delphes_cards())


@pytest.mark.parametrize("name", ["delphes-atlas", "delphes-cms"])
def test_shipped_delphes_bundles_record_their_teacher(name):
    """Every model of a shipped Delphes bundle was trained on that bundle's card through one
    Delphes build (commit, ROOT version), the card's SHA-256 matching its recorded text, and
    carries validation figures from hold-outs that are not among its training samples."""
    import hashlib

    bundle = mlsmear.load(name)
    builds = set()
    for kind in bundle:
        training = bundle[kind].card["training"]
        for data in training["data"]:
            card = data["card"]
            assert data["detector"] == "delphes" and card["name"] == name
            assert hashlib.sha256(card["text"].encode()).hexdigest() == card["sha256"]
            builds.add((data["delphes"]["commit"], data["delphes"]["root_version"]))
        trained_on = {Path(d["source"]).name for d in training["data"]}
        validated = set(bundle[kind].card["validation"])
        assert validated and not validated & trained_on, kind
    assert len(builds) == 1 and len(next(iter(builds))[0]) == 40


def test_gun_record_for_hepmc():
    from mlsmear.generate.guns import Gun

    record = Gun(pdg=11, eta_range=(-2.0, 2.0), pt_range=(10.0, 50.0)).record(
        5, np.random.default_rng(1))
    out = hepmc_record(record)
    assert out.counts.tolist() == [2] * 5 and out["status"][1::2].tolist() == [1] * 5
    assert np.allclose(np.hypot(out["px"][1::2], out["py"][1::2]), record["pt"])


def test_not_built_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    from mlsmear.cli import main

    monkeypatch.setenv("MLSMEAR_DELPHES_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("MLSMEAR_DELPHES_BUILD", raising=False)
    output = tmp_path / "pairs"
    status = main(["generate", "--detector", "delphes", "--process", "ttbar", "--events", "10",
                   "--seed", "1", "--output", str(output), "--no-progress"])  # fmt: skip
    assert status == 2 and not output.exists()


# -- with a Delphes build ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def delphes():
    from mlsmear.delphes.locate import locate_delphes

    try:
        return locate_delphes()
    except DelphesBuildError as err:
        pytest.skip(f"Delphes is not built: {err}")


@pytest.mark.slow  # real Delphes runs
def test_bad_card_or_failing_delphes_leaves_nothing(delphes, tmp_path):
    from mlsmear.generate.guns import Gun
    from mlsmear.generate.runner import generate_pairs

    gun = Gun(pdg=11, eta_range=(-2.0, 2.0), pt_range=(10.0, 50.0))
    with pytest.raises(FileNotFoundError):
        generate_pairs(tmp_path / "a", process="gun-e", n_events=10, seed=1, gun=gun,
                       detector="delphes", card=str(tmp_path / "missing.tcl"), progress=False)
    broken = tmp_path / "broken.tcl"
    broken.write_text("set ExecutionPath {NoSuchModule}\nmodule NoSuchClass NoSuchModule {\n}\n")
    from mlsmear.delphes.run import DelphesError

    with pytest.raises(DelphesError, match="Delphes failed"):
        generate_pairs(tmp_path / "b", process="gun-e", n_events=30, seed=1, gun=gun,
                       detector="delphes", card=str(broken), job_size=10, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_gun_events_independent_of_workers(delphes, tmp_path):
    from mlsmear.generate.guns import Gun
    from mlsmear.generate.runner import generate_pairs

    gun = Gun(pdg=13, eta_range=(-2.4, 2.4), pt_range=(10.0, 200.0))
    for workers in (1, 2):
        generate_pairs(tmp_path / f"w{workers}", process="gun-mu", n_events=40, seed=4,
                       gun=gun, detector="delphes", job_size=20, workers=workers,
                       progress=False)  # fmt: skip
    for kind in ("muon", "met"):
        a, b = (tmp_path / f"w{w}" / f"{kind}.parquet" for w in (1, 2))
        assert a.read_bytes() == b.read_bytes(), kind


@pytest.mark.slow
def test_generate_read_and_train_through_delphes(delphes, tmp_path):
    """A few hundred Pythia ttbar events through real Delphes (ATLAS card, R = 0.4): pairs
    written and read back, lepton eta/phi residuals exactly 0, a tiny jet model trains."""
    import mlsmear
    from mlsmear.cli import main
    from mlsmear.pairs import read_pairs
    from mlsmear.training import TrainConfig, fit_model

    output = tmp_path / "pairs"
    status = main(["generate", "--detector", "delphes", "--card", "delphes-atlas", "--process",
                   "ttbar", "--events", "300", "--seed", "5", "--output", str(output),
                   "--no-progress"])  # fmt: skip
    assert status == 0
    meta = json.loads((output / "meta.json").read_text())
    assert meta["detector"] == "delphes" and meta["card"]["name"] == "delphes-atlas"
    assert meta["delphes"]["root_version"] == delphes.info["root_version"]
    assert "set ParameterR 0.4" in meta["card"]["text"]
    jets = read_pairs(output, "jet").to_pandas()
    assert len(jets) > 300 * 5 and 0.4 < jets["matched"].mean() < 0.95
    response = (jets.reco_pt / jets.truth_pt)[jets.matched & (jets.truth_pt > 30)]
    assert 0.9 < response.median() < 1.1
    for kind in ("electron", "muon"):
        leptons = pq.read_table(output / f"{kind}.parquet").to_pandas()
        m = leptons["matched"].to_numpy()
        assert m.sum() > 20, kind
        assert np.all(leptons.reco_eta[m] == leptons.truth_eta[m]), kind
        assert np.all(leptons.reco_phi[m] == leptons.truth_phi[m]), kind
        assert np.mean(leptons.reco_pt[m] == leptons.truth_pt[m]) < 0.2, kind
    truth = {c: jets[f"truth_{c}"].to_numpy() for c in ("pt", "eta", "phi", "mass")}
    reco = {c: jets[f"reco_{c}"].to_numpy() for c in ("pt", "eta", "phi", "mass")}
    config = TrainConfig(trunk=(16,), head=16, epochs=2, batch_size=256, progress=False, seed=1)
    model = fit_model("jet", truth, reco, jets["matched"].to_numpy(), config=config,
                      card={"teacher": "delphes"})  # fmt: skip
    assert isinstance(model, mlsmear.KindModel)


def test_build_and_info_errors(tmp_path, monkeypatch, capsys):
    from mlsmear.cli import main
    from mlsmear.delphes.build import build_delphes

    monkeypatch.setenv("MLSMEAR_DELPHES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLSMEAR_DELPHES_BUILD", raising=False)
    with pytest.raises(DelphesBuildError, match="no Delphes source"):
        build_delphes(tmp_path / "missing.tar.gz")
    (tmp_path / "not-delphes").mkdir()
    with pytest.raises(DelphesBuildError) as error:
        build_delphes(tmp_path / "not-delphes")
    # without the ROOT wheel or a compiler, that is the (equally clear) error
    assert "no Delphes source tree" in str(error.value) or "needs" in str(error.value)
    assert main(["delphes", "info"]) == 2 and "not built" in capsys.readouterr().err
    assert main(["delphes", "build"]) == 2 and "--source" in capsys.readouterr().err


@pytest.mark.slow
def test_validate_a_lepton_gun_gives_its_efficiency_per_pt_bin(delphes, tmp_path):
    # a gun hold-out has no muons, so no event selections; its electrons' efficiency per
    # truth-pT bin is still compared with the teacher's, on the same truth electrons
    from mlsmear.cli import main

    pairs, out = tmp_path / "gun", tmp_path / "report"
    assert main(["generate", "--detector", "delphes", "--card", "delphes-cms", "--process",
                 "gun-e", "--events", "2000", "--seed", "901", "--pt-range", "10", "100",
                 "--job-size", "2000", "--output", str(pairs), "--no-progress"]) == 0
    assert main(["validate", "--model", "delphes-cms", "--pairs", str(pairs), "--output",
                 str(out), "--auc-objects", "1000", "--no-progress"]) == 0
    closure = json.loads((out / "metrics.json").read_text())["closure"]
    assert closure["selections"] == {}
    table = pq.read_table(pairs / "electron.parquet")
    truth = {c: table.column(c).to_numpy() for c in ("truth_jet_iso", "truth_eta", "truth_pt")}
    isolated = (truth["truth_jet_iso"] < 0.05) & (np.abs(truth["truth_eta"]) < 2.5)
    rows = closure["objects"]["electron_efficiency"]
    for label, lo, hi in (("pt10-25", 10, 25), ("pt25+", 25, np.inf)):
        expected = int((isolated & (truth["truth_pt"] >= lo) & (truth["truth_pt"] < hi)).sum())
        assert expected > 100 and rows[label]["objects"] == expected
        assert 0 < rows[label]["teacher"] < 1 and 0 < rows[label]["learnt"] < 1
    assert "lepton efficiency" in (out / "report.html").read_text()
