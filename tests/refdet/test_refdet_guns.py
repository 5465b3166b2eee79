"""Card validation with particle guns (and the jet response on Pythia QCD jets).

Expectations come from the card (DESIGN.md section 5); tolerances from statistics only:
3 standard errors of the width estimate (1 / sqrt(2 (n - 1)) relative for a Gaussian) or of a
binomial efficiency. Run with ``-s`` to see the tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.generate.guns import Gun
from mlsmear.generate.pythia import Slice
from mlsmear.generate.runner import Job, generate_pairs, run_job
from mlsmear.pairs import read_pairs
from mlsmear.refdet import Detector
from mlsmear.refdet.response import format_table, jet_response

pytestmark = pytest.mark.slow  # 20 000 gun events per particle through the detector
N_EVENTS = 20_000
ROWS: list[str] = []


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.from_card("atlas-like")


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    print("\n| check | measured | card | 3 sigma |\n|---|---|---|---|")
    print("\n".join(ROWS))


def _gun_pairs(detector: Detector, gun: Gun, kind: str, seed: int) -> dict[str, np.ndarray]:
    job = Job(0, Slice("gun", ()), 0, N_EVENTS)
    return run_job(job, seed=seed, detector=detector, gun=gun)[kind]


def _check(name: str, measured: float, expected: float, error: float) -> None:
    ROWS.append(f"| {name} | {measured:.5f} | {expected:.5f} | {3 * error:.5f} |")
    assert abs(measured - expected) < 3 * error, ROWS[-1]


def _width_error(width: float, n: int) -> float:
    return width / np.sqrt(2.0 * (n - 1))


def test_muon_momentum_resolution(detector):
    """Muons |eta| < 0.5, pT = 100 GeV: sigma(pT)/pT = sqrt(0.01^2 + (100 * 1e-4)^2) = 0.0141."""
    pairs = _gun_pairs(detector, Gun(13, (-0.5, 0.5), pt_range=(100.0, 100.0)), "muon", 11)
    ratio = pairs["reco_pt"][pairs["matched"]] / pairs["truth_pt"][pairs["matched"]]
    expected = np.hypot(0.01, 100.0 * 1.0e-4)
    _check("muon sigma(pT)/pT, pT 100, abs(eta)<0.5", ratio.std(ddof=1), expected,
           _width_error(expected, len(ratio)))  # fmt: skip
    assert abs(ratio.std() / expected - 1) < 0.05  # the 5 %


def test_photon_energy_resolution(detector):
    """Photons |eta| < 1, E = 50 GeV: sigma(E)/E from the ECAL formula at |eta| <= 3.2."""
    pairs = _gun_pairs(detector, Gun(22, (-1.0, 1.0), energy=50.0), "photon", 12)
    matched = pairs["matched"]
    energy = pairs["reco_pt"][matched] * np.cosh(pairs["reco_eta"][matched].astype(np.float64))
    expected = np.sqrt(0.0017**2 + 0.101**2 / 50.0)
    _check("photon sigma(E)/E, E 50, abs(eta)<1", (energy / 50.0).std(ddof=1), expected,
           _width_error(expected, len(energy)))  # fmt: skip
    assert abs((energy / 50.0).std() / expected - 1) < 0.05


@pytest.mark.parametrize(
    ("pdg", "kind", "expected"),
    [
        (11, "electron", 0.95 * 0.95),  # tracking (1 < pT <= 100, |eta| <= 1.5) x identification
        (13, "muon", 0.99 * 0.95),  # tracking (pT > 1) x identification
        (22, "photon", 0.95),  # identification
    ],
)
def test_efficiency_at_50_gev(detector, pdg, kind, expected):
    pairs = _gun_pairs(detector, Gun(pdg, (-1.0, 1.0), pt_range=(50.0, 50.0)), kind, 13 + pdg)
    n = len(pairs["matched"])
    assert n == N_EVENTS  # one prompt truth object per gun event
    _check(f"{kind} efficiency, pT 50, abs(eta)<1", pairs["matched"].mean(), expected,
           np.sqrt(expected * (1 - expected) / n))  # fmt: skip


def test_jet_response_resolution_falls_with_pt(tmp_path_factory):
    """QCD (pT-hat bins) jets: the calorimeter's stochastic term makes the relative resolution of
    central jets at high pT significantly better than at 20-30 GeV."""
    output = tmp_path_factory.mktemp("qcd")
    generate_pairs(output, process="qcd", n_events=300, seed=5, job_size=60, progress=False)
    bins = jet_response(read_pairs(output, "jet", as_numpy=True), eta_edges=(0.0, 1.5, 4.5))
    print("\n" + format_table(bins))
    central = [b for b in bins if b.eta_hi == 1.5]
    low, high = central[0], central[-1]
    assert (low.pt_lo, high.pt_lo >= 200.0) == (20.0, True)
    gap = low.resolution - high.resolution
    assert gap > 3 * np.hypot(low.resolution_error, high.resolution_error)
