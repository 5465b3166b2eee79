"""Pythia 8 processes (pp, 13 TeV) and batches of events as columnar particle records.

Events come out of Pythia's batch interface ``Pythia.nextBatch`` (C++ fills an awkward array of
whole events; no Python loop per particle or per event) and are converted to a generator
*record*: a :class:`~mlsmear.refdet.Collection` with one row per record entry and the columns

============= =======================================================================
``pid``       PDG id (int32)
``status``    Pythia's status code (int32; > 0 for final-state particles)
``mother1``   row of the first mother within the same event, -1 for none (int32);
              ``mother2``, ``daughter1``: row of the second mother / first daughter, likewise
``final``     true for final-state (stable) particles
``pt``        transverse momentum (GeV); ``eta``, ``phi``; ``mass`` (GeV, generated mass)
``px`` ...    ``px``, ``py``, ``pz``, ``e``: Cartesian momentum and energy (GeV, float64)
``charge``    electric charge in units of e (float64, :func:`pdg_charges`)
============= =======================================================================

Row 0 of every event is Pythia's entry 0, the event as a whole. The truth definitions
(:mod:`mlsmear.physics.truth`) read ``pid, mother1, final, pt, eta, phi, mass, charge``; the
HepMC output of the filter (:mod:`mlsmear.hepmc_record`) also the other columns.

Long-lived hadrons (c tau > 10 mm: K0S, Lambda, ...) are kept stable, as in LHC simulation.

A *process* is a list of (slice, fraction): each slice is one Pythia configuration, e.g. one
pT-hat bin; events are split between slices in proportion to the fractions, and every slice is
generated unweighted, so no event weights are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import awkward as ak
import numpy as np

from ..physics.collection import Collection
from ..physics.kinematics import from_cartesian

__all__ = [
    "COMPOSITES",
    "LEPTON_MIX",
    "MIX",
    "PROCESSES",
    "PYTHIA_COMMON",
    "PythiaGenerator",
    "Slice",
    "components",
    "import_pythia",
    "pdg_charges",
    "pythia_seed",
]

#: Settings shared by all processes.
PYTHIA_COMMON = (
    "Beams:eCM = 13000.",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Random:setSeed = on",
)


@dataclass(frozen=True)
class Slice:
    """One Pythia configuration of a process (e.g. one pT-hat bin)."""

    name: str
    settings: tuple[str, ...]


def _pthat_bins(name: str, settings: tuple[str, ...], edges: Sequence[float]) -> tuple:
    """Equal-fraction slices in pT-hat bins [edges[i], edges[i+1]); the last bin is open."""
    bounds = list(zip(edges, [*edges[1:], None], strict=True))
    slices = []
    for lo, hi in bounds:
        cut: tuple[str, ...] = (f"PhaseSpace:pTHatMin = {lo}",)
        if hi is not None:
            cut += (f"PhaseSpace:pTHatMax = {hi}",)
        label = f"{name}_pthat{lo:g}" + (f"-{hi:g}" if hi is not None else "+")
        slices.append((Slice(label, settings + cut), 1.0 / len(bounds)))
    return tuple(slices)


_TTBAR = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")
_PROMPT_PHOTON = ("PromptPhoton:all = on",)
_QCD = ("HardQCD:all = on",)
_W_JET = (
    "WeakBosonAndParton:qqbar2Wg = on",
    "WeakBosonAndParton:qg2Wq = on",
    "24:onMode = off",
    "24:onIfAny = 11 13 15",
)
_Z_JET = (
    "WeakBosonAndParton:qqbar2gmZg = on",
    "WeakBosonAndParton:qg2gmZq = on",
    "WeakZ0:gmZmode = 2",
    "23:onMode = off",
)
_BOSON_BINS = (10.0, 60.0, 200.0, 400.0, 700.0)

#: Process name -> ((slice, fraction of the events), ...). Fractions sum to 1.
PROCESSES: dict[str, tuple[tuple[Slice, float], ...]] = {
    "ttbar": ((Slice("ttbar", _TTBAR), 1.0),),
    "gammajets": _pthat_bins("gammajets", _PROMPT_PHOTON, (10.0, 40.0, 100.0, 250.0, 600.0)),
    "qcd": _pthat_bins("qcd", _QCD, (15.0, 50.0, 150.0, 400.0, 900.0)),
    "wjets": _pthat_bins("wjets", _W_JET, _BOSON_BINS),
    "zjets": _pthat_bins("zjets", (*_Z_JET, "23:onIfAny = 11 13 15"), _BOSON_BINS),
    "zvv": _pthat_bins("zvv", (*_Z_JET, "23:onIfAny = 12 14 16"), (10.0, 100.0, 300.0)),
    # not in the training mix: the process-independence hold-out (WW, WZ, ZZ, all decays)
    "diboson": ((Slice("diboson", ("WeakDoubleBoson:all = on",)), 1.0),),
    # lepton-rich samples (electrons and muons only, no taus)
    "zll": _pthat_bins("zll", (*_Z_JET, "23:onIfAny = 11 13"), _BOSON_BINS),
    "wlnu": _pthat_bins("wlnu", (*_W_JET[:2], "24:onMode = off", "24:onIfAny = 11 13"),
                        _BOSON_BINS),
    "ttbar-dilepton": ((Slice("ttbar-dilepton", (*_TTBAR, "24:onMode = off",
                                                 "24:onIfAny = 11 13")), 1.0),),
}

#: Composition of the training ``mix`` (fraction of events per process). Together the slices
#: cover jets 10 GeV - 2 TeV (QCD pT-hat bins up to 900+ GeV) and leptons / photons
#: 10 GeV - 1 TeV (W/Z + jet and gamma + jet pT-hat bins up to 700+ / 600+ GeV).
MIX: dict[str, float] = {
    "ttbar": 0.25,
    "gammajets": 0.20,
    "qcd": 0.30,
    "wjets": 0.10,
    "zjets": 0.10,
    "zvv": 0.05,
}
#: Composition of the lepton-rich training sample ``leptons`` (Z -> ee/mumu + jet, W -> e/mu nu +
#: jet, dileptonic ttbar): about 1.1 electrons and 1.1 muons per event, prompt leptons from
#: isolated (Z, W) to inside jets (ttbar), pT 10 GeV - 1 TeV.
LEPTON_MIX: dict[str, float] = {"zll": 0.45, "wlnu": 0.2, "ttbar-dilepton": 0.35}


def _composite(shares: dict[str, float]) -> tuple[tuple[Slice, float], ...]:
    return tuple(
        (piece, share * fraction)
        for process, share in shares.items()
        for piece, fraction in PROCESSES[process]
    )


#: Processes made of others: name -> share of the events per component process.
COMPOSITES: dict[str, dict[str, float]] = {"mix": MIX, "leptons": LEPTON_MIX}
PROCESSES.update({name: _composite(shares) for name, shares in COMPOSITES.items()})


def components(process: str) -> frozenset[str]:
    """The processes whose events ``process`` holds: those of a composite (``mix`` -> ttbar,
    gammajets, ...), else the process itself."""
    return frozenset(COMPOSITES.get(process, (process,)))


@cache
def import_pythia() -> ModuleType:
    """Import ``pythia8mc`` (an optional dependency) with a clear message when it is missing."""
    try:
        import pythia8mc
    except ImportError as err:
        raise ImportError(
            'event generation needs Pythia 8 (pythia8mc==8.317.2): pip install "mlsmear[generate]"'
        ) from err
    return pythia8mc


@cache
def _particle_data() -> Any:
    """Pythia 8's particle data table (of an uninitialised Pythia instance)."""
    return import_pythia().Pythia("", False).particleData


#: PDG id -> electric charge (e), filled on demand by :func:`pdg_charges`.
_CHARGES: dict[int, float] = {}


def pdg_charges(pid: np.ndarray) -> np.ndarray:
    """Electric charge (e, float64) of each PDG id, from Pythia 8's particle data (cached per id;
    0 for ids Pythia does not know)."""
    ids, inverse = np.unique(np.asarray(pid), return_inverse=True)
    new = [i for i in ids.tolist() if i not in _CHARGES]
    if new:
        data = _particle_data()
        _CHARGES.update((i, float(data.charge(i))) for i in new)
    charges = np.asarray([_CHARGES[i] for i in ids.tolist()], dtype=np.float64)
    return charges[inverse.reshape(-1)].reshape(np.shape(pid))


def pythia_seed(entropy: Sequence[int]) -> int:
    """A Pythia seed (1 ... 900 000 000) derived from integers via numpy's SeedSequence."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0] % 900_000_000) + 1


class PythiaGenerator:
    """A Pythia 8 instance for one slice, initialised with a given seed.

    Arguments:
        settings: Pythia setting strings (added after :data:`PYTHIA_COMMON`).
        seed: Pythia random seed, 1 ... 900 000 000.
    """

    def __init__(self, settings: Sequence[str], seed: int) -> None:
        pythia8mc = import_pythia()
        self._pythia = pythia8mc.Pythia("", False)
        for line in (*PYTHIA_COMMON, f"Random:seed = {seed}", *settings):
            if not self._pythia.readString(line):
                raise ValueError(f"Pythia rejected the setting {line!r}")
        if not self._pythia.init():
            raise RuntimeError(f"Pythia initialisation failed for settings {list(settings)}")

    def generate(self, n_events: int) -> Collection:
        """Generate ``n_events`` events and return their record (see the module docstring)."""
        batches = []
        produced = 0
        while produced < n_events:
            batch = self._pythia.nextBatch(n_events - produced, "skip")
            if len(batch) == 0:
                raise RuntimeError("Pythia failed to generate any event")
            batches.append(batch.prt)
            produced += len(batch)
        particles = batches[0] if len(batches) == 1 else ak.concatenate(batches)
        return self._record(particles)

    def _record(self, particles: ak.Array) -> Collection:
        def flat(array: ak.Array) -> np.ndarray:
            return ak.to_numpy(ak.flatten(array, axis=1))

        def row(array: ak.Array) -> np.ndarray:
            # Pythia's entry 0 is the event as a whole: index 0 means "none".
            index = flat(array).astype(np.int32)
            return np.where(index > 0, index, -1).astype(np.int32)

        pid = flat(particles.id).astype(np.int32)
        status = flat(particles.status).astype(np.int32)
        momentum = particles.p
        cartesian = {c: flat(momentum[c]) for c in ("px", "py", "pz", "e")}
        pt, eta, phi, _ = from_cartesian(*cartesian.values())
        return Collection.from_counts(
            ak.to_numpy(ak.num(particles.id, axis=1)),
            {
                "pid": pid,
                "mother1": row(particles.mother1),
                "final": status > 0,
                "pt": pt,
                "eta": eta,
                "phi": phi,
                "mass": flat(particles.m),
                "charge": self._charge(pid),
                "status": status,
                "mother2": row(particles.mother2),
                "daughter1": row(particles.daughter1),
                **cartesian,
            },
        )

    def _charge(self, pid: np.ndarray) -> np.ndarray:
        """Electric charge of each PDG id (:func:`pdg_charges`)."""
        return pdg_charges(pid)
