"""Run Delphes on generator records: HepMC3 file -> ``DelphesHepMC3`` -> reco collections.

A :class:`DelphesDetector` (a build and a card) makes one :class:`DelphesJob` per generate job:
records are written as HepMC3 ASCII (:mod:`mlsmear.hepmc_record`, Pythia8ToHepMC3's conversion)
into a temporary directory, ``DelphesHepMC3 CARD OUT.root IN.hepmc`` runs once with the job's
seed (``set RandomSeed``), and its ``Delphes`` tree is read with uproot into the reco collections
the pairs need, exactly as the Delphes reader (:mod:`mlsmear.readers.delphes`) reads them:
``Jet`` (pt, eta, phi, mass, ``btag`` = bit 0 of ``BTag``), ``Electron`` / ``Muon`` (pt, eta, phi,
charge; mass 0.000511 / 0.105658 GeV), ``Photon`` (charge 0, mass 0), ``MissingET`` (pt, phi).
The temporary directory is removed whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..hepmc_record import RECORD_COLUMNS, HepMCWriter, import_pyhepmc, record_to_event
from ..physics.collection import Collection
from ..readers._uproot import flat_values, open_tree, read_branches
from ..readers.delphes import reco_branches, reco_objects
from .cards import DelphesCard, resolve_card, seeded_text
from .locate import DelphesInstallation, locate_delphes

__all__ = ["DelphesDetector", "DelphesError", "DelphesJob", "delphes_seed", "read_delphes_reco"]


class DelphesError(RuntimeError):
    """Delphes failed on a job (its exit status and the end of its output are in the message)."""


def delphes_seed(entropy: list[int]) -> int:
    """A Delphes ``RandomSeed`` (1 ... 2**31 - 1) derived from integers via SeedSequence."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0] % (2**31 - 1)) + 1


def hepmc_record(record: Collection) -> Collection:
    """A record with the columns HepMC writing needs (:data:`RECORD_COLUMNS`).

    Pythia records have them. A particle-gun record (one final particle per event, no entry 0)
    becomes two rows per event: an entry 0 (the event as a whole, not written) and the particle
    (status 1, no mothers, Cartesian momentum from pt, eta, phi, mass).
    """
    if all(c in record for c in RECORD_COLUMNS):
        return record
    if not np.all(record.counts == 1):
        raise ValueError(f"the record lacks {list(RECORD_COLUMNS)} and is no particle-gun record")
    n = record.n_events
    pt, eta, phi, mass = (record[c] for c in ("pt", "eta", "phi", "mass"))
    pz = pt * np.sinh(eta)

    def pair(system: Any, particle: np.ndarray) -> np.ndarray:
        out = np.empty(2 * n, dtype=np.asarray(particle).dtype)
        out[0::2], out[1::2] = system, particle
        return out

    columns = {
        "pid": pair(90, record["pid"].astype(np.int32)),
        "status": pair(-11, np.ones(n, np.int32)),
        "mother1": pair(-1, np.full(n, -1, np.int32)),
        "mother2": pair(-1, np.full(n, -1, np.int32)),
        "daughter1": pair(-1, np.full(n, -1, np.int32)),
        "px": pair(0.0, pt * np.cos(phi)),
        "py": pair(0.0, pt * np.sin(phi)),
        "pz": pair(0.0, pz),
        "e": pair(0.0, np.sqrt(pt**2 + pz**2 + mass**2)),
        "mass": pair(0.0, mass.astype(np.float64)),
    }
    return Collection.from_counts(np.full(n, 2), columns)


def read_delphes_reco(path: str, *, jets: str = "Jet") -> tuple[dict[str, Collection], dict]:
    """Reco collections (``jet``, ``electron``, ``muon``, ``photon``, ``met``) of a Delphes ROOT
    file, and its ``Event`` columns ``number``, ``proc_time`` and ``read_time`` (s per event)."""
    tree = open_tree(path, "Delphes")
    needs = {
        "event identity": ["Event.Number", "Event.ProcTime", "Event.ReadTime"],
        "missing ET": ["MissingET.MET", "MissingET.Phi"],
        **reco_branches(jets),
    }
    arrays = read_branches(tree, path, needs)
    reco = reco_objects(arrays, jets)
    reco["met"] = Collection.one_per_event(
        {"pt": flat_values(arrays["MissingET.MET"]), "phi": flat_values(arrays["MissingET.Phi"])}
    )
    event = {
        "number": flat_values(arrays["Event.Number"]).astype(np.int64),
        "proc_time": flat_values(arrays["Event.ProcTime"]),
        "read_time": flat_values(arrays["Event.ReadTime"]),
    }
    return reco, event


@dataclass
class DelphesDetector:
    """Real Delphes with one card: ``DelphesDetector.from_card("delphes-atlas")``."""

    installation: DelphesInstallation
    card: DelphesCard

    @classmethod
    def from_card(cls, card: str | os.PathLike[str]) -> DelphesDetector:
        """Locate the Delphes build (:func:`locate_delphes`) and resolve ``card`` with it."""
        import_pyhepmc()  # HepMC3 output: fail early when the generate extra is missing
        installation = locate_delphes()
        installation.executable()
        return cls(installation, resolve_card(card, installation.source_dir))

    def job(self, seed: int) -> DelphesJob:
        """A job whose events Delphes reconstructs with ``RandomSeed`` ``seed``."""
        return DelphesJob(self, seed)


@dataclass
class DelphesJob:
    """Collects records as HepMC3, then runs Delphes once (:meth:`reconstruct`); a context
    manager that removes its temporary directory."""

    detector: DelphesDetector
    seed: int
    n_events: int = 0
    #: After :meth:`reconstruct`: ``wall`` (s, the Delphes process), ``proc`` and ``read`` (s,
    #: the sums of Delphes' own ``Event.ProcTime`` and ``Event.ReadTime``).
    times: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mlsmear-delphes-"))
        self._input = self._dir / "events.hepmc"
        self._writer: HepMCWriter | None = HepMCWriter(
            self._input, run_attributes={}, tool=("mlsmear", "0", "generate --detector delphes")
        )

    def write(self, record: Collection) -> None:
        """Append the events of a generator record (numbered on from the previous ones)."""
        if self._writer is None:
            raise RuntimeError("this Delphes job has already run")
        record = hepmc_record(record)
        for i in range(record.n_events):
            self._writer.write(record_to_event(record, i, self.n_events), {})
            self.n_events += 1

    def reconstruct(self) -> dict[str, Collection]:
        """Run Delphes on the events written so far; their reco collections, in order."""
        if self._writer is None:
            raise RuntimeError("this Delphes job has already run")
        self._writer.close()
        self._writer = None
        card = self._dir / "card.tcl"
        card.write_text(seeded_text(self.detector.card, self.seed))
        output = self._dir / "delphes.root"
        log = self._dir / "delphes.log"
        command = [str(self.detector.installation.executable("DelphesHepMC3")),
                   str(card), str(output), str(self._input)]  # fmt: skip
        start = time.perf_counter()
        with log.open("w") as out:
            result = subprocess.run(
                command, cwd=self.detector.card.workdir,
                env=self.detector.installation.environment(), stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wall = time.perf_counter() - start
        if result.returncode != 0 or not output.is_file():
            tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
            raise DelphesError(
                f"Delphes failed (exit {result.returncode}) with card {self.detector.card.source}:"
                f"\n{tail}"
            )
        reco, event = read_delphes_reco(str(output))
        if not np.array_equal(event["number"], np.arange(self.n_events)):
            raise DelphesError(
                f"Delphes wrote {len(event['number'])} events for {self.n_events} given"
            )
        self.times = {"wall": wall, "proc": float(event["proc_time"].sum()),
                      "read": float(event["read_time"].sum())}  # fmt: skip
        return reco

    def close(self) -> None:
        """Remove the temporary files."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DelphesJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
