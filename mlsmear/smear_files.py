"""Smear the truth of NanoAOD, Delphes or HepMC files and write the smeared reco collections to a
file.

The output holds, per event, the input's event identity (``run``, ``luminosityBlock``,
``event``; Delphes: ``event`` = ``Event.Number``, HepMC: ``event`` = the HepMC event number, run
and lumi 0) and every collection mlsmear smeared, in NanoAOD naming: ``nJet``, ``Jet_pt``,
``Jet_eta``, ..., ``Jet_genJetIdx``, ``nElectron``, ..., ``MET_pt``, ``MET_phi`` (Delphes
``MissingET`` is written as ``MET``). Every field ``mlsmear.smear_events`` produces is written;
nothing is hard-coded. By default the NanoAOD truth collections (``GenJet``, ``GenPart``,
``GenMET``) are copied unchanged, so that ``Jet_genJetIdx`` and ``Electron_genPartIdx`` resolve
(``--keep``).

HepMC3 / HepMC2 ASCII input (``.hepmc``, also ``.gz``, ``.bz2``, ``.xz``) is generator truth: the
truth objects are made as ``mlsmear generate`` makes them (anti-kt 0.4 GenJets with their
neighbourhood inputs, prompt e / mu / gamma, GenMET), smeared as whole events, and written with
that truth as ``GenJet``, ``GenPart`` (the prompt e / mu / gamma the links point into) and
``GenMET``, and ``genWeight`` (the nominal weight). HepMC files carry no UUID: the file is named
in the random numbers' identity by a hash of its first event (:mod:`mlsmear.hepmc_smear`).

``.root`` output is a TTree ``Events`` written by uproot (readable by ROOT, RDataFrame, uproot
and coffea's ``NanoAODSchema``); ``.parquet`` output has the same column names (jagged
columns as lists), readable by awkward, pyarrow and ``NanoEventsFactory.from_parquet``.

Events are read, smeared and written ``--chunk`` at a time (memory does not grow with the
file; HepMC files are cut into blocks of events as text and parsed by the workers), by
``--workers`` processes. Every random number is keyed on the event identity, so the
output is the same whatever ``--chunk`` and ``--workers``. The file is written under a
temporary name in the output's directory and renamed at the end: a failed or interrupted run
leaves no partial file.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .kinds import KINDS

if TYPE_CHECKING:
    from .hepmc_smear import HepMCChunk
    from .readers.hepmc import HepMCSource

__all__ = [
    "smear_files", "DEFAULT_CHUNK", "DEFAULT_HEPMC_CHUNK", "DEFAULT_KEEP", "SMEARABLE_KINDS",
]

#: Events per chunk.
DEFAULT_CHUNK = 10_000
#: Events per chunk of HepMC input (a generator event is ~100 times a NanoAOD one).
DEFAULT_HEPMC_CHUNK = 1_000
#: Input branches copied unchanged by default (NanoAOD input): the truth the links point into.
DEFAULT_KEEP = ("GenJet_*", "GenPart_*", "GenMET_*", "genWeight")

#: Tree names per input format.
_TREES = {"Events": "nanoaod", "Delphes": "delphes"}
#: Output collection names that differ from the smeared collection's name.
_RENAME = {"MissingET": "MET"}
#: Delphes field name -> NanoAOD field name; ``None``: dropped (a vector alias of another field).
_DELPHES_FIELDS = {
    "PT": "pt", "Eta": "eta", "Phi": "phi", "Mass": "mass", "Charge": "charge", "MET": "pt",
    "rho": None,
}
#: Kinds with a collection of their own (the photons of lost electrons join the photons).
SMEARABLE_KINDS = tuple(k for k, spec in KINDS.items() if not spec.joins)


@dataclass(frozen=True)
class _Input:
    path: str
    tree: str
    schema: str
    entries: int
    branches: tuple[str, ...]
    uuid: str


@dataclass(frozen=True)
class _Task:
    """One chunk of one input: what a worker needs to smear it."""

    path: str
    tree: str
    schema: str
    uuid: str
    start: int
    stop: int
    model: str
    seed: int
    kinds: tuple[str, ...]
    keep: tuple[str, ...]

    @property
    def n_events(self) -> int:
        """Number of events in the chunk."""
        return self.stop - self.start


def _open_input(path: str) -> _Input | HepMCSource:
    """A checked input: a ROOT file's tree, or a HepMC file (:func:`open_hepmc`)."""
    import uproot

    from .readers.hepmc import is_hepmc, open_hepmc

    if not os.path.exists(path):
        raise FileNotFoundError(f"input {path} does not exist")
    if is_hepmc(path):
        return open_hepmc(path)
    try:
        file = uproot.open(path)
    except Exception as err:  # uproot raises many types for non-ROOT or damaged files
        raise ValueError(
            f"cannot read input {path} as a ROOT file: {err} (HepMC files are recognised by "
            "their name, *.hepmc, *.hepmc3, *.hepmc2, optionally .gz / .bz2 / .xz, or their "
            "'HepMC::' header)"
        ) from err
    with file:
        trees = [k.split(";")[0] for k, c in file.classnames().items() if c == "TTree"]
        found = [t for t in _TREES if t in trees]
        if not found:
            raise ValueError(
                f"input {path} is neither NanoAOD (a TTree 'Events') nor Delphes (a TTree "
                f"'Delphes'); its trees: {trees or 'none'}"
            )
        tree = file[found[0]]
        return _Input(path, found[0], _TREES[found[0]], tree.num_entries, tuple(tree.keys()),
                      str(file.file.uuid))


def _kinds(model: str, kinds: Sequence[str] | None) -> tuple[str, ...]:
    from .model import Bundle
    from .registry import load

    bundle = load(model)
    have = bundle.models if isinstance(bundle, Bundle) else {bundle.kind: bundle}
    available = [k for k in SMEARABLE_KINDS if k in have]
    if kinds is None:
        return tuple(available)
    missing = [k for k in kinds if k not in available]
    if missing:
        raise ValueError(f"model {model!r} has no {missing} model; it has {available}")
    return tuple(k for k in SMEARABLE_KINDS if k in kinds)


def _kept(
    inputs: Sequence[_Input | HepMCSource], patterns: Sequence[str], written: set[str]
) -> tuple[str, ...]:
    """Input branches copied unchanged: those matching ``patterns``, minus counters (uproot
    writes them) and anything the smeared collections write."""
    roots = [i for i in inputs if isinstance(i, _Input)]
    if not patterns or len(roots) != len(inputs) or roots[0].schema != "nanoaod":
        return ()
    common = set(roots[0].branches).intersection(*(i.branches for i in roots[1:]))
    names = []
    for branch in roots[0].branches:
        owner = branch.partition("_")[0]
        if branch not in common or owner in written or branch.startswith("n") and branch[1:] in {
            b.partition("_")[0] for b in common
        }:
            continue
        if any(fnmatch.fnmatchcase(branch, p) for p in patterns):
            names.append(branch)
    return tuple(names)


def _fields(collection: Any, name: str, schema: str) -> dict[str, Any]:
    """The fields of the smeared collection ``name`` under their NanoAOD names (every field,
    generically), less what coffea derives itself: global-index twins (``genJetIdxG``) and the
    constant branches real NanoAOD lacks and ``NanoAODSchema`` fills in (``Jet_charge``,
    ``Photon_mass``: its ``full_like_items``; checked equal to its fill value). Delphes names
    are mapped (``PT`` -> ``pt``, ``MET`` -> ``pt``)."""
    import awkward as ak
    from coffea.nanoevents import NanoAODSchema

    fields = ak.fields(collection)
    out: dict[str, Any] = {}
    for field in fields:
        if field.endswith("IdxG") and field[:-1] in fields:
            continue
        target = _DELPHES_FIELDS.get(field, field) if schema == "delphes" else field
        if collection.ndim == 1 and target == "eta":  # MET is a 2-D vector: no eta
            continue
        if target is None or target in out or (target != field and target in fields):
            continue
        filled = NanoAODSchema.full_like_items.get(f"{name}_{target}")
        if filled is not None:
            if not ak.all(collection[field] == filled[1][1]):
                raise RuntimeError(f"{name}.{target} is not {filled[1][1]}, coffea's fill value")
            continue
        out[target] = collection[field]
    return out


def _lay_out(out: dict[str, Any], name: str, collection: Any, schema: str) -> None:
    """Add a collection to a chunk under its NanoAOD names (:func:`_fields`): ``<name>_<field>``
    columns for one record per event, else one record of plain jagged arrays (no coffea or vector
    behaviour: chunks are pickled between processes; the writers add ``n<name>``)."""
    import awkward as ak

    collection = ak.to_packed(ak.materialize(collection))
    fields = _fields(collection, name, schema)
    if collection.ndim == 1:
        out.update({f"{name}_{f}": ak.to_numpy(v) for f, v in fields.items()})
    else:
        out[name] = ak.zip(
            {f: ak.Array(ak.without_parameters(v).layout) for f, v in fields.items()},
            depth_limit=2,
        )


def _smear_hepmc(task: HepMCChunk) -> dict[str, Any]:
    """Smear and lay out one block of HepMC events (:func:`smear_hepmc_block`)."""
    from .hepmc_smear import smear_hepmc_block

    columns, collections = smear_hepmc_block(task)
    out: dict[str, Any] = dict(columns)
    for name, collection in collections.items():
        _lay_out(out, _RENAME.get(name, name), collection, "nanoaod")
    return out


def _smear_chunk(task: _Task | HepMCChunk) -> dict[str, Any]:
    """Read, smear and lay out one chunk: branch name -> array, jagged collections as records."""
    if not isinstance(task, _Task):
        return _smear_hepmc(task)
    import awkward as ak
    import uproot
    from coffea.nanoevents import DelphesSchema, NanoAODSchema, NanoEventsFactory

    from .coffea import smear_events
    from .coffea.schemas import DELPHES, NANOAOD

    schema = NANOAOD if task.schema == "nanoaod" else DELPHES
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)
        # the file's UUID in the metadata, as coffea's Runner sets it: Delphes Event.Number
        # repeats from file to file, so mlsmear folds the file into the identity (NanoAOD: unused)
        events = NanoEventsFactory.from_root(
            {task.path: task.tree}, mode="virtual", entry_start=task.start, entry_stop=task.stop,
            schemaclass=NanoAODSchema if task.schema == "nanoaod" else DelphesSchema,
            metadata={"fileuuid": task.uuid, "filename": task.path},
        ).events()
        targets = [schema.target(k) for k in task.kinds]
        smeared = smear_events(events, model=task.model, seed=task.seed,
                               replace=[t.name for t in targets])
        out: dict[str, Any] = {}
        if task.schema == "nanoaod":
            for name in ("run", "luminosityBlock", "event"):
                out[name] = ak.to_numpy(smeared[name])
        else:
            number = smeared.Event.Number
            number = ak.to_numpy(number[:, 0] if number.ndim == 2 else number)
            zeros = np.zeros(len(number), dtype=np.uint32)
            out.update(run=zeros, luminosityBlock=zeros, event=number)
        for target in targets:
            name = _RENAME.get(target.name, target.name)
            _lay_out(out, name, smeared[target.name], task.schema)
    if task.keep:
        with uproot.open(task.path) as file:
            kept = file[task.tree].arrays(
                list(task.keep), entry_start=task.start, entry_stop=task.stop, how=dict
            )
        groups: dict[str, dict[str, Any]] = {}
        for branch, values in kept.items():
            if values.ndim == 1:
                out[branch] = ak.to_numpy(values)
            else:
                owner, _, field = branch.partition("_")
                groups.setdefault(owner, {})[field] = values
        for owner, fields in groups.items():
            out[owner] = ak.zip(fields, depth_limit=2)
    return out


def _flat(chunk: dict[str, Any]) -> dict[str, Any]:
    """The chunk as flat columns (``nJet``, ``Jet_pt``, ...): the parquet layout."""
    import awkward as ak

    columns: dict[str, Any] = {}
    for name, values in chunk.items():
        if isinstance(values, ak.Array) and values.ndim == 2:
            columns[f"n{name}"] = ak.to_numpy(ak.num(values)).astype(np.int32)
            columns.update({f"{name}_{f}": values[f] for f in ak.fields(values)})
        else:
            columns[name] = values
    return columns


def _tasks(inputs: Sequence[_Input], chunk: int, **common: Any) -> list[_Task]:
    """The chunks of ROOT inputs, by entry range."""
    tasks = [
        _Task(i.path, i.tree, i.schema, i.uuid, start, min(start + chunk, i.entries), **common)
        for i in inputs
        for start in range(0, i.entries, chunk)
    ]
    if not tasks:  # every input empty: one empty chunk still gives the output its branches
        first = inputs[0]
        tasks = [_Task(first.path, first.tree, first.schema, first.uuid, 0, 0, **common)]
    return tasks


def _hepmc_tasks(
    inputs: Sequence[HepMCSource], chunk: int, *, model: str, seed: int, kinds: tuple[str, ...]
) -> Iterator[HepMCChunk]:
    """The chunks of HepMC inputs: blocks of events cut from the files as they are read."""
    from .hepmc_smear import HepMCChunk
    from .readers.hepmc import event_blocks

    for source in inputs:
        for block in event_blocks(source.path, chunk):
            yield HepMCChunk(block, source.sample_id, model, seed, kinds)


def _init_worker() -> None:
    from .threads import set_threads

    set_threads(1)


def _results(
    tasks: Iterable[_Task | HepMCChunk], workers: int
) -> Iterator[tuple[_Task | HepMCChunk, dict[str, Any]]]:
    """``(task, smeared chunk)`` in input order; tasks are taken as they are needed and at most
    2 × workers chunks are in flight (flat memory)."""
    if workers <= 1:
        for task in tasks:
            yield task, _smear_chunk(task)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker
    ) as pool:
        pending: deque[tuple[Any, concurrent.futures.Future]] = deque()
        try:
            for task in tasks:
                pending.append((task, pool.submit(_smear_chunk, task)))
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


class _RootWriter:
    def __init__(self, path: Path) -> None:
        import uproot

        self.file = uproot.recreate(path)
        self.tree = None

    def write(self, chunk: dict[str, Any]) -> None:
        if self.tree is None:  # a TTree (assigning a dict would write an RNTuple), filled
            self.tree = self.file.mktree("Events", chunk, title="mlsmear smear")
        else:
            self.tree.extend(chunk)

    def close(self) -> None:
        self.file.close()


class _ParquetWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: Any = None
        self.schema: Any = None

    def write(self, chunk: dict[str, Any]) -> None:
        import awkward as ak
        import pyarrow.parquet as pq

        table = ak.to_arrow_table(ak.Array(_flat(chunk)), extensionarray=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _exit_on_sigterm() -> Any:
    """SIGTERM raises SystemExit(143) so that the temporary output is removed (main thread
    only); returns the previous handler, or None where none was installed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)


def smear_files(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    model: str = "default",
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    chunk: int | None = None,
    workers: int = 1,
    keep: Sequence[str] = DEFAULT_KEEP,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Smear ``inputs`` (NanoAOD or Delphes ROOT files, or HepMC files) into ``output``
    (``.root``/``.parquet``).

    What is written: see the module docstring. ``chunk``: events per chunk (default
    :data:`DEFAULT_CHUNK`, :data:`DEFAULT_HEPMC_CHUNK` for HepMC input). Returns ``{"events",
    "collections", "seconds"}``.

    Raises:
        FileNotFoundError: a missing input or output directory.
        ValueError: an unreadable, corrupt or (HepMC) empty input, mixed formats, an unknown
            output suffix, an existing output without ``overwrite``, a kind the model lacks.
        ImportError: HepMC input without pyhepmc, Pythia 8 or fastjet.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    if (chunk is not None and chunk < 1) or workers < 1:
        raise ValueError("--chunk and --workers must be at least 1")
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".root", ".parquet"):
        raise ValueError(f"output {output} must end in .root or .parquet")
    if output.exists() and not overwrite:
        raise ValueError(f"output {output} exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise FileNotFoundError(f"output directory {output.parent} does not exist")
    if not inputs:
        raise ValueError("no input files")
    opened = [_open_input(os.fspath(p)) for p in inputs]
    formats = {i.schema if isinstance(i, _Input) else "hepmc" for i in opened}
    if len(formats) > 1:
        raise ValueError(f"inputs mix formats ({sorted(formats)}): smear one format at a time")
    chosen = _kinds(model, kinds)
    if not chosen:
        raise ValueError(
            f"model {model!r} has no kind mlsmear smear writes ({list(SMEARABLE_KINDS)})"
        )
    from .coffea.schemas import DELPHES, NANOAOD

    hepmc = formats == {"hepmc"}
    schema = DELPHES if formats == {"delphes"} else NANOAOD
    written = {_RENAME.get(schema.target(k).name, schema.target(k).name) for k in chosen}
    common: dict[str, Any] = dict(model=str(model), seed=int(seed), kinds=chosen)
    tasks: Iterable[_Task | HepMCChunk]
    if hepmc:  # cut into blocks as the files are read: the number of events is known at the end
        sources = [i for i in opened if not isinstance(i, _Input)]
        tasks = _hepmc_tasks(sources, chunk or DEFAULT_HEPMC_CHUNK, **common)
        total = None
    else:
        roots = [i for i in opened if isinstance(i, _Input)]
        tasks = _tasks(roots, chunk or DEFAULT_CHUNK, keep=_kept(roots, keep, written), **common)
        total = sum(i.entries for i in roots)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    writer = (_RootWriter if suffix == ".root" else _ParquetWriter)(temporary)
    bar = tqdm(total=total, unit="ev", disable=not progress, file=sys.stderr, desc="smear")
    previous = _exit_on_sigterm()
    events = 0
    try:
        for task, result in _results(tasks, workers):
            writer.write(result)
            events += task.n_events
            bar.update(task.n_events)
        writer.close()
        os.replace(temporary, output)
    except BaseException:
        writer.close()
        temporary.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {
        "events": events,
        "collections": sorted(written),
        "seconds": time.perf_counter() - t0,
    }
