"""The per-chunk function: one eager chunk of truth rows in, one reco collection out.

It is the only place where smearing happens for coffea inputs: called directly on eager and
virtual NanoEvents, and mapped over dask-awkward partitions (:class:`ChunkCall`), so every path
runs the same code on the same rows and gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..columnar import resolve_model, smear_columnar
from ..context import joining_kinds, smeared_context
from ..electron_photons import KIND as PHOTON_FROM_ELECTRON
from ..electron_photons import from_lost, joined, linked
from ..identity import fold_sample
from ..model import Bundle, KindModel
from ..options import SmearOptions
from ..registry import load
from .collections import OutputForm
from .truth import Selection, derived_inputs

__all__ = ["ModelRef", "ChunkSpec", "ChunkCall", "smear_chunk"]


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
            the e/μ/γ models' ``jet_iso``.
        record: the generator record (:func:`mlsmear.coffea.truth.record_columns`), for the jet
            model's prompt content and Delphes ``hadronFlavour``, the e/μ/γ models' ``em_iso``
            and ``muon_iso``.
        object_arrays: per spec of ``spec.objects``, then of ``spec.joined``, its ``rows``,
            ``gen_jets`` and ``record`` (same events, same identity), each followed by those of
            the kinds it follows.
    """
    if spec.sample:
        run = fold_sample(np.zeros(len(rows), np.int64) if run is None else ak.to_numpy(run),
                          spec.sample)
    arrays = iter(object_arrays)
    truth, smeared = _smeared(spec, rows, run, lumi, event, gen_jets, record, arrays)
    for sub in spec.joined:
        sub_rows, sub_jets, sub_record = (next(arrays) for _ in range(3))
        sub_truth, sub_smeared = _smeared(sub, sub_rows, run, lumi, event, sub_jets, sub_record,
                                          arrays)
        smeared = joined(smeared, sub_smeared)
        if "position" in ak.fields(truth):  # links: into the photons, then the electrons
            truth, smeared = linked(smeared, truth, sub_truth)
    return spec.form.build(smeared, truth, source_counts)


def _smeared(
    spec: ChunkSpec, rows: ak.Array, run: Any, lumi: Any, event: Any,
    gen_jets: ak.Array | None, record: ak.Array | None, object_arrays: Iterator[Any],
) -> tuple[ak.Array, ak.Array]:
    """The chunk's truth objects (with the inputs derived for them as fields) and the engine's
    plain output for them (run already holds the sample key). The kinds ``spec`` follows are
    smeared first, from ``object_arrays`` (depth first: rows, gen_jets, record, then theirs)."""
    truths, recos = {}, {}
    for sub in spec.objects:
        sub_rows, sub_jets, sub_record = (next(object_arrays) for _ in range(3))
        truths[sub.kind], recos[sub.kind] = _smeared(
            sub, sub_rows, run, lumi, event, sub_jets, sub_record, object_arrays
        )
    truth = spec.selection.apply(rows)
    model = spec.model.kind_model(spec.kind)
    derived = derived_inputs(model, truth, gen_jets, record, spec.record_schema)
    if spec.objects:
        derived.update(smeared_context(spec.kind, {**truths, spec.kind: truth}, recos))
    options = SmearOptions(
        seed=spec.seed, event_id=(run, lumi, event), device=spec.device,
        batch_size=spec.batch_size, extra=derived, precision=spec.precision,
    )
    smeared = smear_columnar(truth, model, options)
    if spec.kind == PHOTON_FROM_ELECTRON:
        smeared = from_lost(smeared, recos["electron"])
    for name, values in derived.items():
        truth = ak.with_field(truth, values, name)
    return truth, smeared


class ChunkCall:
    """:func:`smear_chunk` as a picklable callable for ``dask_awkward.map_partitions``.

    On typetracers (dask-awkward's metadata and column-optimisation passes) it touches its inputs,
    so that exactly those columns are read, and returns the type of an empty chunk's output.
    """

    def __init__(self, spec: ChunkSpec) -> None:
        self.spec = spec

    def __call__(self, *arrays: ak.Array | None) -> ak.Array:
        if ak.backend(arrays[0]) != "typetracer":
            return smear_chunk(self.spec, *arrays)
        empty = []
        for array in arrays:
            if array is not None:
                ak.typetracer.touch_data(array)
                array = ak.Array(array.layout.form.length_zero_array(), behavior=array.behavior)
            empty.append(array)
        out = smear_chunk(self.spec, *empty)
        return ak.Array(out.layout.to_typetracer(forget_length=True), behavior=out.behavior)
