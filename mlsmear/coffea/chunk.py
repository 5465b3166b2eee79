"""The per-chunk functions: one eager chunk of truth rows in, reco collections out.

:func:`smear_chunk` makes one collection (``smear(events.GenJet)``), smearing first the kinds its
model follows; :func:`smear_events_chunk` makes every collection of ``smear_events`` in one pass,
each kind smeared once. They are the only places where smearing happens for coffea inputs: called
directly on eager and virtual NanoEvents, and mapped over dask-awkward partitions
(:class:`ChunkCall`, :class:`EventsCall`), so every path runs the same code on the same rows and
gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..columnar import resolve_model, smear_columnar
from ..context import context_kinds, followed_outcome, joining_kinds, smeared_context
from ..electron_photons import joined, linked
from ..identity import fold_sample
from ..model import Bundle, KindModel
from ..options import SmearOptions
from ..registry import load
from .collections import OutputForm
from .truth import Selection, derived_inputs

__all__ = [
    "EVENTS_ARITY", "ChunkCall", "ChunkSpec", "EventsCall", "EventsSpec", "ModelRef",
    "smear_chunk", "smear_events_chunk",
]


class ModelRef:
    """A model by name or path, loaded on first use in each process (:func:`mlsmear.load` caches).

    It pickles as its name, so workers load the model themselves; a reference to an already
    loaded model works in-process but refuses to pickle.

    Arguments:
        model: ``"default"``, a shipped bundle name, a path, or a loaded model.
    """

    def __init__(self, model: str | Path | Bundle | KindModel = "default") -> None:
        self.model = str(model) if isinstance(model, Path) else model

    def kind_model(self, kind: str) -> KindModel:
        """The model of ``kind``."""
        return resolve_model(load(self.model), kind)

    def joining(self, kind: str) -> tuple[str, ...]:
        """The kinds whose objects join the ``kind`` collection
        (:func:`~mlsmear.context.joining_kinds`; none for a single model)."""
        bundle = load(self.model)
        return joining_kinds(bundle, kind) if isinstance(bundle, Bundle) else ()

    def __getstate__(self) -> dict[str, Any]:
        if isinstance(self.model, Bundle | KindModel):
            raise TypeError(
                "a loaded mlsmear model cannot be sent to other processes: pass the model by "
                "name or path (model='default' or a bundle directory); each worker loads it once"
            )
        return {"model": self.model}

    def __repr__(self) -> str:
        return f"ModelRef({self.model!r})"


@dataclass(frozen=True)
class ChunkSpec:
    """Everything :func:`smear_chunk` needs besides the arrays (small and picklable).

    Arguments:
        model: the model; kind: the object kind; seed: the user seed.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``; batch_size: rows per network evaluation.
        selection: how truth objects are chosen among the rows; form: the output layout.
        record_schema: ``nanoaod`` or ``delphes``, how to read the generator record passed to
            :func:`smear_chunk` (None: no record).
        sample: the sample key folded into the run of every event (see :mod:`mlsmear.identity`;
            0: none); precision: evaluation precision (None: the model card's).
        objects: for a model with object context (:mod:`mlsmear.context`), the specs of the
            chunks whose sampled objects it follows (MET: jets and muons; jets: e, μ, γ; photons
            from electrons: the electrons; their arrays are passed to :func:`smear_chunk` after
            the model's own, depth first).
        joined: the specs of the chunks whose objects join the output (photons: those of lost
            electrons, :mod:`mlsmear.electron_photons`); their arrays follow those of
            ``objects``, the same way.
    """

    model: ModelRef
    kind: str
    seed: int
    device: str
    batch_size: int
    selection: Selection
    form: OutputForm
    record_schema: str | None = None
    sample: int = 0
    precision: str | None = None
    objects: tuple[ChunkSpec, ...] = ()
    joined: tuple[ChunkSpec, ...] = ()


def smear_chunk(
    spec: ChunkSpec,
    rows: ak.Array,
    source_counts: ak.Array | None,
    run: Any,
    lumi: Any,
    event: Any,
    gen_jets: ak.Array | None,
    record: ak.Array | None = None,
    *object_arrays: ak.Array | None,
) -> ak.Array:
    """Smear one eager chunk.

    Arguments:
        spec: what to do; rows: the truth rows (engine field names, see
            :func:`mlsmear.coffea.truth.truth_columns`).
        source_counts: objects per event of the unsliced truth collection (NanoAOD links only).
        run, lumi, event: per-event identity (``None`` reads as 0).
        gen_jets: GenJet pt (GeV), eta, phi per event, for the MET model's ``ht``/``njet`` and
            the e/μ/γ models' ``jet_iso``, ``nb_jet_dr`` and ``nb_jet_ratio``.
        record: the generator record (:func:`mlsmear.coffea.truth.record_columns`), for the jet
            model's prompt content and Delphes ``hadronFlavour``, the e/μ/γ models' ``em_iso``
            and ``muon_iso``.
        object_arrays: per spec of ``spec.objects``, then of ``spec.joined``, its ``rows``,
            ``gen_jets`` and ``record`` (same events, same identity), each followed by those of
            the kinds it follows.
    """
    run = _folded(run, rows, spec.sample)
    arrays = iter(object_arrays)
    followed = _followed(spec, run, lumi, event, arrays)
    truth, smeared = _smeared(spec, rows, run, lumi, event, gen_jets, record, followed)
    for sub in spec.joined:
        sub_rows, sub_jets, sub_record = (next(arrays) for _ in range(3))
        sub_followed = _followed(sub, run, lumi, event, arrays)
        sub_done = _smeared(sub, sub_rows, run, lumi, event, sub_jets, sub_record, sub_followed)
        truth, smeared = _joined(truth, smeared, *sub_done)
    return spec.form.build(smeared, truth, source_counts)


@dataclass(frozen=True)
class EventsSpec:
    """Everything :func:`smear_events_chunk` needs besides the arrays (small and picklable).

    Arguments:
        kinds: one :class:`ChunkSpec` per kind smeared, in
            :data:`~mlsmear.context.SMEAR_ORDER`, without ``objects`` or ``joined``: each kind
            is smeared once and read by the kinds that follow it.
        outputs: ``(collection name, kind)`` of each collection returned.
    """

    kinds: tuple[ChunkSpec, ...]
    outputs: tuple[tuple[str, str], ...]


#: Arrays per kind passed to :func:`smear_events_chunk`.
EVENTS_ARITY = 7


def smear_events_chunk(spec: EventsSpec, *arrays: ak.Array | None) -> ak.Array:
    """Smear every kind of one eager chunk once, in order, each kind reading the sampled objects
    of the kinds it follows; the collections of ``spec.outputs`` as the fields of one record
    per event.

    Arguments:
        arrays: per spec of ``spec.kinds``, the arguments of :func:`smear_chunk` up to
            ``record`` (:data:`EVENTS_ARITY` of them: rows, source_counts, run, lumi, event,
            gen_jets, record).
    """
    done: dict[str, tuple[ak.Array, ak.Array]] = {}
    counts: dict[str, ak.Array | None] = {}
    for k, sub in enumerate(spec.kinds):
        rows, source_counts, run, lumi, event, gen_jets, record = (
            arrays[EVENTS_ARITY * k:EVENTS_ARITY * (k + 1)]
        )
        run = _folded(run, rows, sub.sample)
        followed = {kind: done[kind] for kind in context_kinds(sub.model.kind_model(sub.kind))}
        done[sub.kind] = _smeared(sub, rows, run, lumi, event, gen_jets, record, followed)
        counts[sub.kind] = source_counts
    specs = {sub.kind: sub for sub in spec.kinds}
    out = {}
    for name, kind in spec.outputs:
        truth, smeared = done[kind]
        for joiner in joining_kinds(done, kind):
            truth, smeared = _joined(truth, smeared, *done[joiner])
        out[name] = specs[kind].form.build(smeared, truth, counts[kind])
    return ak.zip(out, depth_limit=1)


def _folded(run: Any, rows: ak.Array, sample: int) -> Any:
    """``run`` with the sample key folded in (:func:`~mlsmear.identity.fold_sample`)."""
    if not sample:
        return run
    return fold_sample(np.zeros(len(rows), np.int64) if run is None else ak.to_numpy(run), sample)


def _joined(
    truth: ak.Array, smeared: ak.Array, sub_truth: ak.Array, sub_smeared: ak.Array
) -> tuple[ak.Array, ak.Array]:
    """One output of the photons and those of lost electrons
    (:func:`~mlsmear.electron_photons.joined`; with links, their truth positions too)."""
    smeared = joined(smeared, sub_smeared)
    if "position" in ak.fields(truth):  # links: into the photons, then the electrons
        truth, smeared = linked(smeared, truth, sub_truth)
    return truth, smeared


def _followed(
    spec: ChunkSpec, run: Any, lumi: Any, event: Any, object_arrays: Iterator[Any]
) -> dict[str, tuple[ak.Array, ak.Array]]:
    """The kinds ``spec`` follows, smeared from ``object_arrays`` (depth first: rows, gen_jets,
    record, then those of the kinds they follow): kind → (truth, engine output)."""
    done = {}
    for sub in spec.objects:
        sub_rows, sub_jets, sub_record = (next(object_arrays) for _ in range(3))
        followed = _followed(sub, run, lumi, event, object_arrays)
        done[sub.kind] = _smeared(sub, sub_rows, run, lumi, event, sub_jets, sub_record, followed)
    return done


def _smeared(
    spec: ChunkSpec, rows: ak.Array, run: Any, lumi: Any, event: Any,
    gen_jets: ak.Array | None, record: ak.Array | None,
    followed: Mapping[str, tuple[ak.Array, ak.Array]],
) -> tuple[ak.Array, ak.Array]:
    """The chunk's truth objects (with the inputs derived for them as fields) and the engine's
    plain output for them (run already holds the sample key); ``followed``: the (truth, output)
    of the kinds the model follows, already smeared."""
    truth = spec.selection.apply(rows)
    model = spec.model.kind_model(spec.kind)
    derived = derived_inputs(model, truth, gen_jets, record, spec.record_schema)
    recos = {kind: r for kind, (_, r) in followed.items()}
    if followed:
        truths = {kind: t for kind, (t, _) in followed.items()}
        derived.update(smeared_context(spec.kind, {**truths, spec.kind: truth}, recos))
    options = SmearOptions(
        seed=spec.seed, event_id=(run, lumi, event), device=spec.device,
        batch_size=spec.batch_size, extra=derived, precision=spec.precision,
    )
    smeared = smear_columnar(truth, model, options)
    smeared = followed_outcome(spec.kind, smeared, recos)
    for name, values in derived.items():
        truth = ak.with_field(truth, values, name)
    return truth, smeared


class _PartitionCall:
    """A chunk function as a picklable callable for ``dask_awkward.map_partitions``.

    On typetracers (dask-awkward's metadata and column-optimisation passes) it touches its inputs,
    so that exactly those columns are read, and returns the type of an empty chunk's output.
    """

    def _run(self, *arrays: ak.Array | None) -> ak.Array:
        raise NotImplementedError

    def __call__(self, *arrays: ak.Array | None) -> ak.Array:
        if ak.backend(arrays[0]) != "typetracer":
            return self._run(*arrays)
        empty = []
        for array in arrays:
            if array is not None:
                ak.typetracer.touch_data(array)
                array = ak.Array(array.layout.form.length_zero_array(), behavior=array.behavior)
            empty.append(array)
        out = self._run(*empty)
        return ak.Array(out.layout.to_typetracer(forget_length=True), behavior=out.behavior)


class ChunkCall(_PartitionCall):
    """:func:`smear_chunk` of a :class:`ChunkSpec` for ``map_partitions``."""

    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec

    def _run(self, *arrays: ak.Array | None) -> ak.Array:
        return smear_chunk(self.spec, *arrays)


class EventsCall(_PartitionCall):
    """:func:`smear_events_chunk` of an :class:`EventsSpec` for ``map_partitions``."""

    def __init__(self, spec: EventsSpec) -> None:
        self.spec = spec

    def _run(self, *arrays: ak.Array | None) -> ak.Array:
        return smear_events_chunk(self.spec, *arrays)
