"""Exactly-zero reco values (massless one-tower jets) as a category of their own."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

import mlsmear
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model

pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")

N_TRAIN, N_SAMPLE, P_ZERO = 40_000, 40_000, 0.4
CONFIG = TrainConfig(trunk=(32, 32), head=32, epochs=10, batch_size=1024, learning_rate=3e-3,
                     progress=False, seed=5)


def _toy(n: int, seed: int) -> tuple[dict, dict, np.ndarray]:
    """The synthetic detector, plus: a matched jet has reco mass exactly 0 with probability
    P_ZERO."""
    rng = np.random.default_rng(seed)
    truth = SyntheticDetector().truth(n, rng)
    reco, matched = SyntheticDetector().reconstruct(truth, rng)
    zero = matched & (rng.random(n) < P_ZERO)
    reco["mass"] = np.where(zero, 0.0, reco["mass"])
    return truth, reco, matched


@pytest.fixture(scope="module")
def models() -> dict[str, mlsmear.KindModel]:
    truth, reco, matched = _toy(N_TRAIN, 1)
    return {
        name: fit_model("jet", truth, reco, matched,
                        config=TrainConfig(**{**CONFIG.__dict__, "zero_category": zero}))
        for name, zero in (("zero", True), ("paper", False))
    }


def _zero_fraction(model: mlsmear.KindModel, lo: float, hi: float) -> tuple[float, int]:
    truth = SyntheticDetector().truth(N_SAMPLE, np.random.default_rng(2))
    out = mlsmear.smear(ak.unflatten(ak.zip(truth), np.full(N_SAMPLE // 5, 5)), model=model,
                        seed=3, device="cpu")
    truth_pt = ak.to_numpy(ak.flatten(ak.unflatten(truth["pt"], 5)[out.truth_index]))
    mass = ak.to_numpy(ak.flatten(out.mass))
    inside = (truth_pt >= lo) & (truth_pt < hi)
    return float(np.mean(mass[inside] == 0.0)), int(inside.sum())


def test_zero_mass_is_a_point_mass_at_the_right_rate(models):
    model = models["zero"]
    assert model.zero_quantities == ("mass",)
    for lo, hi in ((0.0, 40.0), (40.0, np.inf)):
        fraction, n = _zero_fraction(model, lo, hi)
        n_train = N_TRAIN * 0.5 * 0.9  # matched training jets (half), minus the validation split
        sigma = np.sqrt(P_ZERO * (1 - P_ZERO) * (1 / n + 1 / n_train))  # sampling + training
        assert abs(fraction - P_ZERO) < 3 * sigma, (lo, fraction, sigma)


def test_without_the_category_zeros_are_not_a_point_mass(models):
    """The paper's setting (no zero category): massless jets are smeared around 0 instead."""
    assert models["paper"].zero_quantities == ()
    fraction, n = _zero_fraction(models["paper"], 0.0, np.inf)
    assert abs(fraction - P_ZERO) > 5 * np.sqrt(P_ZERO * (1 - P_ZERO) / n)


def test_zero_quantities_in_the_card(models, tmp_path):
    models["zero"].save(tmp_path)
    reloaded = mlsmear.load(tmp_path / "jet.json")
    assert reloaded.zero_quantities == ("mass",)
    card = (tmp_path / "jet.json").read_text().replace('"zero_quantities": [\n  "mass"\n ]',
                                                       '"zero_quantities": [\n  "eta"\n ]')
    (tmp_path / "jet.json").write_text(card)
    with pytest.raises(mlsmear.ModelFileError, match="zero_quantities"):
        mlsmear.load(tmp_path / "jet.json")
