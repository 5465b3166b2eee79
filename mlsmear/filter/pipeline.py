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
import numba
import numpy as np
import torch
from tqdm import tqdm

from .. import __version__
from ..generate.pythia import PROCESSES, import_pythia
from ..generate.runner import BATCH_SIZE, JOB_SIZE
from ..generate.truth import flavour_hadrons, truth_objects
from ..model import Bundle
from ..refdet.jets import import_fastjet
from ..refdet.pipeline import Detector
from ..registry import load
from ..smear import OutOfRangeWarning
from .clock import Clock
from .hepmc import HepMCWriter, import_pyhepmc, read_run_info, record_to_event
from .margin import check_margin, scale_momenta
from .reco import KIND_OF, NAME_OF, empty_truth, predict, truth_arrays
from .reference import ReferenceCheck
from .selection import Selection
from .sources import Batch, hepmc_batches, pythia_batches

__all__ = ["ATTRIBUTE_PREFIX", "run_filter"]

#: Prefix of the HepMC attributes the filter writes.
ATTRIBUTE_PREFIX = "mlsmear_"
_STAGES = ("generator", "truth", "nn", "writing")
_MAX_EVENTS = 2**31 - 1  # HepMC event numbers are 32-bit


@contextmanager
def _atomic(path: Path | None) -> Iterator[Path | None]:
    """A temporary path next to ``path``, renamed to ``path`` on success and removed on failure."""
    if path is None:
        yield None
        return
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Limit torch and numba to ``n`` threads (restored afterwards)."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def _output_path(path: str | os.PathLike[str] | None, what: str, overwrite: bool) -> Path | None:
    if path is None:
        return None
    path = Path(path)
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
    path = Path(hepmc)
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
    """Collects :class:`OutOfRangeWarning` of all batches and re-emits one per message kind."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.batches: dict[str, int] = {}

    @contextmanager
    def collect(self) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutOfRangeWarning)
            yield
        for item in caught:
            if not issubclass(item.category, OutOfRangeWarning):
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
                continue
            text = str(item.message)
            what = text.split(" ", 3)[-1]  # without the leading "<n> of <m> "
            self.first.setdefault(what, text)
            self.batches[what] = self.batches.get(what, 0) + 1

    def emit(self, n_batches: int) -> None:
        for what, message in self.first.items():
            warnings.warn(
                f"in {self.batches[what]} of {n_batches} batches; the first: {message}",
                OutOfRangeWarning,
                stacklevel=3,
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
    chosen = Selection.from_callable(selection) if callable(selection) else (
        Selection.parse(selection)
    )
    margin = check_margin(margin)
    if scan_margins and not validate:
        raise ValueError("a margin scan (scan_margins, --scan-margins) needs validate=True")
    output_path = _output_path(output, "output file", overwrite)
    summary_path = _output_path(summary, "summary file", overwrite)
    clock = Clock((*_STAGES, "reference") if validate else _STAGES)
    batches, total, source = _batches(process, hepmc, n_events, seed, batch_size, job_size, clock)
    import_fastjet()
    import_pyhepmc()
    learnt = _Learnt(_bundle(model, chosen.collections), chosen, margin, seed, device)
    check = (
        ReferenceCheck(Detector.from_card(card), chosen, margin, scan_margins) if validate else None
    )
    run_attributes = {
        f"{ATTRIBUTE_PREFIX}selection": chosen.description,
        f"{ATTRIBUTE_PREFIX}margin": margin,
        f"{ATTRIBUTE_PREFIX}seed": seed,
        f"{ATTRIBUTE_PREFIX}model": _model_name(model),
        f"{ATTRIBUTE_PREFIX}event_identity": (
            "(seed << 32) + event number" if process is not None else "event number"
        ),
    }
    generated = n_kept = n_batches = 0
    tally = _WarningTally()
    with ExitStack() as stack:
        stack.enter_context(_threads(threads))
        hepmc_tmp = stack.enter_context(_atomic(output_path))
        summary_tmp = stack.enter_context(_atomic(summary_path))
        writer = stack.enter_context(HepMCWriter(
            hepmc_tmp, run_attributes=run_attributes,
            tool=("mlsmear filter", __version__, "generation-stage filter, learnt detector"),
            base=None if hepmc is None else read_run_info(hepmc),
        ))
        bar = stack.enter_context(tqdm(total=total, unit="ev", desc="filter", disable=not progress))
        for batch in batches:
            with clock("truth"):
                hadrons = flavour_hadrons(batch.record)
                truth = truth_arrays(truth_objects(batch.record, hadrons))
            with clock("nn"), tally.collect():
                reco, keep, kept_reco = learnt.decide(truth, batch.identity)
            if check is not None:
                with clock("reference"):
                    passed = check.reference_pass(batch.record, hadrons, batch.detector_rng)
                check.add(passed, reco, keep)
            kept = np.flatnonzero(keep)
            with clock("writing"):
                for event, attributes in zip(kept, _attributes(kept_reco), strict=True):
                    written = (batch.events[event] if batch.events is not None
                               else record_to_event(batch.record, event, int(batch.numbers[event])))
                    writer.write(written, attributes)
            generated += keep.size
            n_kept += kept.size
            n_batches += 1
            bar.update(keep.size)
        if generated == 0:  # only a file can be empty
            raise ValueError(
                f"no events could be read from {str(hepmc)!r}: it is empty, or not in a format "
                "pyhepmc.open reads (HepMC3, HepMC2, HEPEVT, LHEF)"
            )
        seconds = {stage: round(value, 6) for stage, value in clock.seconds.items()}
        result = {
            **source,
            "selection": chosen.description,
            "margin": margin,
            "seed": seed,
            "model": _model_name(model),
            "generated": generated,
            "kept": n_kept,
            "keep_fraction": n_kept / generated,
            "seconds": seconds,
            "nn_overhead_fraction": seconds["nn"] / seconds["generator"],
            **({} if check is None else check.summary(generated)),
        }
        if summary_tmp is not None:
            summary_tmp.write_text(json.dumps(result, indent=2) + "\n")
    tally.emit(n_batches)
    return result


def _model_name(model: str | os.PathLike[str] | Bundle) -> str:
    return model.name if isinstance(model, Bundle) else str(model)


class _Learnt:
    """The learnt detector and the selection, applied to the truth of a batch."""

    def __init__(
        self, bundle: Bundle, selection: Selection, margin: float, seed: int, device: str
    ) -> None:
        self.bundle, self.selection, self.margin = bundle, selection, margin
        self.options = {"bundle": bundle, "seed": seed, "device": device}
        self.kinds = [KIND_OF[name] for name in sorted(selection.collections)]
        # Fail before any event is generated when the selection does not fit the collections.
        empty = predict(empty_truth(bundle, list(bundle)), self.kinds,
                        identity=np.zeros(0, dtype=np.int64), **self.options)
        selection(empty, 0)

    def decide(
        self, truth: Mapping[str, ak.Array], identity: np.ndarray
    ) -> tuple[dict[str, ak.Array], np.ndarray, dict[str, ak.Array]]:
        """(predicted reco of the kinds the selection reads, keep decision per event, every
        predicted reco collection of the kept events)."""
        reco = predict(truth, self.kinds, identity=identity, **self.options)
        keep = self.selection(scale_momenta(reco, self.margin), len(identity))
        kept = np.flatnonzero(keep)
        rest = [kind for kind in self.bundle if NAME_OF[kind] not in reco]
        kept_reco = {name: collection[kept] for name, collection in reco.items()}
        kept_reco.update(predict({kind: truth[kind][kept] for kind in truth}, rest,
                                 identity=identity[kept], **self.options))
        return reco, keep, kept_reco
