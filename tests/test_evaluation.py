"""How the network is evaluated: the card's precision (bfloat16: float32's response) and back end
(onnxruntime: torch float32's network), both kept in the card and reproducible across batches,
chunks and thread counts."""

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


def _assert_same(a: ak.Array, b: ak.Array) -> None:
    assert ak.to_list(ak.num(a)) == ak.to_list(ak.num(b))
    for f, v in _flat(a).items():
        np.testing.assert_array_equal(v, _flat(b)[f])


#: The evaluations a card can ask for besides torch float32: (card key, value).
EVALUATIONS = [("precision", "bfloat16"), ("backend", "onnxruntime")]


@pytest.fixture(scope="module", params=EVALUATIONS, ids=lambda e: e[1])
def evaluated(request, tiny):
    key, value = request.param
    return key, value, dataclasses.replace(tiny["jet"], **{key: value})


@pytest.fixture(scope="module")
def bf16_jet(tiny):
    return dataclasses.replace(tiny["jet"], precision="bfloat16")


@pytest.fixture(scope="module")
def ort_jet(tiny):
    return dataclasses.replace(tiny["jet"], backend="onnxruntime")


def test_card_round_trip(evaluated, tmp_path):
    key, value, model = evaluated
    model.save(tmp_path)
    assert json.loads((tmp_path / "jet.json").read_text())[key] == value
    reloaded = mlsmear.load(tmp_path / "jet.json")
    assert getattr(reloaded, key) == value
    jets = _jets(2000)
    _assert_same(mlsmear.smear(jets, model=model, seed=2, device="cpu"),
                 mlsmear.smear(jets, model=reloaded, seed=2, device="cpu"))


@pytest.mark.parametrize("key, value", [("precision", "float8"), ("backend", "tensorrt")])
def test_unknown_value_refused(tiny_bundle_dir, tmp_path, key, value):
    card = json.loads((tiny_bundle_dir / "jet.json").read_text())
    card[key] = value
    (tmp_path / "jet.json").write_text(json.dumps(card))
    (tmp_path / "jet.safetensors").write_bytes((tiny_bundle_dir / "jet.safetensors").read_bytes())
    with pytest.raises(mlsmear.ModelFileError, match=f"unknown {key} '{value}'"):
        mlsmear.load(tmp_path / "jet.json")


def test_a_card_without_backend_is_torch(tiny):
    assert tiny["jet"].backend == "torch"


def test_independent_of_batch_size_and_chunking(evaluated):
    model = evaluated[2]
    jets = _jets(5000)
    ids = np.arange(len(jets))
    whole = mlsmear.smear(jets, model=model, seed=5, event_id=ids, batch_size=4096)
    parts = [
        mlsmear.smear(jets[s], model=model, seed=5, event_id=ids[s], batch_size=97)
        for s in (slice(0, 123), slice(123, None))
    ]
    _assert_same(whole, ak.concatenate(parts))


def test_independent_of_the_thread_count(evaluated):
    model = evaluated[2]
    jets = _jets(20_000)
    out = {}
    for n in (1, 2):
        with limited_threads(n):
            out[n] = mlsmear.smear(jets, model=model, seed=6, batch_size=8192)
    _assert_same(out[1], out[2])


def test_bf16_response_matches_float32(tiny, bf16_jet):
    """Median and efficiency of the bfloat16 model agree with float32 within the statistical
    uncertainty of one independent sample (the two share their uniforms, so a correct bfloat16
    path is far closer than that; a broken one — e.g. normal scores from bfloat16 positions —
    is not)."""
    n = 40_000
    jets = _jets(n)
    out = {
        name: mlsmear.smear(jets, model=model, seed=7, device="cpu")
        for name, model in (("f32", tiny["jet"]), ("bf16", bf16_jet))
    }
    kept = {k: int(ak.sum(ak.num(v))) for k, v in out.items()}
    eff_sigma = np.sqrt(kept["f32"] * (1 - kept["f32"] / n))
    assert abs(kept["bf16"] - kept["f32"]) < 3 * eff_sigma
    ratio = {}
    for name, reco in out.items():
        truth_pt = jets.pt[reco.truth_index]
        ratio[name] = ak.to_numpy(ak.flatten(reco.pt / truth_pt))
    q25, q50, q75 = np.quantile(ratio["f32"], [0.25, 0.5, 0.75])
    # σ(median) = 1.253 σ / √n with σ ≈ IQR / 1.349
    median_sigma = 1.253 * (q75 - q25) / 1.349 / np.sqrt(ratio["f32"].size)
    assert abs(np.median(ratio["bf16"]) - q50) < 3 * median_sigma
    iqr_bf16 = np.subtract(*np.quantile(ratio["bf16"], [0.75, 0.25]))
    # σ(IQR) ≈ 1.57 σ / √n for a Gaussian core (variances and covariance of the quartiles)
    iqr_sigma = 1.57 * (q75 - q25) / 1.349 / np.sqrt(ratio["f32"].size)
    assert abs(iqr_bf16 - (q75 - q25)) < 3 * iqr_sigma


def test_models_are_immutable_a_precision_is_a_new_model(tiny):
    jet = tiny["jet"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        jet.precision = "bfloat16"
    bf16 = dataclasses.replace(jet, precision="bfloat16")
    assert (jet.precision, bf16.precision) == ("float32", "bfloat16") and bf16.net is jet.net
    assert jet.evaluation_net("cpu") is jet.net
    assert next(bf16.evaluation_net("cpu").parameters()).dtype == torch.bfloat16
    assert bf16.evaluation_net(torch.device("cpu")) is bf16.evaluation_net("cpu")


def test_sessions_are_built_once_and_not_pickled(ort_jet):
    first = ort_jet.evaluator("cpu").network
    with limited_threads(2):
        assert ort_jet.evaluator("cpu").network is first
    copy = pickle.loads(pickle.dumps(ort_jet))
    assert copy.backend == "onnxruntime" and copy._evaluation_nets == {}
    jets = _jets(1000)
    _assert_same(mlsmear.smear(jets, model=copy, seed=1),
                 mlsmear.smear(jets, model=ort_jet, seed=1))


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



@pytest.mark.parametrize("threads", [1, 2])
def test_no_objects_and_one_batch(ort_jet, threads):
    """No rows (no batch at all) and fewer rows than a batch, on one and two threads."""
    jets = _jets(100)
    with limited_threads(threads):
        none = mlsmear.smear(_jets(10)[:, :0], model=ort_jet, seed=1)
        few = mlsmear.smear(jets, model=ort_jet, seed=1, batch_size=4096)
    assert ak.to_list(ak.num(none)) == [0]
    _assert_same(few, mlsmear.smear(jets, model=ort_jet, seed=1, batch_size=7))
