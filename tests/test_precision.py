"""bfloat16 evaluation: kept in the card, reproducible across batches, float32's response."""

from __future__ import annotations

import dataclasses
import json

import awkward as ak
import numpy as np
import pytest
import torch

import mlsmear
from mlsmear.synthetic import SyntheticDetector

pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")


def _jets(n: int, per_event: int = 10) -> ak.Array:
    truth = SyntheticDetector().truth(n, np.random.default_rng(4))
    return ak.unflatten(ak.zip(truth), np.full(n // per_event, per_event))


@pytest.fixture(scope="module")
def bf16_jet(tiny):
    return dataclasses.replace(tiny["jet"], precision="bfloat16")


def test_precision_round_trip(bf16_jet, tmp_path):
    bf16_jet.save(tmp_path)
    assert json.loads((tmp_path / "jet.json").read_text())["precision"] == "bfloat16"
    reloaded = mlsmear.load(tmp_path / "jet.json")
    assert reloaded.precision == "bfloat16"
    jets = _jets(2000)
    a = mlsmear.smear(jets, model=bf16_jet, seed=2, device="cpu")
    b = mlsmear.smear(jets, model=reloaded, seed=2, device="cpu")
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(a.pt)), ak.to_numpy(ak.flatten(b.pt)))


def test_unknown_precision_refused(tiny_bundle_dir, tmp_path):
    card = json.loads((tiny_bundle_dir / "jet.json").read_text())
    card["precision"] = "float8"
    (tmp_path / "jet.json").write_text(json.dumps(card))
    (tmp_path / "jet.safetensors").write_bytes((tiny_bundle_dir / "jet.safetensors").read_bytes())
    with pytest.raises(mlsmear.ModelFileError, match="unknown precision 'float8'"):
        mlsmear.load(tmp_path / "jet.json")


def test_bf16_independent_of_batch_size(bf16_jet):
    jets = _jets(5000)
    ids = np.arange(len(jets))
    whole = mlsmear.smear(jets, model=bf16_jet, seed=5, event_id=ids, batch_size=4096)
    parts = [
        mlsmear.smear(jets[s], model=bf16_jet, seed=5, event_id=ids[s], batch_size=97)
        for s in (slice(0, 123), slice(123, None))
    ]
    joined = ak.concatenate(parts)
    assert ak.to_list(ak.num(whole)) == ak.to_list(ak.num(joined))
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(whole.pt)), ak.to_numpy(ak.flatten(joined.pt))
    )


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
