"""The leptons' ``dressing``: prompt photons of any pT within ΔR < 0.1 over the lepton pT."""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.physics.truth import (
    DRESSING_DR,
    prompt_collections,
    truth_objects,
    visible_particles,
)
from mlsmear.refdet import Collection


def _record(rows: list[tuple]) -> Collection:
    """Events of (pid, mother1, final, pt, eta, phi) rows; row 0 of each event is the beam."""
    counts = [len(event) for event in rows]
    flat = [row for event in rows for row in event]
    pid, mother1, final, pt, eta, phi = np.array(flat, dtype=float).reshape(-1, 6).T
    return Collection.from_counts(counts, {
        "pid": pid.astype(np.int64), "mother1": mother1.astype(np.int64),
        "final": final.astype(bool), "pt": pt.astype(float), "eta": eta.astype(float),
        "phi": phi.astype(float), "mass": np.zeros(len(pid)),
        "charge": np.where(np.abs(pid) == 11, -np.sign(pid), 0).astype(float),
    })  # fmt: skip


def test_dressing_counts_prompt_photons_of_any_pt_inside_the_cone():
    beam = (2212, -1, False, 0.0, 0.0, 0.0)
    event = [
        beam,
        (23, 0, False, 5.0, 0.0, 0.0),  # a Z from the beam
        (11, 1, True, 40.0, 0.5, 0.0),  # its electron
        (22, 2, True, 2.0, 0.5, 0.05),  # FSR below any object threshold, ΔR 0.05: counted
        (22, 2, True, 8.0, 0.5 + DRESSING_DR * 1.5, 0.0),  # outside the cone: not counted
        (111, 0, False, 3.0, 0.5, 0.02),  # a pi0 (a hadron) ...
        (22, 5, True, 1.0, 0.5, 0.02),  # ... whose photon is not prompt: not counted
        (-11, 1, True, 30.0, -1.0, 2.0),  # the positron: no photon near it
    ]
    alone = [beam, (13, 0, True, 25.0, 0.0, 1.0), (22, 0, True, 4.0, 0.0, 1.0 + 0.099)]
    bare = [beam, (-13, 0, True, 20.0, 1.0, -1.0)]  # no photon in the event at all
    record = _record([event, alone, bare])
    prompt = prompt_collections(record, visible_particles(record))
    np.testing.assert_allclose(prompt["electron"]["dressing"], [2.0 / 40.0, 0.0])
    np.testing.assert_allclose(prompt["muon"]["dressing"], [4.0 / 25.0, 0.0])
    assert "dressing" not in prompt["photon"].names  # photons: no dressing
    # the photon objects are the prompt photons above 5 GeV of the same ancestry walk
    np.testing.assert_array_equal(prompt["photon"].counts, [1, 0, 0])
    np.testing.assert_allclose(prompt["photon"]["pt"], [8.0])


@pytest.mark.parametrize("kind", ["electron", "muon"])
def test_dressing_of_generated_leptons_is_defined_and_not_all_zero(kind):
    """Z -> ee/μμ from Pythia: every prompt lepton has a finite dressing >= 0 and some have FSR."""
    from mlsmear.generate.pythia import PythiaGenerator, pythia_seed
    from mlsmear.generate.runner import plan_jobs

    job = plan_jobs("zll", 40, job_size=40)[0]
    record = PythiaGenerator(job.slice.settings, pythia_seed([3, 0])).generate(40)
    leptons = truth_objects(record)[kind]
    assert len(leptons) > 0
    assert np.all(np.isfinite(leptons["dressing"])) and np.all(leptons["dressing"] >= 0)
    assert np.any(leptons["dressing"] > 0)


def test_dressing_of_a_record_without_events():
    record = _record([])
    prompt = prompt_collections(record, visible_particles(record))
    assert len(prompt["electron"]["dressing"]) == 0 and len(prompt["muon"]["dressing"]) == 0
