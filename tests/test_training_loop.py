"""The training loop: the efficiency-weighted loss and the cool-down after an early stop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mlsmear.network import SmearNet
from mlsmear.synthetic import SyntheticDetector
from mlsmear.training import TrainConfig, _loss, fit_model


def _batch(n: int = 500) -> tuple:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(n, 3, generator=generator)
    categories = torch.randint(1, 101, (n, 2), generator=generator)
    matched = torch.rand(n, generator=generator) < 0.7
    categories[~matched, 0] = 0
    positions = torch.rand(n, 2, generator=generator)
    torch.manual_seed(4)
    return SmearNet(3, 2, trunk=(16,), head=8), x, categories, positions, matched


@torch.no_grad()
def test_weighted_loss_adds_the_efficiency_cross_entropy():
    net, x, categories, positions, matched = _batch()
    plain = _loss(net, x, categories, positions, matched)
    weighted = _loss(net, x, categories, positions, matched, efficiency_weight=4.0)
    # the binary cross-entropy of head 0's "lost" probability, computed independently
    lost = torch.softmax(net(x, positions)[0].double(), dim=1)[:, 0]
    bce = F.binary_cross_entropy(lost, (~matched).double())
    assert float(weighted - plain) == pytest.approx(3.0 * float(bce), rel=1e-5)


@torch.no_grad()
def test_weight_one_is_the_plain_cross_entropy():
    net, x, categories, positions, matched = _batch()
    logits = net(x, positions)
    expected = F.cross_entropy(logits[0], categories[:, 0]) + F.cross_entropy(
        logits[1][matched], categories[matched, 1]
    )
    assert float(_loss(net, x, categories, positions, matched, 1.0)) == pytest.approx(
        float(expected), rel=1e-6
    )


def _fit(**settings) -> dict:
    detector = SyntheticDetector()
    rng = np.random.default_rng(5)
    truth = detector.truth(20_000, rng)
    reco, matched = detector.reconstruct(truth, rng)
    config = TrainConfig(trunk=(16,), head=8, batch_size=512, progress=False, seed=2, **settings)
    return fit_model("jet", truth, reco, matched, config=config).card["training"]


def test_early_stop_cools_the_best_epoch_down():
    # patience 0 stops at the first epoch that does not improve, long before the schedule ends
    card = _fit(epochs=30, patience=0, cooldown=2, learning_rate=2e-2)
    history = card["validation_loss"]
    cooled = card["cooled_from_epoch"]
    assert cooled is not None and len(history) == cooled + 2 + 2 < 30 + 2
    # the kept epoch is the best of all, cool-down epochs included
    assert history[card["best_epoch"]] == min(history)


def test_no_cooldown_when_the_schedule_ran_out():
    card = _fit(epochs=2, patience=5, cooldown=2)
    assert card["cooled_from_epoch"] is None and len(card["validation_loss"]) == 2


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("efficiency_weight", 0.5, "efficiency_weight"),
    ("efficiency_weight", math.nan, "efficiency_weight"),
    ("cooldown", -1, "cooldown"),
])
def test_bad_loop_settings_are_refused(setting, value, message):
    with pytest.raises(ValueError, match=message):
        _fit(epochs=1, **{setting: value})


def test_cooldown_zero_keeps_the_best_epoch_as_is():
    card = _fit(epochs=30, patience=0, cooldown=0, learning_rate=2e-2)
    history = card["validation_loss"]
    assert card["cooled_from_epoch"] is None and len(history) < 30
    assert history[card["best_epoch"]] == min(history) and math.isfinite(min(history))
