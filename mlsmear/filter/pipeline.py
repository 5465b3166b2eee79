"""The generation-stage filter: events → truth objects → predicted reco → selection → HepMC.

Per batch of events (Pythia 8 or a HepMC file): truth objects (:func:`truth_objects`: GenJets,
prompt leptons and photons, GenMET with HT and jet count), the learnt detector on the kinds the
selection reads (one vectorised :func:`mlsmear.smear` per kind, events keyed by their identity),
the selection on the predicted reco with the margin (:mod:`mlsmear.filter.margin`), then the kept
events are written with their full generator record and, as event attributes, every predicted
reco collection (the kinds the selection did not read are predicted for the kept events only:
the counter-based random numbers make that identical to predicting them for all events).

Summary (also written as JSON): ``generated``, ``kept``, ``keep_fraction``, ``seconds``
(``generator``: Pythia including initialisation, or reading the HepMC file; ``truth``; ``nn``:
learnt detector and selection; ``writing``; with validation also ``reference``) and
``nn_overhead_fraction`` = nn / generator seconds. With ``validate``, the reference detector's
verdict on every event (:mod:`mlsmear.filter.reference`): ``signal_efficiency``,
``reference_pass_fraction``, ``fullsim_saving_factor`` = generated / kept, ...
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm import tqdm

from .. import __version__
from ..columnar import OutOfRangeWarning
from ..generate.pythia import PROCESSES, import_pythia
from ..generate.runner import BATCH_SIZE, JOB_SIZE
from ..hepmc_record import HepMCWriter, import_pyhepmc, read_run_info, record_to_event
from ..model import Bundle
from ..physics.jets import import_fastjet
from ..physics.truth import flavour_hadrons, truth_arrays, truth_objects
from ..refdet.pipeline import Detector
from ..registry import load
from ..threads import limited_threads
from .clock import Clock
from .margin import check_margin, scale_momenta
from .options import FilterOptions
from .reco import KIND_OF, NAME_OF, empty_truth, predict
from .reference import ReferenceCheck
from .selection import Selection
from .sources import Batch, hepmc_batches, pythia_batches

__all__ = ["ATTRIBUTE_PREFIX", "run_filter"]

#: Prefix of the HepMC attributes the filter writes.
ATTRIBUTE_PREFIX = "mlsmear_"
_STAGES = ("generator", "truth", "nn", "writing")
_MAX_EVENTS = 2**31 - 1  # HepMC event numbers are 32-bit


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed to ``path`` on success and removed on failure."""
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def _output_path(name: str | os.PathLike[str], what: str, overwrite: bool) -> Path:
    path = Path(name)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the directory of the {what} {str(path)!r} does not exist")
    if path.exists() and not overwrite:
        raise ValueError(f"the {what} {str(path)!r} exists; pass overwrite=True (--overwrite)")
    return path


def _batches(
    process: str | None,
    hepmc: str | os.PathLike[str] | None,
    n_events: int | None,
    seed: int,
    batch_size: int,
    job_size: int,
    clock: Clock,
) -> tuple[Iterator[Batch], int | None, dict[str, Any]]:
    """Checked input: (batches, number of events if known, its description for the summary)."""
    if (process is None) == (hepmc is None):
        raise ValueError("give exactly one input: a process (--process) or a HepMC file (--hepmc)")
    if not 0 <= seed < 2**31:
        raise ValueError(f"seed must be in 0 ... 2**31 - 1, got {seed}")
    if batch_size < 1 or job_size < 1:
        raise ValueError(f"batch and job sizes must be >= 1, got {batch_size}, {job_size}")
    if n_events is not None and not 0 < n_events <= _MAX_EVENTS:
        raise ValueError(f"number of events must be in 1 ... {_MAX_EVENTS}, got {n_events}")
    if process is not None:
        if process not in PROCESSES:
            raise ValueError(f"unknown process {process!r}; choose from {list(PROCESSES)}")
        if n_events is None:
            raise ValueError("a Pythia process needs the number of events (--events)")
        import_pythia()
        batches = pythia_batches(
            process, n_events, seed, batch_size=batch_size, job_size=job_size, clock=clock
        )
        return batches, n_events, {"process": process}
    path = Path(hepmc)  # type: ignore[arg-type]  # exactly one input, checked above
    if not path.is_file():
        raise FileNotFoundError(f"no HepMC file {str(path)!r}")
    import_pythia()  # particle data: charges of the PDG ids
    batches = hepmc_batches(path, n_events, seed, batch_size=batch_size, clock=clock)
    return batches, n_events, {"hepmc": str(path)}


def _bundle(model: str | os.PathLike[str] | Bundle, needed: frozenset[str]) -> Bundle:
    loaded = load(model)
    if not isinstance(loaded, Bundle):
        raise ValueError("the filter needs a model bundle (a directory of kinds), not one kind")
    missing = sorted(n for n in needed if KIND_OF[n] not in loaded)
    if missing:
        raise ValueError(
            f"the selection reads {missing} but the model has only the kinds {list(loaded)}"
        )
    return loaded


def _attributes(reco: Mapping[str, ak.Array]) -> list[dict[str, Any]]:
    """HepMC attributes of each event of ``reco``: ``mlsmear_MET_pt``, ``mlsmear_MET_phi`` (GeV,
    rad) and per object collection ``mlsmear_<Name>_n`` and the lists ``mlsmear_<Name>_pt``,
    ``_eta``, ``_phi``, ``_mass`` (pT-ordered; absent when the event has none)."""
    columns: dict[str, list] = {}
    for name, collection in reco.items():
        fields = ("pt", "phi") if name == "MET" else ("pt", "eta", "phi", "mass")
        for f in fields:
            columns[f"{ATTRIBUTE_PREFIX}{name}_{f}"] = ak.to_list(collection[f])
        if name != "MET":
            columns[f"{ATTRIBUTE_PREFIX}{name}_n"] = ak.to_list(ak.num(collection, axis=1))
    n_events = len(next(iter(reco.values()))) if reco else 0
    return [{key: values[i] for key, values in columns.items()} for i in range(n_events)]


class _WarningTally:
    """Collects :class:`OutOfRangeWarning` of all batches and re-emits one per kind and input."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], OutOfRangeWarning] = {}
        self.batches: dict[tuple[str, str], int] = {}
        self.counts: dict[tuple[str, str], tuple[int, int]] = {}

    @contextmanager
    def collect(self) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutOfRangeWarning)
            yield
        for item in caught:
            warning = item.message
            if not isinstance(warning, OutOfRangeWarning):
                warnings.warn_explicit(warning, item.category, item.filename, item.lineno)
                continue
            what = (warning.kind, warning.field)
            self.first.setdefault(what, warning)
            self.batches[what] = self.batches.get(what, 0) + 1
            count, total = self.counts.get(what, (0, 0))
            self.counts[what] = (count + warning.count, total + warning.total)

    def emit(self, n_batches: int) -> None:
        for (kind, field), first in self.first.items():
            message = f"in {self.batches[kind, field]} of {n_batches} batches; the first: {first}"
            warnings.warn(
                OutOfRangeWarning(message, kind, field, *self.counts[kind, field]), stacklevel=3
            )


def run_filter(
    selection: str | Callable[[Mapping[str, ak.Array]], Any],
    output: str | os.PathLike[str],
    *,
    process: str | None = None,
    hepmc: str | os.PathLike[str] | None = None,
    n_events: int | None = None,
    seed: int = 0,
    margin: float = 0.0,
    model: str | os.PathLike[str] | Bundle = "default",
    summary: str | os.PathLike[str] | None = None,
    validate: bool = False,
    scan_margins: Sequence[float] = (),
    card: str = "atlas-like",
    batch_size: int = BATCH_SIZE,
    job_size: int = JOB_SIZE,
    device: str = "cpu",
    threads: int = 1,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Keep the events whose predicted reco passes ``selection``; write them as HepMC3.

    Arguments:
        selection: an expression on the reco collections (:mod:`mlsmear.filter.selection`, e.g.
            ``"MET.pt > 250"``, GeV), or a callable ``f(reco) -> one boolean per event`` with
            ``reco`` = ``{"Jet": ..., "Electron": ..., "Muon": ..., "Photon": ..., "MET": ...}``.
        output: HepMC3 ASCII file for the kept events (written to a temporary file and renamed at
            the end: a failed run leaves nothing behind).
        process: a Pythia process of :data:`~mlsmear.generate.pythia.PROCESSES`; or
        hepmc: a HepMC file to read instead (event identity = its event numbers).
        n_events: events to generate (required for ``process``); at most this many are read from
            ``hepmc`` (default all).
        seed: master seed, 0 ... 2**31 - 1: Pythia seeds (as ``mlsmear generate``), the learnt
            detector's random numbers and the reference detector derive from it.
        margin: M >= 0: the selection sees momenta scaled by 1 + M (:mod:`~.margin`).
        model: model bundle (``"default"``, a shipped name, a path, or a :class:`Bundle`).
        summary: JSON file for the summary (optional).
        validate: also run the reference detector (``card``) and report signal efficiency
            (:mod:`~.reference`).
        scan_margins: with ``validate``, also report keep fraction and signal efficiency for these
            margins (``margin_scan``; one run, the same predictions).
        batch_size: events per batch (generator, truth, network and detector run per batch).
        job_size: events per Pythia job (as ``mlsmear generate --job-size``).
        device: torch device for the network.
        threads: CPU threads for the network and the sampler. The generator runs on one thread,
            so the default 1 suits one filter job per core; more threads on a busy machine make
            the network slower, not faster.
        overwrite: replace existing output files.
        progress: show a progress bar.

    Returns:
        The summary (see the module docstring).

    Raises:
        ValueError: bad selection, unknown process, bad arguments, existing output.
        FileNotFoundError: missing input file or output directory.
        ImportError: Pythia 8 (``pythia8mc``), fastjet or pyhepmc missing.
    """
    return _run(FilterOptions(
        selection, output, process=process, hepmc=hepmc, n_events=n_events, seed=seed,
        margin=margin, model=model, summary=summary, validate=validate, scan_margins=scan_margins,
        card=card, batch_size=batch_size, job_size=job_size, device=device, threads=threads,
        overwrite=overwrite, progress=progress,
    ))


def _run(o: FilterOptions) -> dict[str, Any]:
    """:func:`run_filter` of its options."""
    chosen = Selection.from_callable(o.selection) if callable(o.selection) else (
        Selection.parse(o.selection)
    )
    margin = check_margin(o.margin)
    if o.scan_margins and not o.validate:
        raise ValueError("a margin scan (scan_margins, --scan-margins) needs validate=True")
    output_path = _output_path(o.output, "output file", o.overwrite)
    summary_path = (
        None if o.summary is None else _output_path(o.summary, "summary file", o.overwrite)
    )
    clock = Clock((*_STAGES, "reference") if o.validate else _STAGES)
    batches, total, source = _batches(
        o.process, o.hepmc, o.n_events, o.seed, o.batch_size, o.job_size, clock
    )
    import_fastjet()
    import_pyhepmc()
    learnt = _Learnt(_bundle(o.model, chosen.collections), chosen, margin, o.seed, o.device)
    check = (
        ReferenceCheck(Detector.from_card(o.card), chosen, margin, o.scan_margins)
        if o.validate else None
    )
    counts = _Counts()
    tally = _WarningTally()
    with ExitStack() as stack:
        stack.enter_context(limited_threads(o.threads))
        hepmc_tmp = stack.enter_context(_atomic(output_path))
        summary_tmp = None if summary_path is None else stack.enter_context(_atomic(summary_path))
        writer = stack.enter_context(HepMCWriter(
            hepmc_tmp, run_attributes=_run_attributes(o, chosen, margin),
            tool=("mlsmear filter", __version__, "generation-stage filter, learnt detector"),
            base=None if o.hepmc is None else read_run_info(o.hepmc),
        ))
        bar = stack.enter_context(
            tqdm(total=total, unit="ev", desc="filter", disable=not o.progress)
        )
        for batch in batches:
            with clock("truth"):
                hadrons = flavour_hadrons(batch.record)
                truth = truth_arrays(truth_objects(batch.record, hadrons))
            with clock("nn"), tally.collect():
                reco, keep, kept_reco = learnt.decide(truth, batch.identity, batch.sample_id)
            if check is not None:
                with clock("reference"):
                    passed = check.reference_pass(batch.record, hadrons, batch.detector_rng)
                check.add(passed, reco, keep)
            with clock("writing"):
                _write(writer, batch, np.flatnonzero(keep), kept_reco)
            counts.add(keep)
            bar.update(keep.size)
        if counts.generated == 0:  # only a file can be empty
            raise ValueError(
                f"no events could be read from {str(o.hepmc)!r}: it is empty, or not in a format "
                "pyhepmc.open reads (HepMC3, HepMC2, HEPEVT, LHEF)"
            )
        result = _summary(o, source, chosen, margin, counts, clock, check)
        if summary_tmp is not None:
            summary_tmp.write_text(json.dumps(result, indent=2) + "\n")
    tally.emit(counts.batches)
    return result


def _run_attributes(o: FilterOptions, chosen: Selection, margin: float) -> dict[str, Any]:
    """The HepMC run attributes of a filter run."""
    return {
        f"{ATTRIBUTE_PREFIX}selection": chosen.description,
        f"{ATTRIBUTE_PREFIX}margin": margin,
        f"{ATTRIBUTE_PREFIX}seed": o.seed,
        f"{ATTRIBUTE_PREFIX}model": o.model_name,
        f"{ATTRIBUTE_PREFIX}event_identity": (
            "(seed << 32) + event number" if o.process is not None else "event number"
        ),
    }


def _write(
    writer: HepMCWriter, batch: Batch, kept: np.ndarray, kept_reco: Mapping[str, ak.Array]
) -> None:
    """The kept events of a batch, with their predicted reco as event attributes."""
    for event, attributes in zip(kept, _attributes(kept_reco), strict=True):
        written = (batch.events[event] if batch.events is not None
                   else record_to_event(batch.record, event, int(batch.numbers[event])))
        writer.write(written, attributes)


class _Counts:
    """Events generated and kept, and batches, so far."""

    def __init__(self) -> None:
        self.generated = self.kept = self.batches = 0

    def add(self, keep: np.ndarray) -> None:
        self.generated += keep.size
        self.kept += int(np.count_nonzero(keep))
        self.batches += 1


def _summary(
    o: FilterOptions, source: Mapping[str, Any], chosen: Selection, margin: float,
    counts: _Counts, clock: Clock, check: ReferenceCheck | None,
) -> dict[str, Any]:
    """The summary of the module docstring."""
    seconds = {stage: round(value, 6) for stage, value in clock.seconds.items()}
    return {
        **source,
        "selection": chosen.description,
        "margin": margin,
        "seed": o.seed,
        "model": o.model_name,
        "generated": counts.generated,
        "kept": counts.kept,
        "keep_fraction": counts.kept / counts.generated,
        "seconds": seconds,
        "nn_overhead_fraction": seconds["nn"] / seconds["generator"],
        **({} if check is None else check.summary(counts.generated)),
    }


class _Learnt:
    """The learnt detector and the selection, applied to the truth of a batch."""

    def __init__(
        self, bundle: Bundle, selection: Selection, margin: float, seed: int, device: str
    ) -> None:
        self.bundle, self.selection, self.margin = bundle, selection, margin
        self.seed, self.device = seed, device
        self.kinds = [KIND_OF[name] for name in sorted(selection.collections)]
        # Fail before any event is generated when the selection does not fit the collections.
        empty = self._predict(empty_truth(bundle, list(bundle)), self.kinds,
                              np.zeros(0, dtype=np.int64))
        selection(empty, 0)

    def decide(
        self, truth: Mapping[str, ak.Array], identity: np.ndarray, sample_id: str | None = None
    ) -> tuple[dict[str, ak.Array], np.ndarray, dict[str, ak.Array]]:
        """(predicted reco of the kinds the selection reads, keep decision per event, every
        predicted reco collection of the kept events); events keyed by ``identity`` with
        ``sample_id`` folded in."""
        reco = self._predict(truth, self.kinds, identity, sample_id)
        keep = self.selection(scale_momenta(reco, self.margin), len(identity))
        kept = np.flatnonzero(keep)
        rest = [kind for kind in self.bundle if NAME_OF[kind] not in reco]
        kept_reco = {name: collection[kept] for name, collection in reco.items()}
        kept_reco.update(
            self._predict(
                {kind: truth[kind][kept] for kind in truth}, rest, identity[kept], sample_id
            )
        )
        return reco, keep, kept_reco

    def _predict(
        self,
        truth: Mapping[str, ak.Array],
        kinds: Sequence[str],
        identity: np.ndarray,
        sample_id: str | None = None,
    ) -> dict[str, ak.Array]:
        return predict(
            truth, kinds, identity=identity, bundle=self.bundle, seed=self.seed,
            device=self.device, sample_id=sample_id,
        )
