"""Generate a pairs directory: plan jobs, run generator -> truth -> detector -> matching, write.

Work is cut into *jobs* of at most ``job_size`` events of one slice of the process. Job ``i`` has
its own seeds derived from ``(seed, i)`` (Pythia seed, detector and gun generators), and jobs are
written in plan order, so the output depends only on (process, events, seed, card, job size): it
is identical for any number of workers.

Event identity: ``event = (seed << 32) + i`` for the i-th event of the run (0-based), unique
within the directory and different between seeds (``0 <= seed < 2**31``, fewer than 2**32 events).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from typing import Any

import numpy as np
from tqdm import tqdm

from ..pairs import PairsWriter
from ..refdet.card import load_card
from ..refdet.jets import import_fastjet
from ..refdet.pipeline import Detector
from . import truth as truth_module
from .guns import GUNS, Gun
from .matching import MATCH_DR, pair_tables
from .pythia import (
    PROCESSES,
    PYTHIA_COMMON,
    PythiaGenerator,
    Slice,
    import_pythia,
    pythia_seed,
)

__all__ = ["BATCH_SIZE", "JOB_SIZE", "Job", "event_ids", "generate_pairs", "plan_jobs", "run_job"]

JOB_SIZE = 1000
#: Events passed through truth and detector at once inside a job (bounds memory).
BATCH_SIZE = 250
_SOFTWARE = ("numpy", "awkward", "numba", "pyarrow", "fastjet", "pythia8mc")


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
    jobs = []
    first = 0
    for _, piece, size in pieces:
        jobs.append(Job(len(jobs), piece, first, size))
        first += size
    return jobs


def event_ids(seed: int, first_event: int, n_events: int) -> np.ndarray:
    """Event identities ``(seed << 32) + index`` (int64) of consecutive events of a run."""
    return (np.int64(seed) << np.int64(32)) + first_event + np.arange(n_events, dtype=np.int64)


def run_job(
    job: Job, *, seed: int, detector: Detector, gun: Gun | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Generate one job and return its pairs columns, kind -> column -> array."""
    streams = np.random.SeedSequence([seed, job.index]).spawn(2)
    detector_rng = np.random.default_rng(streams[0])
    if gun is None:
        generator = PythiaGenerator(job.slice.settings, pythia_seed([seed, job.index]))
        make_record = generator.generate
    else:
        make_record = partial(gun.record, rng=np.random.default_rng(streams[1]))
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


_WORKER: dict[str, Detector] = {}


def _init_worker(card: str) -> None:
    _WORKER["detector"] = Detector.from_card(card)


def _run_in_worker(task: tuple[Job, int, Gun | None]) -> tuple[int, dict]:
    job, seed, gun = task
    return job.n_events, run_job(job, seed=seed, detector=_WORKER["detector"], gun=gun)


def _results(
    jobs: list[Job], seed: int, card: str, gun: Gun | None, workers: int
) -> Iterator[tuple[int, dict]]:
    tasks = [(job, seed, gun) for job in jobs]
    if workers == 1:
        _init_worker(card)
        yield from map(_run_in_worker, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(card,)) as pool:
        yield from pool.imap(_run_in_worker, tasks)


def _versions() -> dict[str, str]:
    versions = {}
    for name in _SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def generate_pairs(
    output: str | os.PathLike[str],
    *,
    process: str,
    n_events: int,
    seed: int,
    card: str = "atlas-like",
    workers: int = 1,
    gun: Gun | None = None,
    job_size: int = JOB_SIZE,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate ``n_events`` events of ``process`` and write their pairs to ``output``.

    Arguments:
        output: pairs directory to create.
        process: a key of :data:`~mlsmear.generate.pythia.PROCESSES` or of
            :data:`~mlsmear.generate.guns.GUNS` (then ``gun`` is required).
        n_events: number of events, 1 ... 2**32 - 1.
        seed: master seed, 0 ... 2**31 - 1; all job seeds derive from it.
        card: detector card name or TOML path.
        workers: worker processes (output does not depend on it).
        job_size: events per job (the output does depend on it).

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
    detector_card = load_card(card)
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
        "card": {
            "name": detector_card.name,
            "source": detector_card.source,
            "sha256": detector_card.sha256,
            "text": detector_card.text,
        },
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
        "software": versions,
    }
    with (
        PairsWriter(output, overwrite=overwrite) as writer,
        tqdm(total=n_events, unit="ev", desc=f"generate {process}", disable=not progress) as bar,
    ):
        for n, tables in _results(jobs, seed, card, gun, workers):
            writer.write(tables)
            bar.update(n)
        return writer.close(meta)
