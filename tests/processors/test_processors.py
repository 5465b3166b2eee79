"""The ready processors (ttbar, response, MET tail) and the examples, on real files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from coffea import processor
from coffea.nanoevents import NanoAODSchema
from coffea_support import NANO_TT, nano_events, write_truth_only

import mlsmear
from mlsmear import processors

pytestmark = pytest.mark.filterwarnings(
    "ignore::mlsmear.OutOfRangeWarning", "ignore:Missing cross-reference:RuntimeWarning"
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def truth_file(tmp_path_factory):
    return write_truth_only(tmp_path_factory.mktemp("truth") / "truth_tt.root")


def _run(path, analysis):
    runner = processor.Runner(
        processor.IterativeExecutor(status=False), schema=NanoAODSchema, chunksize=100
    )
    return runner({"tt": [str(path)]}, treename="Events", processor_instance=analysis)


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ttbar_on_truth_only_input(truth_file, tiny_bundle_dir):
    analysis = processors.TTbarLeptonJets(min_btags=0)  # the tiny models learnt no tags
    out = _run(truth_file, mlsmear.MLSmearProcessor(analysis, model=tiny_bundle_dir))
    flow = list(out["cutflow"]["tt"].values())
    assert flow[0] == 200 and flow[0] >= flow[1] >= flow[2] == flow[3] > 10
    for key in ("njet", "ht", "met", "mtop", "nbtag"):
        assert out[key][{"dataset": "tt"}].sum(flow=True) == flow[2]
    njet = out["njet"][{"dataset": "tt"}]
    assert njet[:4].sum() == 0  # at least four jets
    ht = out["ht"][{"dataset": "tt"}]
    assert ht[: ht.axes[0].index(4 * 30.0)].sum() == 0  # four jets above 30 GeV
    assert out["mtop"][{"dataset": "tt"}].values()[:2].sum() < flow[2]


def test_ttbar_on_the_files_own_reco():
    out = _run(NANO_TT, processors.TTbarLeptonJets())
    flow = out["cutflow"]["tt"]
    assert list(flow.values())[:3] == [200, 59, 53]  # events, one lepton, >= 4 jets
    nbtag = out["nbtag"][{"dataset": "tt"}].values(flow=True)  # [underflow, 0, 1, ..., overflow]
    assert nbtag.sum() == 53 and 0 < flow[">= 1 b-tags"] == nbtag[2:].sum() < 53
    assert out["njet"][{"dataset": "tt"}].sum(flow=True) == flow[">= 1 b-tags"]


def test_ttbar_needs_tagged_jets_or_says_so(truth_file, tiny_bundle_dir):
    smeared = mlsmear.MLSmearProcessor(processors.TTbarLeptonJets(), model=tiny_bundle_dir)
    with pytest.raises(Exception, match="no b-tag"):  # coffea wraps it, message kept
        _run(truth_file, smeared)


@pytest.mark.parametrize("smeared", [False, True])
def test_response_and_efficiency(tiny_bundle_dir, smeared):
    analysis = processors.Response()
    if smeared:
        analysis = mlsmear.MLSmearProcessor(analysis, model=tiny_bundle_dir, replace=["Jet"])
    out = {k: h[{"dataset": "tt"}] for k, h in _run(NANO_TT, analysis).items()}
    matched, truth = out["matched"].values(), out["truth"].values()
    assert np.all(matched <= truth) and matched.sum() > 0.5 * truth.sum()
    n_matched, n_responses = out["matched"].sum(flow=True), out["response"].sum(flow=True)
    assert n_responses >= n_matched  # the file's reco may link two jets to one GenJet
    response = out["response"][{"abseta": sum, "pt": sum}]
    mean = np.average(response.axes[0].centers, weights=response.values())
    assert 0.85 < mean < 1.15
    if smeared:  # each smeared jet has its own GenJet: matched GenJets = smeared jets above 20 GeV
        events = nano_events(mode="virtual")
        jets = mlsmear.smear(events.GenJet, model=tiny_bundle_dir)
        assert n_matched == n_responses == ak.sum(jets.matched_gen.pt > 20.0)


def test_met_tail_lists_the_right_events(truth_file, tiny_bundle_dir):
    tail = processors.METTail(threshold=60.0)
    out = _run(truth_file, mlsmear.MLSmearProcessor(tail, model=tiny_bundle_dir, seed=9))
    events = nano_events(truth_file)
    met = mlsmear.smear(events.GenMET, model=tiny_bundle_dir, seed=9)
    keep = ak.to_numpy(met.pt) > 60.0
    expected = {
        (int(r), int(lumi), int(e))
        for r, lumi, e in zip(*(ak.to_numpy(events[f])[keep] for f in
                                ("run", "luminosityBlock", "event")), strict=True)
    }
    assert 0 < len(expected) < 200
    assert out["selected"] == expected
    assert out["counts"]["tt"] == {"events": 200, "selected": len(expected)}


def test_runner_example(tiny_bundle_dir, tmp_path, capsys):
    results = _example("coffea_runner").main(
        ["--model", str(tiny_bundle_dir), "--out", str(tmp_path), "--chunksize", "100"]
    )
    printed = capsys.readouterr().out
    model = f"mlsmear {tiny_bundle_dir.name}"
    header = next(line for line in printed.splitlines() if model in line)
    assert header.split() == [*model.split(), "CMS", "full", "simulation", "(file)"]
    assert f"model {tiny_bundle_dir.name!r}: learnt detector" in printed
    assert "note: the model learnt" in printed  # not the file's CMS detector
    assert any(line.split() == ["events:", "all", "200", "200"] for line in printed.splitlines())
    assert results["CMS full simulation (file)"]["cutflow"]["ttbar"]["events"] == 200
    expected = {"ht.png", "m3.png", "met.png", "njet.png"}
    # (the tiny models learn no b-tags: the job selects without them and draws no b-tag plot)
    selection = next(line for line in printed.splitlines() if "ttbar selection" in line)
    assert "b-tagged" not in selection
    assert {p.name for p in tmp_path.glob("*.png")} == expected


def test_snippet_example(tiny_bundle_dir, capsys):
    jets = _example("snippet").main(["--model", str(tiny_bundle_dir)])
    assert ak.all(jets.pt > 30) and "jets with pT > 30 GeV" in capsys.readouterr().out
