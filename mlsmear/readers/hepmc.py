"""HepMC ASCII files in blocks of events: the truth input of ``mlsmear smear``.

HepMC3 and HepMC2 ASCII files (``.gz``, ``.bz2`` and ``.xz`` decompressed on the fly, as
``pyhepmc.open`` does) are cut into blocks of consecutive events without parsing them: every
event starts with a line ``E ...``, so a block is the file's header (the lines before the first
event: version, run info) followed by the text of its events, which a HepMC reader parses on its
own, in any process (:func:`event_blocks`). The file is read once, front to back; memory is one
block (a Pythia ttbar event is ~200 kB of HepMC3 text at its 16 digits).

:func:`open_hepmc` checks a file before anything is written: readable, a HepMC3 or HepMC2 header,
at least one event that parses. It also names the file for the event identity: HepMC files carry
no UUID and their event numbers repeat from run to run, so :attr:`HepMCSource.sample_id` is a
hash of the first event (its number and its particles' PDG ids, statuses and four-momenta in
GeV): it does not change when the file is renamed or compressed, and two runs differ in it.

:meth:`EventBlock.truth` parses a block, ``batch_size`` events at a time, into the truth objects
``mlsmear generate`` makes (:func:`mlsmear.physics.truth.truth_objects`: GenJets with their
neighbourhood and content inputs, prompt e / mu / gamma, GenMET with HT and jet count; GeV),
with each event's HepMC number and nominal weight. A block that parses into fewer events than
it holds is corrupt or truncated: a ValueError names the file and the event.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import awkward as ak
import numpy as np

from ..generate.pythia import import_pythia
from ..generate.runner import BATCH_SIZE
from ..hepmc_record import import_pyhepmc, read_events, record_from_events, sample_id_of
from ..physics.jets import import_fastjet
from ..physics.truth import truth_arrays, truth_objects

__all__ = ["EventBlock", "HepMCSource", "HepMCTruth", "event_blocks", "is_hepmc", "open_hepmc"]

#: Decompression by file-name suffix (those of ``pyhepmc.open`` the standard library has).
_COMPRESSION: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open,
}
#: Header marker -> format (as ``pyhepmc.open`` detects them).
_FORMATS = {b"HepMC::Asciiv3": "HepMC3", b"HepMC::IO_GenEvent": "HepMC2"}
_HEPMC_SUFFIXES = (".hepmc", ".hepmc2", ".hepmc3")
#: The start of an event line (after the newline that ends the line before).
_EVENT = b"\nE "
#: Bytes read from the (decompressed) file at a time.
_READ_SIZE = 1 << 24
#: Errors of reading or decompressing a damaged file.
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class HepMCSource:
    """A checked HepMC file.

    Attributes:
        path: the file.
        format: ``"HepMC3"`` or ``"HepMC2"``.
        sample_id: the file's name in the event identity (see the module docstring).
    """

    path: str
    format: str
    sample_id: str


@dataclass(frozen=True)
class HepMCTruth:
    """The truth of a block of events.

    Attributes:
        numbers: HepMC event number of each event (int64).
        weights: nominal (first) weight of each event, 1 where it has none (float64).
        objects: truth collections by kind (``jet``, ``electron``, ``muon``, ``photon``: jagged
            records; ``met``: one record per event), as :func:`mlsmear.physics.truth.truth_arrays`.
    """

    numbers: np.ndarray
    weights: np.ndarray
    objects: dict[str, ak.Array]


@dataclass(frozen=True)
class EventBlock:
    """Consecutive events of a HepMC ASCII file, as text a HepMC reader parses on its own.

    Attributes:
        path: the file.
        start: index of the block's first event in the file (0-based).
        n_events: number of events in the block.
        text: the file's header followed by the lines of the block's events.
    """

    path: str
    start: int
    n_events: int
    text: bytes

    def truth(self, batch_size: int = BATCH_SIZE) -> HepMCTruth:
        """Parse the block, ``batch_size`` events at a time, into its truth (module docstring).

        Raises:
            ValueError: an event that does not parse (the file is corrupt or truncated).
        """
        numbers: list[int] = []
        weights: list[float] = []
        parts = []
        for events in read_events(io.BytesIO(self.text), batch_size=batch_size):
            numbers += [event.event_number for event in events]
            weights += [float(w[0]) if len(w) else 1.0 for w in (e.weights for e in events)]
            parts.append(truth_arrays(truth_objects(record_from_events(events))))
        if len(numbers) != self.n_events:
            raise ValueError(
                f"input {self.path}: event {self.start + len(numbers)} (counting from 0) does not "
                "parse as HepMC: the file is corrupt or truncated"
            )
        return HepMCTruth(
            np.asarray(numbers, dtype=np.int64),
            np.asarray(weights, dtype=np.float64),
            {kind: ak.concatenate([part[kind] for part in parts]) for kind in parts[0]},
        )


def _compression(path: str) -> Callable[..., IO[bytes]] | None:
    return _COMPRESSION.get(Path(path).suffix.lower())


def is_hepmc(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is to be read as HepMC: named ``*.hepmc``, ``*.hepmc2``, ``*.hepmc3``
    (optionally ``.gz``, ``.bz2``, ``.xz``), or an uncompressed file starting with ``HepMC::``."""
    path = os.fspath(path)
    name = path.lower()
    if _compression(path) is not None:
        name = name[: -len(Path(name).suffix)]
    if name.endswith(_HEPMC_SUFFIXES):
        return True
    try:
        with open(path, "rb") as file:
            return file.read(7) == b"HepMC::"
    except OSError:
        return False


@contextmanager
def _reading(path: str) -> Iterator[IO[bytes]]:
    """The decompressed bytes of ``path``; read and decompression errors as ValueError."""
    opener = _compression(path)
    try:
        with (opener or open)(path, "rb") as stream:
            yield stream
    except _READ_ERRORS as err:
        raise ValueError(f"cannot read input {path}: {err}") from err


def _format(header: bytes, path: str) -> str:
    for marker, name in _FORMATS.items():
        if marker in header[:256]:
            return name
    raise ValueError(
        f"input {path} is not HepMC3 or HepMC2 ASCII: it does not start with a HepMC header "
        "('HepMC::Version' and 'HepMC::Asciiv3-START_EVENT_LISTING' or "
        "'HepMC::IO_GenEvent-START_EVENT_LISTING')"
    )


def event_blocks(path: str | os.PathLike[str], n_events: int) -> Generator[EventBlock]:
    """Blocks of ``n_events`` consecutive events of a HepMC file (the last one shorter), read
    front to back without parsing (module docstring).

    Raises:
        ValueError: ``n_events`` < 1, not HepMC3 / HepMC2 ASCII, a damaged compressed file.
    """
    if n_events < 1:
        raise ValueError(f"events per block must be at least 1, got {n_events}")
    path = os.fspath(path)
    with _reading(path) as stream:
        buffer = bytearray()
        header: bytes | None = None
        first = found = scan = 0  # first event of the block; event lines after its first
        while True:
            piece = stream.read(_READ_SIZE)
            buffer += piece
            if header is None:
                at = buffer.find(_EVENT)
                if at < 0:
                    if piece:
                        continue
                    if not buffer:
                        raise ValueError(f"input {path} is empty")
                    _format(bytes(buffer), path)
                    return  # a header without events
                header = bytes(buffer[: at + 1])
                _format(header, path)
                del buffer[: at + 1]
            while (at := buffer.find(_EVENT, scan)) >= 0:
                found += 1
                scan = at + 1
                if found == n_events:
                    yield EventBlock(path, first, n_events, header + bytes(buffer[: at + 1]))
                    del buffer[: at + 1]
                    first, found, scan = first + n_events, 0, 0
            scan = max(scan, len(buffer) - 2)  # an event line may start across the next read
            if not piece:
                if buffer:
                    yield EventBlock(path, first, found + 1, header + bytes(buffer))
                return


def open_hepmc(path: str | os.PathLike[str]) -> HepMCSource:
    """Check a HepMC file (module docstring) and name it for the event identity.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, not HepMC3 / HepMC2 ASCII, no events, a first event that does not
            parse.
        ImportError: pyhepmc, Pythia 8 (particle charges) or fastjet (GenJets) missing.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input {path} does not exist")
    import_pyhepmc(), import_pythia(), import_fastjet()
    blocks = event_blocks(path, 1)
    try:
        block = next(blocks, None)
    finally:
        blocks.close()
    if block is None:
        raise ValueError(f"input {path} holds no HepMC events")
    format_ = _format(block.text, path)
    events = next(read_events(io.BytesIO(block.text), batch_size=1), None)
    if events is None:
        raise ValueError(
            f"input {path}: event 0 (counting from 0) does not parse as HepMC: the file is "
            "corrupt or truncated"
        )
    return HepMCSource(path, format_, sample_id_of(events[0]))
