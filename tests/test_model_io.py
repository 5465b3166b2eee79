"""Model files: round trip, refusal of pickles, corrupt and mismatched files."""

from __future__ import annotations

import pickle
import shutil

import awkward as ak
import numpy as np
import pytest
import torch

import mlsmear
from mlsmear.synthetic import SyntheticDetector


def test_round_trip_identical_output(tiny, tmp_path):
    tiny["jet"].save(tmp_path)
    reloaded = mlsmear.load(tmp_path / "jet.json")
    truth = SyntheticDetector().truth(500, np.random.default_rng(0))
    truth = ak.unflatten(ak.zip(truth), 100 * [5])
    a = mlsmear.smear(truth, model=tiny["jet"], seed=3)
    b = mlsmear.smear(truth, model=reloaded, seed=3)
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(a.pt)), ak.to_numpy(ak.flatten(b.pt)))


def test_bundle_lists_kinds(tiny):
    assert sorted(tiny) == ["electron", "jet", "met", "muon", "photon"]
    with pytest.raises(KeyError, match="has no 'tau' model"):
        tiny["tau"]


@pytest.mark.parametrize("saver", ["pickle", "torch"])
def test_pickle_refused(tmp_path, saver):
    path = tmp_path / "jet.json"
    if saver == "pickle":
        path.write_bytes(pickle.dumps({"format": "mlsmear-model"}))
    else:
        torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(mlsmear.ModelFileError, match="refused, model files never execute code"):
        mlsmear.load(path)


def test_truncated_tensor_file(tiny_bundle_dir, tmp_path):
    shutil.copytree(tiny_bundle_dir, tmp_path / "b")
    blob = (tmp_path / "b" / "jet.safetensors").read_bytes()
    (tmp_path / "b" / "jet.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(mlsmear.ModelFileError, match="SHA-256 mismatch"):
        mlsmear.load(tmp_path / "b")


def test_mismatched_pair(tiny_bundle_dir, tmp_path):
    shutil.copytree(tiny_bundle_dir, tmp_path / "b")
    shutil.copy(tmp_path / "b" / "muon.safetensors", tmp_path / "b" / "jet.safetensors")
    with pytest.raises(mlsmear.ModelFileError, match="does not belong to"):
        mlsmear.load(tmp_path / "b" / "jet.json")


def test_truncated_card(tiny_bundle_dir, tmp_path):
    shutil.copytree(tiny_bundle_dir, tmp_path / "b")
    card = (tmp_path / "b" / "jet.json").read_text()
    (tmp_path / "b" / "jet.json").write_text(card[:100])
    with pytest.raises(mlsmear.ModelFileError, match="not a valid JSON model card"):
        mlsmear.load(tmp_path / "b")


def test_unknown_name():
    with pytest.raises(mlsmear.ModelFileError, match="no model 'nope'"):
        mlsmear.load("nope")


def test_safetensors_header_length_like_pickle_magic_loads(tmp_path):
    """A tensor file whose header length starts with byte 0x80 is not mistaken for a pickle."""
    from safetensors.torch import save

    from mlsmear.model_files import _read_bytes

    blobs = (save({"x": torch.zeros(1)}, metadata={"pad": "p" * k}) for k in range(256))
    blob = next(b for b in blobs if b[0] == 0x80)
    (tmp_path / "t.safetensors").write_bytes(blob)
    assert _read_bytes(tmp_path / "t.safetensors") == blob
