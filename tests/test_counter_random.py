"""Counter-based uniforms and the two samplers (numba CPU, torch for CUDA) agree."""

from __future__ import annotations

import numpy as np
import torch

from mlsmear.counter_random import (
    KIND_STREAMS,
    event_keys,
    event_keys_torch,
    kind_keys,
    object_uniforms,
    object_uniforms_torch,
)
from mlsmear.sampling import LOST, sample_positions, sample_positions_torch


def _keys(n: int, seed: int = 9):
    rng = np.random.default_rng(0)
    run, lumi = rng.integers(1, 400000, n), rng.integers(1, 5000, n)
    event = rng.integers(0, 2**62, n)
    return (run, lumi, event), event_keys(seed, run, lumi, event)


def test_numba_and_torch_draw_identical_uniforms():
    ident, keys = _keys(10_000)
    keys_t = event_keys_torch(9, *ident)
    np.testing.assert_array_equal(keys.view(np.int64), keys_t.numpy())
    index = np.arange(10_000) % 17
    for quantity, draw in ((0, 0), (3, 1)):
        u = object_uniforms(keys, index, quantity, draw)
        u_t = object_uniforms_torch(keys_t, torch.from_numpy(index), quantity, draw).numpy()
        np.testing.assert_array_equal(u, u_t)


def test_uniforms_are_uniform_and_independent_of_coordinates():
    _, keys = _keys(200_000)
    index = np.zeros(200_000, dtype=np.int64)
    u0, u1 = object_uniforms(keys, index, 0, 0), object_uniforms(keys, index, 0, 1)
    n = u0.size
    counts = np.histogram(u0, bins=20, range=(0, 1))[0]
    chi2 = np.sum((counts - n / 20) ** 2 / (n / 20))
    assert chi2 < 43.8  # χ² with 19 dof: p = 0.001
    assert abs(np.corrcoef(u0, u1)[0, 1]) < 4 / np.sqrt(n)
    assert u0.min() >= 0.0 and u0.max() < 1.0


def test_kinds_draw_independent_streams():
    """The jet and the electron (muon, photon, MET) of the same index in an event never share a
    number: their uniforms are uncorrelated; jets keep the event key itself."""
    _, keys = _keys(200_000)
    index = np.zeros(200_000, dtype=np.int64)
    assert kind_keys(keys, "jet") is keys
    uniforms = {k: object_uniforms(kind_keys(keys, k), index, 0, 0) for k in KIND_STREAMS}
    n = keys.size
    for a in KIND_STREAMS:
        for b in KIND_STREAMS:
            if a < b:
                assert abs(np.corrcoef(uniforms[a], uniforms[b])[0, 1]) < 4 / np.sqrt(n), (a, b)


def test_event_key_depends_on_every_coordinate():
    base = event_keys(1, [1], [2], [3])
    for args in ((2, [1], [2], [3]), (1, [9], [2], [3]), (1, [1], [9], [3]), (1, [1], [2], [9])):
        assert event_keys(*args)[0] != base[0]


def test_cpu_and_torch_samplers_agree():
    n = 50_000
    _, keys = _keys(n)
    index = np.arange(n) % 11
    logits = torch.from_numpy(np.random.default_rng(1).normal(0, 2, (n, 101)).astype(np.float32))
    probs = torch.softmax(logits, 1)
    for allow_lost in (True, False):
        cpu = sample_positions(probs.numpy(), keys, index, 0, allow_lost)
        tor = sample_positions_torch(
            probs, torch.from_numpy(keys.view(np.int64)), torch.from_numpy(index), 0, allow_lost
        ).numpy()
        assert np.mean(np.floor(cpu * 100) == np.floor(tor * 100)) >= 0.999
        assert (cpu == LOST).any() == allow_lost


def test_engine_samplers_agree_when_lost_objects_skip_later_heads(tiny):
    """The engine skips later heads for objects head 0 lost; both samplers (numba, and torch as on
    CUDA) must still draw the same residuals for the kept ones."""
    from mlsmear.engine import sample_residuals
    from mlsmear.synthetic import SyntheticDetector

    model = tiny["jet"]
    truth = SyntheticDetector().truth(20_000, np.random.default_rng(8))
    truth["pt"] = truth["pt"] * 0.8  # more below the turn-on: lost by head 0
    x = model.features(truth)
    keys = np.arange(20_000, dtype=np.uint64) * np.uint64(7919)
    index = np.zeros(20_000, dtype=np.int64)
    runs = [sample_residuals(model, x, keys, index, sampler=s, batch_size=3000)
            for s in ("numba", "torch")]
    (kept_n, r_n, _), (kept_t, r_t, _) = runs
    assert (~kept_n).sum() >= 100 and kept_n.sum() >= 100  # both kinds of rows in each batch
    assert np.mean(kept_n == kept_t) > 0.999
    both = kept_n & kept_t
    close = np.isclose(r_n[both], r_t[both], rtol=1e-6, atol=1e-9).all(axis=1)
    assert close.mean() > 0.995  # float rounding may move a category boundary across a uniform
