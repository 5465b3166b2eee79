"""Shared fixtures: small models trained on the synthetic detector (seconds, fixed seeds)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import mlsmear
from mlsmear.synthetic import SyntheticDetector
from mlsmear.threads import set_threads
from mlsmear.training import TrainConfig, fit_model

if os.environ.get("PYTEST_XDIST_WORKER"):
    set_threads(1)  # one pytest-xdist worker per core: one thread each, as coffea workers run

TINY = TrainConfig(trunk=(32, 32), head=32, epochs=2, batch_size=4096, progress=False, seed=3)


def tiny_bundle(directory) -> mlsmear.Bundle:
    """A bundle with every kind, trained for seconds on the synthetic detector; saved to disk."""
    det, rng = SyntheticDetector(), np.random.default_rng(0)
    models = {}
    for kind in ("jet", "electron", "muon", "photon"):
        truth = det.truth(20_000, rng)
        reco, matched = det.reconstruct(truth, rng)
        models[kind] = fit_model(
            kind, truth, reco, matched, config=TINY, thresholds={"pt_min": 15.0}
        )
    truth, reco = det.met(20_000, rng)
    models["met"] = fit_model("met", truth, reco, np.ones(20_000, bool), config=TINY)
    bundle = mlsmear.Bundle("tiny", models)
    bundle.save(directory)
    return mlsmear.load(directory)


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    tiny_bundle(directory)
    return directory


@pytest.fixture(scope="session")
def tiny(tiny_bundle_dir) -> mlsmear.Bundle:
    return mlsmear.load(tiny_bundle_dir)
