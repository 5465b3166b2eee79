"""Generate a pairs directory: plan jobs, run generator -> truth -> detector -> matching, write.

Work is cut into *jobs* of at most ``job_size`` events of one slice of the process. Job ``i`` has
its own seeds derived from ``(seed, i)`` (Pythia seed, detector and gun generators), and jobs are
written in plan order, so the output depends only on (process, events, seed, card, job size): it
is identical for any number of workers.

Event identity: ``event = (seed << 32) + i`` for the i-th event of the run (0-based), unique
within the directory and different between seeds (``0 <= seed < 2**31``, fewer than 2**32 events).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..pairs import PairsWriter
from ..physics import truth as truth_module
from ..physics.collection import Collection
from ..physics.jets import import_fastjet
from ..physics.matching import LEFTOVER_DR, MATCH_DR, pair_tables
from ..refdet.card import load_card
from ..refdet.pipeline import Detector
from .guns import GUNS, Gun
from .pythia import (
    PROCESSES,
    PYTHIA_COMMON,
    PythiaGenerator,
    Slice,
    import_pythia,
    pythia_seed,
)

__all__ = [
    "BATCH_SIZE", "JOB_SIZE", "GenerationTerminated", "Job", "event_ids", "generate_pairs",
    "plan_jobs", "run_job",
]

JOB_SIZE = 1000
#: Events passed through truth and detector at once inside a job (bounds memory).
BATCH_SIZE = 250
_SOFTWARE = ("numpy", "awkward", "numba", "pyarrow", "fastjet", "pythia8mc")
#: ``detector`` choices: the reference detector (TOML cards) or real Delphes (Tcl cards).
DETECTORS = ("refdet", "delphes")
#: Default card of each detector.
DEFAULT_CARDS = {"refdet": "atlas-like", "delphes": "delphes-atlas"}


@dataclass(frozen=True)
class Job:
    """``n_events`` events of one slice, the first being event ``first_event`` of the run."""

    index: int
    slice: Slice
    first_event: int
    n_events: int


def _split(n_events: int, fractions: list[float]) -> list[int]:
    """Integer event counts proportional to ``fractions`` summing to ``n_events``."""
    exact = np.asarray(fractions) / sum(fractions) * n_events
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n_events - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def plan_jobs(process: str, n_events: int, *, job_size: int = JOB_SIZE) -> list[Job]:
    """The jobs of a run: each slice of the process gets its share of the events, in jobs of at
    most ``job_size`` events; jobs of different slices are interleaved in run order."""
    slices: tuple[tuple[Slice, float], ...]
    if process in GUNS:
        slices = ((Slice(process, ()), 1.0),)
    elif process in PROCESSES:
        slices = PROCESSES[process]
    else:
        raise ValueError(f"unknown process {process!r}; choose from {[*PROCESSES, *GUNS]}")
    pieces = []  # (position within its slice, slice, size)
    for (piece, _), count in zip(slices, _split(n_events, [f for _, f in slices]), strict=True):
        for start in range(0, count, job_size):
            pieces.append((start / count, piece, min(job_size, count - start)))
    pieces.sort(key=lambda p: p[0])  # interleave slices: every prefix of the run is a mix
    jobs: list[Job] = []
    first = 0
    for _, piece, size in pieces:
        jobs.append(Job(len(jobs), piece, first, size))
        first += size
    return jobs


def event_ids(seed: int, first_event: int, n_events: int) -> np.ndarray:
    """Event identities ``(seed << 32) + index`` (int64) of consecutive events of a run."""
    return (np.int64(seed) << np.int64(32)) + first_event + np.arange(n_events, dtype=np.int64)


def run_job(
    job: Job, *, seed: int, detector: Any, gun: Gun | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Generate one job and return its pairs columns, kind -> column -> array.

    ``detector``: a reference :class:`Detector` or a real-Delphes
    :class:`~mlsmear.delphes.run.DelphesDetector` (same generator events and truth for a seed).
    """
    streams = np.random.SeedSequence([seed, job.index]).spawn(2)
    detector_rng = np.random.default_rng(streams[0])
    if gun is None:
        generator = PythiaGenerator(job.slice.settings, pythia_seed([seed, job.index]))
        make_record = generator.generate
    else:
        make_record = partial(gun.record, rng=np.random.default_rng(streams[1]))
    if not isinstance(detector, Detector):
        return _run_delphes_job(job, seed=seed, detector=detector, make_record=make_record)
    parts = []
    for start in range(0, job.n_events, BATCH_SIZE):
        n = min(BATCH_SIZE, job.n_events - start)
        record = make_record(n)
        hadrons = truth_module.flavour_hadrons(record)
        truth = truth_module.truth_objects(record, hadrons)
        particles = truth_module.stable_particles(record)
        reco = detector.run(particles, detector_rng, hadrons=hadrons)
        parts.append(pair_tables(event_ids(seed, job.first_event + start, n), truth, reco))
    return {
        kind: {name: np.concatenate([p[kind][name] for p in parts]) for name in parts[0][kind]}
        for kind in parts[0]
    }


def _run_delphes_job(
    job: Job, *, seed: int, detector: Any, make_record: Any
) -> dict[str, dict[str, np.ndarray]]:
    """One job through real Delphes: truth from the generator record batch by batch (as for the
    reference detector), the records as HepMC3 into one Delphes run with the job's seed."""
    from ..delphes.run import delphes_seed

    truths = []
    with detector.job(delphes_seed([seed, job.index])) as delphes:
        for start in range(0, job.n_events, BATCH_SIZE):
            record = make_record(min(BATCH_SIZE, job.n_events - start))
            truths.append(truth_module.truth_objects(record))
            delphes.write(record)
        reco = delphes.reconstruct()
    truth = {kind: _append_events([t[kind] for t in truths]) for kind in truths[0]}
    return pair_tables(event_ids(seed, job.first_event, job.n_events), truth, reco)


def _append_events(parts: list[Collection]) -> Collection:
    """The events of ``parts`` one after the other (same columns in every part)."""
    return Collection.from_counts(
        np.concatenate([p.counts for p in parts]),
        {name: np.concatenate([p[name] for p in parts]) for name in parts[0].names},
    )


_WORKER: dict[str, Any] = {}


def _init_worker(card: str, detector: str = "refdet") -> None:
    if detector == "delphes":
        from ..delphes.run import DelphesDetector

        _WORKER["detector"] = DelphesDetector.from_card(card)
    else:
        _WORKER["detector"] = Detector.from_card(card)


def _run_in_worker(task: tuple[Job, int, Gun | None]) -> tuple[int, dict]:
    job, seed, gun = task
    return job.n_events, run_job(job, seed=seed, detector=_WORKER["detector"], gun=gun)


def _results(
    jobs: list[Job], seed: int, card: str, gun: Gun | None, workers: int, detector: str = "refdet"
) -> Iterator[tuple[int, dict]]:
    tasks = [(job, seed, gun) for job in jobs]
    if workers == 1:
        _init_worker(card, detector)
        yield from map(_run_in_worker, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(card, detector)) as pool:
        yield from pool.imap(_run_in_worker, tasks)


def _versions() -> dict[str, str]:
    versions = {}
    for name in _SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class GenerationTerminated(Exception):
    """``generate`` got SIGTERM (a batch system's time limit, ``kill``): partial output removed."""


def _check_writable(directory: Path) -> None:
    """``ValueError`` at the start, not after the first job, when ``directory`` is read-only."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".mlsmear-write-test-"):
            pass
    except OSError as err:
        raise ValueError(
            f"cannot write into the output directory {str(directory)!r}: {err.strerror or err}"
        ) from None


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """SIGTERM raises :class:`GenerationTerminated` inside the block (main thread only), so the
    partial parquet files are removed instead of left behind without ``meta.json``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise GenerationTerminated(
            f"terminated by signal {signum}: the partial output was removed, nothing was written"
        )

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def generate_pairs(
    output: str | os.PathLike[str],
    *,
    process: str,
    n_events: int,
    seed: int,
    card: str | None = None,
    workers: int = 1,
    gun: Gun | None = None,
    job_size: int = JOB_SIZE,
    overwrite: bool = False,
    progress: bool = True,
    detector: str = "refdet",
) -> dict[str, Any]:
    """Generate ``n_events`` events of ``process`` and write their pairs to ``output``.

    Arguments:
        output: pairs directory to create.
        process: a key of :data:`~mlsmear.generate.pythia.PROCESSES` or of
            :data:`~mlsmear.generate.guns.GUNS` (then ``gun`` is required).
        n_events: number of events, 1 ... 2**32 - 1.
        seed: master seed, 0 ... 2**31 - 1; all job seeds derive from it.
        card: detector card: for ``refdet`` a name or TOML path (default ``atlas-like``), for
            ``delphes`` ``delphes-atlas`` (default), ``delphes-cms`` or a ``.tcl`` path.
        workers: worker processes (output does not depend on it).
        job_size: events per job (the output does depend on it).
        detector: ``refdet`` (the reference detector) or ``delphes`` (real Delphes, built with
            ``mlsmear delphes build``; only the reco side differs).

    Returns:
        The metadata written to ``meta.json`` (including the rows written per kind).
    """
    if not 0 < n_events < 2**32:
        raise ValueError(f"number of events must be in 1 ... 2**32 - 1, got {n_events}")
    if not 0 <= seed < 2**31:
        raise ValueError(f"seed must be in 0 ... 2**31 - 1, got {seed}")
    if workers < 1 or job_size < 1:
        raise ValueError(f"workers and job size must be >= 1, got {workers}, {job_size}")
    if (process in GUNS) != (gun is not None):
        raise ValueError(f"process {process!r}: a Gun is needed exactly for {list(GUNS)}")
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose from {list(DETECTORS)}")
    card = DEFAULT_CARDS[detector] if card is None else card
    if detector == "delphes":  # clear errors (not built, no card) before anything is written
        from ..delphes.run import DelphesDetector

        teacher = DelphesDetector.from_card(card)
        card_meta = {"name": teacher.card.name, "source": teacher.card.source,
                     "sha256": teacher.card.sha256, "text": teacher.card.text,
                     "patch": teacher.card.patch}  # fmt: skip
    else:
        detector_card = load_card(card)
        card_meta = {"name": detector_card.name, "source": detector_card.source,
                     "sha256": detector_card.sha256, "text": detector_card.text}  # fmt: skip
    jobs = plan_jobs(process, n_events, job_size=job_size)
    import_fastjet()  # fail before writing anything when an optional dependency is missing
    if gun is None:
        import_pythia()
    composition: dict[str, dict[str, Any]] = {}
    for job in jobs:
        entry = composition.setdefault(
            job.slice.name, {"settings": list(job.slice.settings), "n_events": 0}
        )
        entry["n_events"] += job.n_events
    versions = _versions()
    meta = {
        "generator": "particle gun" if gun else f"pythia8mc {versions['pythia8mc']}",
        "process": process,
        "composition": composition,
        "pythia_common_settings": [] if gun else list(PYTHIA_COMMON),
        "gun": asdict(gun) if gun else None,
        "seed": seed,
        "n_events": n_events,
        "job_size": job_size,
        "event_id": "(seed << 32) + index of the event in the run",
        "detector": detector,
        "card": card_meta,
        "truth": {
            "jet_r": truth_module.TRUTH_JET_R,
            "jet_pt_min": truth_module.TRUTH_JET_PT_MIN,
            "object_pt_min": truth_module.TRUTH_OBJECT_PT_MIN,
            "iso_dr": truth_module.TRUTH_ISO_DR,
            "flavour_dr": truth_module.FLAVOUR_DR,
            "flavour_hadron_pt_min": truth_module.FLAVOUR_HADRON_PT_MIN,
            "ht_jet_pt_min": truth_module.HT_JET_PT_MIN,
        },
        "match_dr": MATCH_DR,
        "leftover_dr": LEFTOVER_DR,
        "software": versions,
    }
    if detector == "delphes":
        info = teacher.installation.info
        meta["delphes"] = {"commit": info.get("delphes_commit"),
                           "build": str(teacher.installation.directory),
                           "root_version": info.get("root_version"),
                           "source_sha256": info.get("source_sha256"),
                           "random_seed": "SeedSequence([seed, job index])"}  # fmt: skip
    new_directory = not os.path.exists(output)
    try:
        writer = PairsWriter(output, overwrite=overwrite)  # refuses to replace pairs unless asked
    except OSError as err:
        raise ValueError(f"cannot create the output directory {str(output)!r}: {err}") from None
    try:
        _check_writable(writer.directory)
        bar = tqdm(total=n_events, unit="ev", desc=f"generate {process}", disable=not progress)
        with writer, bar, _terminate_as_exception():
            for n, tables in _results(jobs, seed, card, gun, workers, detector):
                writer.write(tables)
                bar.update(n)
            return writer.close(meta)
    except BaseException:  # nothing partial left: remove what this run wrote
        for path in writer._owned_files():
            path.unlink(missing_ok=True)
        if new_directory and not any(writer.directory.iterdir()):
            writer.directory.rmdir()
        raise
