"""Synthetic closure: train on a toy detector with known physics, sample, compare with the truth.

Tolerances come from the statistics of the sampled set (binomial errors, 3σ) or from the issue's
fixed bars (3 % core width, 0.03 correlation); nothing is tuned to an observed result.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

import mlsmear
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model

N_TRAIN, N_SAMPLE, PER_EVENT = 800_000, 150_000, 5
DETECTOR = SyntheticDetector()
# 10 epochs: at 6 the pT core width was still 3.3 % off in two of three |η| slices (seeds 11, 12)
CONFIG = TrainConfig(
    trunk=(64, 64, 64), head=64, epochs=10, batch_size=2048, learning_rate=3e-3, progress=False,
    seed=11,
)


def _train(autoregressive: bool, n_train: int = N_TRAIN, epochs: int = CONFIG.epochs
           ) -> mlsmear.KindModel:
    rng = np.random.default_rng(1)
    truth = DETECTOR.truth(n_train, rng)
    reco, matched = DETECTOR.reconstruct(truth, rng)
    config = TrainConfig(**{**CONFIG.__dict__, "autoregressive": autoregressive, "epochs": epochs})
    return fit_model("jet", truth, reco, matched, config=config)


# the toy's truth spectrum reaches slightly beyond the training sample's range: expected here
# slow: two trainings on 800 k objects
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")]


@pytest.fixture(scope="module")
def sample_truth() -> dict[str, np.ndarray]:
    return DETECTOR.truth(N_SAMPLE, np.random.default_rng(2))


def _smear(model, truth) -> tuple[dict, dict, np.ndarray]:
    """Smear ``truth`` and return (truth of kept objects, reco of kept objects, kept mask)."""
    events = ak.unflatten(ak.zip(truth), np.full(N_SAMPLE // PER_EVENT, PER_EVENT))
    out = mlsmear.smear(events, model=model, seed=7, device="cpu")
    base = np.repeat(np.arange(len(out)) * PER_EVENT, ak.to_numpy(ak.num(out)))
    flat_index = base + ak.to_numpy(ak.flatten(out.truth_index))
    kept = np.zeros(N_SAMPLE, dtype=bool)
    kept[flat_index] = True
    truth_kept = {k: v[flat_index] for k, v in truth.items()}
    reco = {k: ak.to_numpy(ak.flatten(out[k])) for k in ("pt", "eta", "phi", "mass")}
    return truth_kept, reco, kept


@pytest.fixture(scope="module")
def autoregressive(sample_truth):
    return _smear(_train(True), sample_truth)


def test_efficiency_in_pt_bins(autoregressive, sample_truth):
    _, _, kept = autoregressive
    pt = sample_truth["pt"]
    edges = np.quantile(pt, np.linspace(0, 1, 11))
    slot = np.clip(np.searchsorted(edges, pt, side="right") - 1, 0, 9)
    for b in range(10):
        sel = slot == b
        eff = DETECTOR.efficiency(pt[sel])
        expected = eff.mean()
        # binomial error of the sampled bin, and of the training sample the model learnt the
        # efficiency from (same spectrum, N_TRAIN / N_SAMPLE times as many objects per bin)
        sigma = np.sqrt(np.sum(eff * (1 - eff))) / sel.sum() * np.sqrt(1 + N_SAMPLE / N_TRAIN)
        assert abs(kept[sel].mean() - expected) < 3 * sigma + 1e-12, (b, kept[sel].mean(), expected)


def test_core_width_per_eta_slice(autoregressive):
    truth, reco, _ = autoregressive
    r = np.log(reco["pt"] / truth["pt"])
    # The low tail does not reach above the median, so the 90 % quantile measures the core width;
    # the known value is the 90 % quantile of the known CDFs pooled over the slice's objects.
    for lo, hi in ((0.0, 1.0), (1.0, 2.0), (2.0, 2.5)):
        sel = (np.abs(truth["eta"]) >= lo) & (np.abs(truth["eta"]) < hi)
        known = DETECTOR.pooled_pt_residual_quantile(0.9, truth["eta"][sel])
        measured = np.quantile(r[sel], 0.9)
        assert abs(measured / known - 1) < 0.03, (lo, hi, measured, known)


def test_tail_fractions_beyond_toy_quantiles(autoregressive):
    truth, reco, _ = autoregressive
    r = np.log(reco["pt"] / truth["pt"])
    # the toy's own 1 % / 99 % quantiles, per object (its η), from the known CDF
    for p, below in ((0.01, True), (0.99, False)):
        cut = DETECTOR.pt_residual_quantile(np.full(r.size, p), truth["eta"])
        frac = np.mean(r < cut) if below else np.mean(r > cut)
        expected = p if below else 1 - p
        sigma = np.sqrt(expected * (1 - expected) / r.size)
        assert abs(frac - expected) < 3 * sigma, (p, frac)


def test_residual_correlation_kept(autoregressive):
    truth, reco, _ = autoregressive
    z_pt, z_m = DETECTOR.normal_scores(truth, reco)
    rho = np.corrcoef(z_pt, z_m)[0, 1]
    assert abs(rho - DETECTOR.rho) < 0.03, rho


def test_independent_heads_lose_correlation(sample_truth):
    # independent heads cannot give a correlation however well trained: a small, short training
    # is enough to show it (the autoregressive model above keeps DETECTOR.rho)
    truth, reco, _ = _smear(_train(False, n_train=100_000, epochs=2), sample_truth)
    z_pt, z_m = DETECTOR.normal_scores(truth, reco)
    rho = np.corrcoef(z_pt, z_m)[0, 1]
    # with n ≈ 1e5 the estimator's spread is ~1/√n ≈ 0.003: anything above 0.05 is kept correlation
    assert abs(rho) < 0.05, rho
