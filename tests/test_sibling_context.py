"""Objects that follow their sampled siblings: sums by brute force, a learnt both-or-neither."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pyarrow as pa
import pytest

import mlsmear
from mlsmear.event_pairs import teacher_siblings
from mlsmear.flavour_neighbours import ALONE
from mlsmear.sibling_context import SIBLING_DR, SIBLING_FIELDS, sibling_ranks, sibling_sums
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, fit_model

SMALL = TrainConfig(trunk=(32, 32), head=32, epochs=8, batch_size=512, progress=False, seed=5)
P_FIRST = 0.7  # the toy teacher's efficiency of a leading electron


def test_sibling_sums_by_brute_force():
    rng = np.random.default_rng(2)
    n = 600
    group = rng.integers(0, 80, n)
    group[0] = 80  # an object alone in its event
    pt, eta, phi = rng.uniform(10, 100, n), rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    kept = rng.random(n) < 0.6
    rank = sibling_ranks(group, pt)
    got = sibling_sums(group, pt, eta, phi, rank, kept)
    for i in range(n):
        same = np.flatnonzero(group == group[i])
        assert rank[i] == np.sum(pt[same] > pt[i])  # continuous pT: no ties
        above = same[(pt[same] > pt[i]) & (np.hypot(eta[same] - eta[i], phi[same] - phi[i])
                                           < SIBLING_DR)]
        assert got["sib_kept"][i] == pytest.approx(pt[above][kept[above]].sum() / pt[i])
        assert got["sib_lost"][i] == pytest.approx(pt[above][~kept[above]].sum() / pt[i])
        others = same[same != i]
        dr = np.hypot(eta[others] - eta[i], phi[others] - phi[i])
        assert got["sib_dr"][i] == pytest.approx(min(dr.min(initial=ALONE), ALONE))
    assert (got["sib_kept"] > 0).sum() > 20 and (got["sib_lost"] > 0).sum() > 20
    assert (got["sib_dr"] == ALONE).sum() > 0 and (got["sib_dr"] < SIBLING_DR).sum() > 20


def _pairs(n_events: int, rng: np.random.Generator):
    """Two electrons per event, the second of lower pT; in half of the events it lies ΔR 0.1 from
    the first. The teacher reconstructs the first with P_FIRST and a close second exactly when
    it reconstructs the first (both or neither); a far second independently with P_FIRST."""
    det = SyntheticDetector()
    truth = det.truth(2 * n_events, rng)
    first, second = truth["pt"][0::2].copy(), truth["pt"][1::2].copy()
    truth["pt"][0::2] = np.maximum(first, second) + 1.0
    truth["pt"][1::2] = np.minimum(first, second)
    close = rng.random(n_events) < 0.5
    truth["eta"][1::2] = np.where(close, truth["eta"][0::2] + 0.1, truth["eta"][0::2] + 1.5)
    truth["phi"][1::2] = truth["phi"][0::2]
    reco, _ = det.reconstruct(truth, rng)
    reco = {k: np.where(np.isnan(v), truth[k], v) for k, v in reco.items()}
    lead = rng.random(n_events) < P_FIRST
    other = np.where(close, lead, rng.random(n_events) < P_FIRST)
    matched = np.empty(2 * n_events, bool)
    matched[0::2], matched[1::2] = lead, other
    return truth, reco, matched, close


@pytest.fixture(scope="module")
def sibling_model():
    truth, reco, matched, _ = _pairs(20_000, np.random.default_rng(31))
    table = pa.table({"event": np.repeat(np.arange(20_000), 2), "matched": matched,
                      **{f"truth_{k}": truth[k] for k in ("pt", "eta", "phi")}})
    truth = {**truth, **teacher_siblings(table)}
    inputs = [("pt", "quantile"), ("eta", "quantile"), *((f, "quantile") for f in SIBLING_FIELDS)]
    return fit_model("electron", truth, {k: np.where(matched, v, np.nan) for k, v in reco.items()},
                     matched, inputs=inputs, config=SMALL, thresholds={"pt_min": 0.0})


def test_close_electrons_are_reconstructed_together(sibling_model):
    """Hold-out: close pairs come out both-or-neither as for the teacher (independent sampling
    would give one of two in 2·0.7·0.3 = 42 % of them), far pairs independent; the result does
    not depend on how the events are split."""
    assert sibling_model.input_fields == ["pt", "eta", "phi"]  # the engine adds the rest
    n = 10_000
    truth, _, _, close = _pairs(n, np.random.default_rng(32))
    electrons = ak.unflatten(ak.zip({**{k: truth[k] for k in ("pt", "eta", "phi", "mass")},
                                     "charge": np.ones(2 * n)}), np.full(n, 2))
    out = mlsmear.smear(electrons, model=sibling_model, seed=6, event_id=np.arange(n))
    n_reco = ak.to_numpy(ak.num(out))
    # 4 binomial sigmas of the hold-out plus 0.05 for a small network trained for seconds
    for rows, expected in ((close, {0: 1 - P_FIRST, 1: 0.0, 2: P_FIRST}),
                           (~close, {0: 0.09, 1: 0.42, 2: 0.49})):
        for k, p in expected.items():
            got = np.mean(n_reco[rows] == k)
            sigma = np.sqrt(max(p * (1 - p), 0.01) / rows.sum())
            assert abs(got - p) < 4 * sigma + 0.05, (k, p, got)
    half = mlsmear.smear(electrons[: n // 2], model=sibling_model, seed=6,
                         event_id=np.arange(n // 2))
    assert ak.array_equal(half, out[: n // 2])


def test_siblings_on_empty_input(sibling_model):
    """No objects at all, events without electrons, one electron alone (no sibling)."""
    fields = ("pt", "eta", "phi", "mass", "charge")
    empty = ak.unflatten(ak.zip({k: np.zeros(0) for k in fields}), np.zeros(3, np.int64))
    out = mlsmear.smear(empty, model=sibling_model, seed=1, event_id=np.arange(3))
    assert len(out) == 3 and ak.sum(ak.num(out)) == 0
    assert len(mlsmear.smear(empty[:0], model=sibling_model, seed=1,
                             event_id=np.arange(0))) == 0
    one = ak.zip({"pt": [[40.0]], "eta": [[0.3]], "phi": [[1.0]], "mass": [[0.0]],
                  "charge": [[-1.0]]})
    assert len(mlsmear.smear(one, model=sibling_model, seed=1, event_id=np.arange(1))) == 1
    bad = ak.zip({"pt": [[40.0, np.nan]], "eta": [[0.3, 0.4]], "phi": [[1.0, 1.1]],
                  "mass": [[0.0, 0.0]], "charge": [[-1.0, 1.0]]})
    with pytest.raises(ValueError, match="'pt' has 1 NaN"):
        mlsmear.smear(bad, model=sibling_model, seed=1, event_id=np.arange(1))
