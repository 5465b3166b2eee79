"""The onnxruntime back end: kept in the card, torch float32's network, reproducible."""

from __future__ import annotations

import dataclasses
import json
import pickle

import awkward as ak
import numpy as np
import pytest
import torch

import mlsmear
from mlsmear.synthetic import SyntheticDetector
from mlsmear.threads import limited_threads

pytestmark = [
    pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning"),
    pytest.mark.filterwarnings("ignore::mlsmear.identity.IdentityWarning"),
]


def _jets(n: int, per_event: int = 10) -> ak.Array:
    truth = SyntheticDetector().truth(n, np.random.default_rng(4))
    return ak.unflatten(ak.zip(truth), np.full(n // per_event, per_event))


def _flat(out: ak.Array) -> dict[str, np.ndarray]:
    return {f: ak.to_numpy(ak.flatten(out[f])) for f in ("pt", "eta", "phi", "mass")}


@pytest.fixture(scope="module")
def ort_jet(tiny):
    return dataclasses.replace(tiny["jet"], backend="onnxruntime")


def test_backend_round_trip(ort_jet, tmp_path):
    ort_jet.save(tmp_path)
    assert json.loads((tmp_path / "jet.json").read_text())["backend"] == "onnxruntime"
    reloaded = mlsmear.load(tmp_path / "jet.json")
    assert reloaded.backend == "onnxruntime"
    jets = _jets(2000)
    a = mlsmear.smear(jets, model=ort_jet, seed=2, device="cpu")
    b = mlsmear.smear(jets, model=reloaded, seed=2, device="cpu")
    for f, v in _flat(a).items():
        np.testing.assert_array_equal(v, _flat(b)[f])


def test_unknown_backend_refused(tiny_bundle_dir, tmp_path):
    card = json.loads((tiny_bundle_dir / "jet.json").read_text())
    card["backend"] = "tensorrt"
    (tmp_path / "jet.json").write_text(json.dumps(card))
    (tmp_path / "jet.safetensors").write_bytes((tiny_bundle_dir / "jet.safetensors").read_bytes())
    with pytest.raises(mlsmear.ModelFileError, match="unknown backend 'tensorrt'"):
        mlsmear.load(tmp_path / "jet.json")


def test_a_card_without_backend_is_torch(tiny):
    assert tiny["jet"].backend == "torch"


def test_independent_of_batch_size_and_chunking(ort_jet):
    jets = _jets(5000)
    ids = np.arange(len(jets))
    whole = mlsmear.smear(jets, model=ort_jet, seed=5, event_id=ids, batch_size=4096)
    parts = [
        mlsmear.smear(jets[s], model=ort_jet, seed=5, event_id=ids[s], batch_size=97)
        for s in (slice(0, 123), slice(123, None))
    ]
    joined = ak.concatenate(parts)
    assert ak.to_list(ak.num(whole)) == ak.to_list(ak.num(joined))
    for f, v in _flat(whole).items():
        np.testing.assert_array_equal(v, _flat(joined)[f])


def test_independent_of_the_thread_count(ort_jet):
    jets = _jets(20_000)
    out = {}
    for n in (1, 2):
        with limited_threads(n):
            out[n] = _flat(mlsmear.smear(jets, model=ort_jet, seed=6, batch_size=8192))
    for f, v in out[1].items():
        np.testing.assert_array_equal(v, out[2][f])


def test_sessions_are_built_once_per_thread_count_and_not_pickled(ort_jet):
    with limited_threads(1):
        first = ort_jet.evaluator("cpu").network
        assert ort_jet.evaluator("cpu").network is first
    copy = pickle.loads(pickle.dumps(ort_jet))
    assert copy.backend == "onnxruntime" and copy._evaluation_nets == {}
    jets = _jets(1000)
    for f, v in _flat(mlsmear.smear(jets, model=copy, seed=1)).items():
        np.testing.assert_array_equal(v, _flat(mlsmear.smear(jets, model=ort_jet, seed=1))[f])


def test_bfloat16_and_cuda_stay_with_torch(ort_jet):
    bf16 = dataclasses.replace(ort_jet, precision="bfloat16")
    assert type(bf16.evaluator("cpu")).__name__ == "TorchEvaluator"
    assert type(ort_jet.evaluator("cpu")).__name__ == "OnnxEvaluator"


@pytest.mark.parametrize("bundle", ["atlas-like", "delphes-cms"])
def test_same_network_as_torch_float32(bundle):
    """Head by head on the same inputs and scores, onnxruntime's probabilities are torch
    float32's up to float32 rounding, so the categories drawn with the same uniforms differ only
    where a uniform falls between the two CDFs: at most Σ_c |ΔCDF_c| per row and head, whose sum
    over rows bounds the expected number of differing categories (+ 3 Poisson σ)."""
    jet = mlsmear.load(bundle)["jet"]
    ort = dataclasses.replace(jet, precision="float32", backend="onnxruntime")
    torch_ = dataclasses.replace(jet, precision="float32", backend="torch")
    rng = np.random.default_rng(11)
    n, n_q = 20_000, jet.net.n_quantities
    x = rng.uniform(-1, 1, (n, jet.net.n_inputs)).astype(np.float32)
    scores = torch.from_numpy(rng.standard_normal((n, n_q)).astype(np.float32))
    u = rng.random((n, n_q))
    a, b = ort.evaluator("cpu"), torch_.evaluator("cpu")
    bound, differ = 0.0, 0
    with torch.inference_mode():
        a.start(x)
        b.start(x)
        for k in range(n_q):
            pa, pb = a.probs(k, scores).numpy(), b.probs(k, scores).numpy()
            assert np.abs(pa - pb).max() < 1e-4  # a wrong layer or weight moves p by O(0.1)
            ca, cb = np.cumsum(pa, axis=1, dtype=np.float64), np.cumsum(pb, axis=1,
                                                                         dtype=np.float64)
            bound += float(np.abs(ca - cb).sum())
            differ += int(np.count_nonzero(
                (ca < u[:, k : k + 1]).sum(axis=1) != (cb < u[:, k : k + 1]).sum(axis=1)
            ))
    assert differ <= bound + 3 * np.sqrt(bound) + 1

