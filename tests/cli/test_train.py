"""`mlsmear train` end to end on the bundled NanoAOD file (a smoke test: far too small)."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import mlsmear
from mlsmear.cli import main
from mlsmear.readers import read_pairs_from_nanoaod

NANO = Path(__file__).parents[1] / "data" / "nano_tt_v12.root"


def test_train_on_nanoaod_jets(tmp_path):
    status = main([
        "train", "--pairs", str(NANO), "--kind", "jet", "--output", str(tmp_path),
        "--epochs", "2", "--trunk", "16", "--head", "16", "--no-progress",
    ])
    assert status == 0
    card = json.loads((tmp_path / "jet.json").read_text())
    assert card["training"]["objects"] == 1694 and card["training"]["matched"] == 1336
    assert [f["name"] for f in card["inputs"]] == [
        "pt", "eta", "mass", "hadronFlavour", "muon_frac", "em_frac", "dr_nearest",
        "nb_pt_ratio", "activity", "dr_b", "dr_c",  # the last two computed from the GenJets
    ]
    assert card["tags"] == {"btag": "discriminant"}  # NanoAOD: btagDeepFlavB itself
    model = mlsmear.load(tmp_path / "jet.json")
    assert model.thresholds["pt_min"] >= 10.0  # the file's reco jets start at 15 GeV
    # the teacher's acceptance edge: the largest matched reco |eta|, rounded up to 0.01
    pairs = read_pairs_from_nanoaod(NANO)["jet"]
    matched = pairs.column("matched").to_numpy()
    edge = np.abs(pairs.column("reco_eta").to_numpy()[matched]).max()
    assert model.thresholds["abs_eta_max"] == pytest.approx(np.ceil(edge * 100) / 100)
    truth = ak.zip({"pt": [[40.0, 25.0]], "eta": [[0.1, -1.0]], "phi": [[0.0, 1.0]],
                    "mass": [[5.0, 3.0]], "hadronFlavour": [[5, 0]], "muon_frac": [[0.0, 0.0]],
                    "em_frac": [[0.0, 0.9]], "dr_nearest": [[3.0, 3.0]],
                    "nb_pt_ratio": [[0.6, 1.6]], "activity": [[0.0, 0.0]]})
    out = mlsmear.smear(truth, model=model, seed=1)
    assert len(out) == 1 and np.all(ak.to_numpy(ak.flatten(out.pt)) > model.thresholds["pt_min"])
    tags = ak.to_numpy(ak.flatten(out.btag))  # within the file's discriminant range
    lo, hi = model.binnings[-1].knots[[0, -1]]
    assert np.all((tags == 0.0) | ((tags >= lo) & (tags <= hi))) and 0.0 <= lo <= hi <= 1.0


def test_train_errors_are_clear(tmp_path, capsys):
    assert main(["train", "--pairs", str(tmp_path / "none.root"), "--kind", "jet",
                 "--output", str(tmp_path)]) == 2
    assert "no such pairs directory or ROOT file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--pairs", str(NANO), "--kind", "tau", "--output", str(tmp_path)])


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--cooldown", "-1", "--cooldown must be >= 0"),
    ("--efficiency-weight", "0.5", "--efficiency-weight must be a number >= 1"),
    ("--efficiency-weight", "nan", "--efficiency-weight must be a number >= 1"),
])
def test_train_refuses_bad_loop_settings(tmp_path, capsys, option, value, message):
    # refused before any reading: the options cannot give a model whatever the data
    assert main(["train", "--pairs", str(NANO), "--kind", "jet", "--output", str(tmp_path),
                 option, value]) == 2
    assert message in capsys.readouterr().err
