"""MLSmearProcessor: wraps an analysis, pickles small, loads the model per worker, device choice."""

from __future__ import annotations

import pickle
from typing import Any

import awkward as ak
import numba
import pytest
import torch
from coffea import processor
from coffea_support import Columns, nano_events

import mlsmear

pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")


class Recorder(processor.ProcessorABC):
    """Returns what it was given; postprocess marks the accumulator."""

    def process(self, events: Any) -> dict[str, Any]:
        return {
            "events": len(events),
            "fields": {name: tuple(events[name].fields) for name in ("Jet", "Electron")},
            "jet_pt": ak.to_list(events.Jet.pt),
        }

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return {**accumulator, "postprocessed": True}


@pytest.fixture(scope="module")
def chunk():
    return nano_events(mode="virtual", entry_start=20, entry_stop=70)


def test_process_smears_then_runs_the_analysis(chunk, tiny_bundle_dir):
    wrapped = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir, seed=3)
    out = wrapped.process(chunk)
    assert out["events"] == 50
    assert out["fields"]["Jet"] == ("pt", "eta", "phi", "mass", "charge", "genJetIdx", "genJetIdxG")
    expected = mlsmear.smear(chunk.GenJet, model=tiny_bundle_dir, seed=3)
    assert out["jet_pt"] == ak.to_list(expected.pt)
    assert wrapped.postprocess({"x": 1}) == {"x": 1, "postprocessed": True}


def test_replace_a_subset(chunk, tiny_bundle_dir):
    wrapped = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir, replace=["Jet"])
    fields = wrapped.process(chunk)["fields"]
    assert "genJetIdxG" in fields["Jet"] and "btagDeepFlavB" not in fields["Jet"]
    assert "cutBased" in fields["Electron"] and "jetIdx" not in fields["Electron"]


def test_pickles_small_and_runs_after_unpickling(chunk, tiny_bundle_dir):
    wrapped = mlsmear.MLSmearProcessor(Columns(), model=tiny_bundle_dir, seed=8)
    blob = pickle.dumps(wrapped)
    assert len(blob) < 2000  # the model travels by path, not by value
    assert pickle.loads(blob).process(chunk) == wrapped.process(chunk)


def test_torch_threads(chunk, tiny_bundle_dir):
    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        wrapped = mlsmear.MLSmearProcessor(Columns(), model=tiny_bundle_dir, torch_threads=1)
        reference = mlsmear.MLSmearProcessor(Columns(), model=tiny_bundle_dir).process(chunk)
        assert wrapped.process(chunk) == reference and torch.get_num_threads() == 1
        assert numba.get_num_threads() == 1
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def test_model_must_be_a_name_or_path(tiny):
    with pytest.raises(TypeError, match="by name or path"):
        mlsmear.MLSmearProcessor(Recorder(), model=tiny)


def test_zero_length_chunk(tiny_bundle_dir):
    empty = nano_events(entry_start=0, entry_stop=0)
    out = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir).process(empty)
    assert out["events"] == 0 and out["jet_pt"] == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_requested_without_a_gpu_raises(chunk, tiny_bundle_dir):
    wrapped = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir, device="cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        wrapped.process(chunk)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_used_when_present(chunk, tiny_bundle_dir):
    on_gpu = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir, device="cuda")
    on_cpu = mlsmear.MLSmearProcessor(Recorder(), model=tiny_bundle_dir, device="cpu")
    gpu, cpu = on_gpu.process(chunk)["jet_pt"], on_cpu.process(chunk)["jet_pt"]
    same = sum(a == b for a, b in zip(gpu, cpu, strict=True))
    assert same >= 0.9 * len(cpu)  # same uniforms; rare category flips from float rounding
