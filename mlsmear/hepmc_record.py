"""HepMC3 input and output of whole generator records through ``pyhepmc`` (the filter's
output, Delphes' input, ``mlsmear smear`` of HepMC files).

Output: a kept event is written with its full generator record (every particle with PDG id,
HepMC status, four-momentum and generated mass; vertices from the mother links) and the predicted
reco objects as event attributes. A Pythia record (:class:`~mlsmear.refdet.Collection` with the
columns :data:`RECORD_COLUMNS`) is converted as Pythia's own ``Pythia8ToHepMC3`` does it:

- particles: every record entry except entry 0 (the event as a whole); HepMC status 1 final,
  4 beam, 2 a hadron / mu / tau that decayed normally, else the absolute Pythia status;
- vertices: the mothers of an entry follow ``Particle::motherList()`` (one mother; a range of
  mothers for string fragmentation, status 81-89 and 101-106; else the two mothers); the
  production vertex of an entry is the end vertex of its first mother, created with all its
  mothers as incoming particles when the first mother has none yet.

The particles are handed to ``GenEvent.from_hepevt`` in an order where the incoming particles of
each vertex are adjacent and vertices come in topological order (parents before children), which
is what the HepMC3 ASCII reader needs.

Input: a HepMC3 (or HepMC2 / HEPEVT / LHEF, as ``pyhepmc.open`` detects) file is read into the same
columns :mod:`mlsmear.physics.truth` reads (``pid``, ``mother1`` = row of the first parent,
``final`` = status 1, ``pt`` (GeV), ``eta``, ``phi``, ``mass`` (GeV), ``charge``); the events
themselves are kept and written back unchanged.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from types import ModuleType
from typing import Any, BinaryIO

import numba
import numpy as np

from .generate.pythia import pdg_charges
from .physics.collection import Collection
from .physics.kinematics import from_cartesian
from .physics.truth import is_hadron

__all__ = [
    "RECORD_COLUMNS",
    "HepMCWriter",
    "import_pyhepmc",
    "read_events",
    "read_run_info",
    "record_from_events",
    "record_to_event",
    "sample_id_of",
]

#: Columns of a generator record needed to write it as HepMC: Pythia's status code, mother and
#: first-daughter rows (-1 for none), Cartesian momentum and energy (GeV), generated mass (GeV).
RECORD_COLUMNS = ("pid", "status", "mother1", "mother2", "daughter1", "px", "py", "pz", "e", "mass")
#: Attribute values HepMC can store: numbers, strings, non-empty sequences of numbers.
AttributeValue = int | float | str | Sequence[float]


@cache
def import_pyhepmc() -> ModuleType:
    """Import ``pyhepmc`` (an optional dependency) with a clear message when it is missing."""
    try:
        import pyhepmc
    except ImportError as err:
        raise ImportError(
            'HepMC input/output needs pyhepmc: pip install "mlsmear[generate]"'
        ) from err
    return pyhepmc


# -- Pythia record -> HEPEVT arrays ---------------------------------------------------------------


@numba.njit(cache=True)
def _vertices(status, mother1, mother2):
    """Production and end vertex of each entry (-1 for none), Pythia8ToHepMC3's rule."""
    n = status.size
    prod = np.full(n, -1, dtype=np.int64)
    end = np.full(n, -1, dtype=np.int64)
    n_vertex = 0
    for i in range(1, n):
        a = abs(status[i])
        m1, m2 = mother1[i], mother2[i]
        if a == 11 or a == 12 or (m1 < 0 and m2 < 0):
            continue
        if m1 < 0:
            m1 = m2
        if m2 < 0:
            m2 = m1
        lo, hi = min(m1, m2), max(m1, m2)
        v = end[lo]
        if v < 0:
            v = n_vertex
            n_vertex += 1
            if (80 < a < 90) or (100 < a < 107):
                for m in range(lo, hi + 1):
                    end[m] = v
            else:
                end[lo] = v
                end[hi] = v
        prod[i] = v
    return prod, end, n_vertex


@numba.njit(cache=True)
def _topological_rank(prod, end, n_vertex):
    """Rank of each vertex in a topological order (Kahn); -1 where a cycle prevents one."""
    indegree = np.zeros(n_vertex, dtype=np.int64)
    n_out = np.zeros(n_vertex + 1, dtype=np.int64)
    for p in range(prod.size):
        if prod[p] >= 0:
            n_out[prod[p] + 1] += 1
            if end[p] >= 0:
                indegree[end[p]] += 1
    start = np.cumsum(n_out)
    fill = start[:-1].copy()
    children = np.empty(start[-1], dtype=np.int64)  # outgoing particles of each vertex
    for p in range(prod.size):
        if prod[p] >= 0:
            children[fill[prod[p]]] = p
            fill[prod[p]] += 1
    rank = np.full(n_vertex, -1, dtype=np.int64)
    queue = np.empty(n_vertex, dtype=np.int64)
    head = tail = 0
    for v in range(n_vertex):
        if indegree[v] == 0:
            queue[tail] = v
            tail += 1
    while head < tail:
        v = queue[head]
        rank[v] = head
        head += 1
        for k in range(start[v], start[v + 1]):
            w = end[children[k]]
            if w >= 0:
                indegree[w] -= 1
                if indegree[w] == 0:
                    queue[tail] = w
                    tail += 1
    return rank


@numba.njit(cache=True)
def _hepmc_status(pid, status, daughter1):
    """HepMC status of each entry (Pythia's ``Particle::statusHepMC``)."""
    out = np.zeros(status.size, dtype=np.int32)
    for i in range(status.size):
        s = status[i]
        d = daughter1[i]
        if s > 0:
            out[i] = 1
        elif s == -12:
            out[i] = 4
        elif (
            (is_hadron(pid[i]) or abs(pid[i]) == 13 or abs(pid[i]) == 15)
            and d >= 0
            and pid[d] != pid[i]
            and 90 < abs(status[d]) < 95
        ):
            out[i] = 2
        elif -200 <= s <= -11:
            out[i] = -s
    return out


@numba.njit(cache=True)
def _hepevt_layout(pid, status, mother1, mother2, daughter1):
    """(order, parents, HepMC status) of one event for ``GenEvent.from_hepevt``.

    ``order``: record rows (entry 0 excluded) grouped by end vertex, vertices in topological
    order, final particles last; ``parents``: 1-based first and last position in ``order`` of the
    incoming particles of each particle's production vertex (0, 0 for none). An empty ``order``
    means the mother links hold a cycle.
    """
    prod, end, n_vertex = _vertices(status, mother1, mother2)
    rank = _topological_rank(prod, end, n_vertex)
    n = status.size
    if n_vertex > 0 and rank.min() < 0:
        return np.empty(0, np.int64), np.empty((0, 2), np.int32), np.empty(0, np.int32)
    key = np.empty(n - 1, dtype=np.int64)
    for p in range(1, n):
        key[p - 1] = rank[end[p]] if end[p] >= 0 else n_vertex
    order = np.argsort(key, kind="mergesort") + 1
    first = np.zeros(n_vertex, dtype=np.int32)
    last = np.zeros(n_vertex, dtype=np.int32)
    for position in range(order.size):
        v = end[order[position]]
        if v >= 0:
            if first[v] == 0:
                first[v] = position + 1
            last[v] = position + 1
    parents = np.zeros((order.size, 2), dtype=np.int32)
    for position in range(order.size):
        v = prod[order[position]]
        if v >= 0:
            parents[position, 0] = first[v]
            parents[position, 1] = last[v]
    return order, parents, _hepmc_status(pid, status, daughter1)[order]


def record_to_event(record: Collection, event: int, number: int) -> Any:
    """Event ``event`` (0-based, in ``record``) as a ``pyhepmc.GenEvent`` with event number
    ``number`` (GeV, mm). The record needs the columns :data:`RECORD_COLUMNS`."""
    missing = [c for c in RECORD_COLUMNS if c not in record]
    if missing:
        raise ValueError(f"the generator record lacks {missing} needed to write HepMC")
    rows = slice(record.offsets[event], record.offsets[event + 1])
    c = {name: record[name][rows] for name in RECORD_COLUMNS}
    order, parents, status = _hepevt_layout(
        c["pid"], c["status"], c["mother1"], c["mother2"], c["daughter1"]
    )
    if order.size == 0 and c["pid"].size > 1:
        raise RuntimeError(f"event {number}: the mother links of the record form a cycle")
    pyhepmc = import_pyhepmc()
    out = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
    out.from_hepevt(
        number,
        *(np.ascontiguousarray(c[name][order], dtype=np.float64) for name in ("px", "py", "pz")),
        np.ascontiguousarray(c["e"][order], dtype=np.float64),
        np.ascontiguousarray(c["mass"][order], dtype=np.float64),
        np.ascontiguousarray(c["pid"][order], dtype=np.int32),
        status,
        parents,
    )
    return out


# -- HepMC events -> record ------------------------------------------------------------------------


def _first_mothers(links1: np.ndarray, links2: np.ndarray, n: int) -> np.ndarray:
    """Row of the first (lowest-id) parent of each particle, -1 for none, from HepMC links."""
    incoming = links1 > 0  # (particle, its end vertex); else (vertex, an outgoing particle)
    n_vertex = int(max(-links1.min(initial=0), -links2.min(initial=0)))
    first = np.full(n_vertex + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, -links2[incoming], links1[incoming])
    mother1 = np.full(n, -1, dtype=np.int64)
    vertex, particle = -links1[~incoming], links2[~incoming]
    has_parent = first[vertex] != np.iinfo(np.int64).max
    mother1[particle[has_parent] - 1] = first[vertex[has_parent]] - 1
    return mother1


def record_from_events(events: Sequence[Any]) -> Collection:
    """The generator record (columns of :mod:`mlsmear.physics.truth`) of ``pyhepmc`` events.

    Momenta are converted to GeV; the mass is the generated mass where set, else from the
    four-momentum.
    """
    pyhepmc = import_pyhepmc()
    counts, parts = [], []
    for event in events:
        if event.momentum_unit != pyhepmc.Units.GEV:
            event.set_units(pyhepmc.Units.GEV, event.length_unit)
        data = pyhepmc.GenEventData()
        event.write_data(data)
        particles = data.particles
        counts.append(len(particles))
        mothers = _first_mothers(np.asarray(data.links1), np.asarray(data.links2), counts[-1])
        parts.append((particles, mothers))
    particles = np.concatenate([p for p, _ in parts])
    mother1 = np.concatenate([m for _, m in parts])
    pt, eta, phi, mass = from_cartesian(particles["px"], particles["py"], particles["pz"],
                                        particles["e"])
    pid = particles["pid"].astype(np.int32)
    return Collection.from_counts(
        np.asarray(counts, dtype=np.int64),
        {
            "pid": pid,
            "mother1": mother1.astype(np.int32),
            "final": particles["status"] == 1,
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "mass": np.where(particles["is_mass_set"], particles["mass"], mass),
            "charge": pdg_charges(pid),
        },
    )


def sample_id_of(first_event: Any) -> str:
    """A HepMC file's name in the event identity (``sample_id``): a hash of its first event's
    number and its particles' PDG ids, statuses and four-momenta (GeV), the same after renaming
    or compressing the file. Sets the event's momentum unit to GeV."""
    pyhepmc = import_pyhepmc()
    if first_event.momentum_unit != pyhepmc.Units.GEV:
        first_event.set_units(pyhepmc.Units.GEV, first_event.length_unit)
    data = pyhepmc.GenEventData()
    first_event.write_data(data)
    digest = hashlib.blake2b(np.int64(first_event.event_number).tobytes(), digest_size=16)
    for column in ("pid", "status", "px", "py", "pz", "e"):
        digest.update(np.ascontiguousarray(data.particles[column]).tobytes())
    return f"hepmc:{digest.hexdigest()}"


def read_events(
    path: str | os.PathLike[str] | BinaryIO, *, batch_size: int, max_events: int | None = None
) -> Iterator[list[Any]]:
    """Lists of up to ``batch_size`` ``pyhepmc.GenEvent`` read from ``path`` (a file name, or a
    seekable binary file object such as ``io.BytesIO``; format detected by ``pyhepmc.open``), at
    most ``max_events`` in all."""
    pyhepmc = import_pyhepmc()
    remaining = np.inf if max_events is None else max_events
    with pyhepmc.open(path if hasattr(path, "read") else os.fspath(path)) as source:
        batch: list[Any] = []
        for event in source:
            if remaining <= 0:
                break
            batch.append(event)
            remaining -= 1
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


# -- writing --------------------------------------------------------------------------------------


def read_run_info(path: str | os.PathLike[str]) -> Any:
    """The ``pyhepmc.GenRunInfo`` of the first event of a HepMC file (None if it has none)."""
    pyhepmc = import_pyhepmc()
    with pyhepmc.open(os.fspath(path)) as source:
        event = source.read()
    return None if event is None else event.run_info


class HepMCWriter:
    """Writes ``pyhepmc.GenEvent`` objects to a HepMC3 ASCII file.

    HepMC3 stores one run info per file, so every event is written with the writer's: ``base``
    (the input file's, keeping e.g. its weight names) or a new one, to which ``tool`` and
    ``run_attributes`` are added.

    Arguments:
        path: file to write (overwritten).
        run_attributes: run-level attributes (e.g. the selection).
        tool: (name, version, description) of the program.
        base: run info to extend (from :func:`read_run_info`), or None.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        run_attributes: Mapping[str, AttributeValue],
        tool: tuple[str, str, str],
        base: Any = None,
    ) -> None:
        pyhepmc = import_pyhepmc()
        self._run_info = pyhepmc.GenRunInfo() if base is None else base
        self._run_info.tools = [*self._run_info.tools, tool]
        for name, value in run_attributes.items():
            self._run_info.attributes[name] = value
        self._writer = pyhepmc.io.WriterAscii(os.fspath(path), self._run_info)
        self.n_written = 0

    def write(self, event: Any, attributes: Mapping[str, AttributeValue]) -> None:
        """Write one event with extra event attributes (empty sequences are skipped)."""
        event.run_info = self._run_info
        for name, value in attributes.items():
            if isinstance(value, str | int | float) or len(value) > 0:
                event.attributes[name] = value
        self._writer.write_event(event)
        if self._writer.failed():
            raise OSError("writing the HepMC file failed")
        self.n_written += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._writer.close()

    def __enter__(self) -> HepMCWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
