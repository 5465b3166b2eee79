"""Exactly-zero residuals (Delphes leaves lepton eta and phi unsmeared): binning and sampling
represent a point mass and reproduce it exactly."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

import mlsmear
from mlsmear.binning import ResidualBinning
from mlsmear.training import TrainConfig, fit_model

pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")

N_TRAIN, N_SAMPLE, PER_EVENT, EFFICIENCY, PT_RES = 30_000, 20_000, 4, 0.9, 0.05


def _truth(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Electron-like truth (float32, as in pairs files): pT log-uniform 10-300 GeV."""
    return {
        "pt": np.exp(rng.uniform(np.log(10.0), np.log(300.0), n)).astype(np.float32),
        "eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "mass": np.full(n, 0.000511, np.float32),
        "charge": np.where(rng.random(n) < 0.5, -1, 1).astype(np.int8),
    }


def test_mixed_point_mass_binning():
    """60 % of the residuals exactly 0: the categories on the plateau get their true population
    and sampling gives exactly 0 at the rate of the data."""
    rng = np.random.default_rng(4)
    r = np.where(rng.random(200_000) < 0.6, 0.0, rng.normal(0.0, 1.0, 200_000))
    binning = ResidualBinning.fit(r)
    [(value, lo, hi)] = binning.plateaus()
    assert value == 0.0 and hi - lo == pytest.approx(0.6, abs=0.01)
    counts = np.bincount(binning.categories(r), minlength=binning.n_bins + 1)[1:]
    assert counts.min() > 0.9 * r.size / binning.n_bins  # equal-population categories
    positions = rng.random(200_000)
    values = binning.values(positions)
    zero = values == 0.0
    assert np.array_equal(zero, (positions >= lo) & (positions < hi))
    assert zero.mean() == pytest.approx(0.6, abs=4 * np.sqrt(0.24 / r.size) + 0.01)


def test_constant_residual_binning():
    """Every residual exactly 0: one category, every sampled value exactly 0, no tails."""
    binning = ResidualBinning.fit(np.zeros(5_000))
    assert binning.tail_lo == binning.tail_hi == 0.0
    assert np.unique(binning.categories(np.zeros(10))).tolist() == [binning.n_bins]
    assert np.all(binning.values(np.random.default_rng(1).random(10_000)) == 0.0)


@pytest.fixture(scope="module")
def electron_model() -> mlsmear.KindModel:
    """Electrons whose eta and phi residuals are exactly 0 and whose pT is smeared by 5 %."""
    rng = np.random.default_rng(1)
    truth = _truth(N_TRAIN, rng)
    matched = rng.random(N_TRAIN) < EFFICIENCY
    reco = {
        "pt": truth["pt"] * (1.0 + PT_RES * rng.standard_normal(N_TRAIN)),
        "eta": truth["eta"].copy(),
        "phi": truth["phi"].copy(),
    }
    config = TrainConfig(trunk=(32, 32), head=32, epochs=4, batch_size=1024,
                         learning_rate=3e-3, progress=False, seed=2)  # fmt: skip
    return fit_model("electron", truth, reco, matched, config=config)


def test_unsmeared_eta_and_phi_are_reproduced_exactly(electron_model):
    truth = _truth(N_SAMPLE, np.random.default_rng(3))
    counts = np.full(N_SAMPLE // PER_EVENT, PER_EVENT)
    out = mlsmear.smear(ak.unflatten(ak.zip(truth), counts), model=electron_model,
                        kind="electron", seed=5, device="cpu", sample_id="point-mass")  # fmt: skip
    index = np.repeat(np.arange(len(counts)) * PER_EVENT, ak.to_numpy(ak.num(out)))
    index = index + ak.to_numpy(ak.flatten(out.truth_index))
    assert index.size == pytest.approx(EFFICIENCY * N_SAMPLE, rel=0.05)
    eta, phi = (ak.to_numpy(ak.flatten(out[c])) for c in ("eta", "phi"))
    np.testing.assert_array_equal(eta, truth["eta"][index].astype(eta.dtype))
    np.testing.assert_array_equal(phi, truth["phi"][index].astype(phi.dtype))
    ratio = ak.to_numpy(ak.flatten(out.pt)) / truth["pt"][index]
    assert np.mean(ratio == 1.0) < 0.01  # pT is still smeared ...
    q16, q50, q84 = np.quantile(ratio, [0.16, 0.5, 0.84])
    assert q50 == pytest.approx(1.0, abs=0.01)
    assert (q84 - q16) / 2 == pytest.approx(PT_RES, rel=0.2)  # ... by the trained 5 %
