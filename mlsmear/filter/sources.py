"""Where the filter's events come from: Pythia 8 in batches, or a HepMC file.

Pythia runs are planned exactly as ``mlsmear generate`` plans them (:func:`plan_jobs`: jobs of one
slice, Pythia seed and detector generator derived from ``(seed, job index)``, batches of
:data:`~mlsmear.generate.runner.BATCH_SIZE` events inside a job), so the events, their identities
``(seed << 32) + index`` and, with ``--validate``, the reference-detector reco are those of
``mlsmear generate --process P --events N --seed S``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..generate.pythia import PythiaGenerator, pythia_seed
from ..generate.runner import event_ids, plan_jobs
from ..hepmc_record import read_events, record_from_events, sample_id_of
from ..physics.collection import Collection
from .clock import Clock

__all__ = ["Batch", "hepmc_batches", "pythia_batches"]


@dataclass(frozen=True)
class Batch:
    """Events handed through the filter together.

    Attributes:
        record: generator record (columns of :mod:`mlsmear.physics.truth`; for Pythia all
            those of :mod:`mlsmear.generate.pythia`, which include
            :data:`~mlsmear.hepmc_record.RECORD_COLUMNS`).
        numbers: HepMC event number of each event (int64).
        identity: event identity of each event for the learnt detector's random numbers (int64).
        detector_rng: generator for the reference detector (``--validate``).
        events: the ``pyhepmc.GenEvent`` objects read from a file (written back unchanged), or
            None for Pythia events (written from ``record``).
        sample_id: the key the learnt detector folds into ``identity`` (:func:`mlsmear.smear`'s
            ``sample_id``): a HepMC file's (:func:`~mlsmear.hepmc_record.sample_id_of`, as
            ``mlsmear smear`` uses), None for Pythia events.
    """

    record: Collection
    numbers: np.ndarray
    identity: np.ndarray
    detector_rng: np.random.Generator
    events: list[Any] | None = None
    sample_id: str | None = None


def pythia_batches(
    process: str, n_events: int, seed: int, *, batch_size: int, job_size: int, clock: Clock
) -> Iterator[Batch]:
    """Batches of Pythia events of ``process``; Pythia time is added to ``clock["generator"]``."""
    for job in plan_jobs(process, n_events, job_size=job_size):
        detector_rng = np.random.default_rng(np.random.SeedSequence([seed, job.index]).spawn(2)[0])
        with clock("generator"):
            generator = PythiaGenerator(job.slice.settings, pythia_seed([seed, job.index]))
        for start in range(0, job.n_events, batch_size):
            n = min(batch_size, job.n_events - start)
            with clock("generator"):
                record = generator.generate(n)
            numbers = job.first_event + start + np.arange(n, dtype=np.int64)
            yield Batch(record, numbers, event_ids(seed, job.first_event + start, n), detector_rng)


def hepmc_batches(
    path: str | os.PathLike[str],
    max_events: int | None,
    seed: int,
    *,
    batch_size: int,
    clock: Clock,
) -> Iterator[Batch]:
    """Batches of the events of a HepMC file; reading time is added to ``clock["generator"]``.

    The event identity is the file's event number with the file's key folded in, as in
    ``mlsmear smear`` (files numbered alike never share random numbers).
    """
    first = next(read_events(path, batch_size=1), [])  # read again below, units untouched
    sample_id = sample_id_of(first[0]) if first else None
    detector_rng = np.random.default_rng(np.random.SeedSequence([seed, 0]).spawn(2)[0])
    reader = read_events(path, batch_size=batch_size, max_events=max_events)
    while True:
        with clock("generator"):
            events = next(reader, None)
            if events is None:
                return
            record = record_from_events(events)
            numbers = np.asarray([e.event_number for e in events], dtype=np.int64)
        yield Batch(record, numbers, numbers, detector_rng, events, sample_id)
