"""Shared by the coffea tests: real small inputs (the files under tests/data, and truth-only
NanoAOD files written from them: the truth branches of a real file, nothing else) and a processor
that returns the smeared values per event, to compare executors bit for bit."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import awkward as ak
import uproot
from coffea import processor
from coffea.nanoevents import DelphesSchema, NanoAODSchema, NanoEventsFactory

DATA = Path(__file__).parent / "data"
NANO_TT = DATA / "nano_tt_v12.root"  # 200 ttbar events, full CMS simulation
NANO_DY = DATA / "nano_dy.root"  # 40 Drell-Yan events, with GenDressedLepton
DELPHES = DATA / "delphes.root"  # 25 events
IDENTITY = ("run", "luminosityBlock", "event")
TRUTH = ("GenJet", "GenPart", "GenMET")


def write_truth_only(
    path: Path, *, source: Path = NANO_TT, drop: Iterable[str] = (), stop: int | None = None
) -> Path:
    """A NanoAOD file with only the event identity and the truth collections of ``source``.

    ``drop``: branch names (``GenJet_mass``) or collection prefixes (``GenPart``) to leave out.
    """
    drop = tuple(drop)
    tree = uproot.open(source)["Events"]
    names = [
        k for k in tree.keys(recursive=False)
        if k in IDENTITY or k.split("_")[0] in TRUTH
    ]
    names = [k for k in names if k not in drop and k.split("_")[0] not in drop]
    arrays = tree.arrays(names, entry_stop=stop)
    columns = {k: arrays[k] for k in names}
    with uproot.recreate(path) as out:
        out.mktree(
            "Events", {k: v.type for k, v in columns.items()},
            counter_name=lambda counted: "n" + counted.split("_")[0],
        )
        out["Events"].extend(columns)
    return path


@functools.cache
def _opened(path: Path) -> Any:
    """``path`` opened once per session: reading the metadata of Delphes' ~1000 branches takes
    seconds, building NanoEvents from the open file a fraction of one."""
    return uproot.open(path)


def file_events(path: Path, schema: type, tree: str, mode: str = "eager", **options: Any) -> Any:
    """Fresh NanoEvents of a ROOT file (quietly: real files miss some cross-reference targets).

    Eager events come from the file opened once per session; dask ones from its name, as the
    graph needs it."""
    source: Any = {str(path): tree}
    if mode == "eager":
        source, options = _opened(path), {**options, "treepath": tree}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        factory = NanoEventsFactory.from_root(source, schemaclass=schema, mode=mode, **options)
        return factory.events()


def nano_events(path: Path = NANO_TT, mode: str = "eager", **options: Any) -> Any:
    """NanoAOD NanoEvents of a file."""
    return file_events(path, NanoAODSchema, "Events", mode, **options)


def delphes_events(mode: str = "eager", **options: Any) -> Any:
    """Delphes NanoEvents of tests/data/delphes.root (in 3 partitions for ``mode="dask"``)."""
    if mode == "dask":
        options = {"steps_per_file": 3, **options}
    return file_events(DELPHES, DelphesSchema, "Delphes", mode, **options)


def smeared_columns(events: Any) -> dict[str, Any]:
    """Every smeared value that must not depend on the chunking (eager or dask-awkward events).

    All fields of the replaced collections but the global ``...IdxG`` (chunk-relative by
    definition in NanoAOD), plus the jets' ``matched_gen`` pT, which reads them.
    """
    columns = {f: events[f] for f in IDENTITY}
    for name in ("Jet", "Electron", "Muon", "Photon"):
        for field in events[name].fields:
            if not field.endswith("G"):
                columns[f"{name}.{field}"] = events[name][field]
    columns["Jet.matched_gen.pt"] = events.Jet.matched_gen.pt
    columns["MET.pt"], columns["MET.phi"] = events.MET.pt, events.MET.phi
    return columns


def by_event(columns: dict[str, Any]) -> dict[tuple[int, ...], tuple]:
    """(run, lumi, event) -> every column's Python value for that event (floats stay exact)."""
    ids = zip(*(ak.to_list(columns[f]) for f in IDENTITY), strict=True)
    values = [ak.to_list(v) for k, v in columns.items() if k not in IDENTITY]
    return {key: tuple(v[i] for v in values) for i, key in enumerate(ids)}


class Columns(processor.ProcessorABC):
    """The smeared values per event: :func:`by_event` of eager chunks, :func:`smeared_columns`
    (lazy) of dask-awkward events."""

    def process(self, events: Any) -> Any:
        columns = smeared_columns(events)
        return columns if not isinstance(events, ak.Array) else by_event(columns)

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
