"""``smear()`` of coffea collections: eager, virtual and dask-awkward NanoEvents.

The work is planned on the whole collection (which columns to read, event identity, links) and
done per chunk by :func:`mlsmear.coffea.chunk.smear_chunk`: called directly on eager and virtual
events, mapped over the partitions of dask-awkward ones. The run/luminosityBlock/event columns
travel with the truth rows, so the numbers do not depend on how the events are partitioned.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak

from ..columnar import infer_kind
from ..context import context_fields, context_kinds, needed_kinds
from ..identity import event_identity, events_of, identity_columns, sample_key_for
from ..model import Bundle, KindModel
from ..options import SmearOptions
from ..registry import load
from .chunk import ChunkCall, ChunkSpec, EventsCall, EventsSpec, ModelRef
from .collections import OutputForm
from .schemas import Schema, schema_of
from .truth import content_positions, derivable, record_columns, truth_columns

__all__ = ["smear_collection", "smear_event_collections"]


def _dask_awkward() -> Any:
    return sys.modules.get("dask_awkward")


def _is_lazy(array: Any) -> bool:
    dak = _dask_awkward()
    return dak is not None and isinstance(array, dak.Array)


def _lazy_identity(events: Any, event_id: Any) -> tuple[Any, Any, Any]:
    if isinstance(event_id, tuple):
        if len(event_id) != 3:
            raise ValueError("event_id as a tuple must be (run, luminosityBlock, event)")
        return event_id
    if event_id is not None:
        return None, None, event_id
    columns = identity_columns(events) if events is not None else None
    if columns is None:
        raise ValueError(
            "these dask-awkward events carry no event identity (NanoAOD run/luminosityBlock/"
            "event or Delphes Event.Number): pass event_id=(run, lumi, event) or one integer "
            "per event, as dask-awkward arrays"
        )
    return columns


def _gen_jets(events: Any, model: KindModel, columns: Mapping[str, Any]) -> Any:
    """GenJet pT, η, φ per event when the model needs inputs computed from them that the truth
    lacks (MET's ht/njet; e/μ/γ jet_iso, nb_jet_dr, nb_jet_ratio), else None."""
    needed = [n for n in derivable(model) if n not in columns]
    if not needed:
        return None
    if events is None or "GenJet" not in events.fields:
        raise ValueError(
            f"the {model.kind} model needs {needed}, computed from the events' GenJets: give a "
            "truth record with them, or smear events that have a GenJet collection"
        )
    return {n: events.GenJet[n] for n in ("pt", "eta", "phi")}


def _generator_record(
    events: Any, schema: str, model: KindModel, columns: Mapping[str, Any]
) -> Any:
    """The generator-record columns when the model needs inputs computed from them (jets: prompt
    content, Delphes hadronFlavour; e/μ/γ: em_iso, muon_iso) that the truth lacks, else None."""
    needed = [n for n in derivable(model, schema) if n not in derivable(model) and n not in columns]
    if not needed:
        return None
    source = "Particle" if schema == "delphes" else "GenPart"
    if source not in events.fields:
        raise ValueError(
            f"the {model.kind} model needs {needed}, computed from the events' {source} "
            "collection, and these events have none"
        )
    return record_columns(events, schema)


def smear_collection(
    collection: Any, model: str | Path | Bundle | KindModel, options: SmearOptions
) -> Any:
    """Reconstructed objects of a coffea truth collection, as a collection of its schema.

    ``mlsmear.smear`` calls this for coffea inputs with its checked options; see
    :func:`mlsmear.smear` for the arguments. NanoAOD: ``events.GenJet`` → ``Jet``;
    ``events.GenPart`` with ``kind="electron"`` (``muon``, ``photon``) → prompt status-1 objects →
    ``Electron``; ``events.GenMET`` → ``MET`` (``ht``, ``njet`` from ``events.GenJet``). Delphes:
    ``GenJet`` → ``Jet``, ``Particle`` → ``Electron``, ``Muon``, ``Photon``; ``GenMissingET`` →
    ``MissingET``. Other coffea schemas: the engine's plain records. Dask-awkward input gives a
    dask-awkward output (nothing is computed). The model is resolved once here (and once per
    chunk where the chunks run).

    Raises:
        ValueError: missing truth fields, unknown kind, ``extra=`` given, events without identity
            (dask only: eager events fall back to the entry number).
    """
    if options.extra:
        raise ValueError(
            "extra= is for plain arrays; add the input to the coffea collection as a field "
            "(ak.with_field) and it is read from there"
        )
    call, args, meta, lazy = _plan(collection, ModelRef(model), options.kind, options)
    lib = _dask_awkward() if lazy else ak
    out = call(*(_typetracer(a) if _is_lazy(a) else a for a in args))  # the result, or its type
    if call.spec.form.schema is not None:  # coffea's attrs lead .matched_gen to the events
        out = ak.Array(out, behavior=out.behavior, attrs=meta.attrs)
    label = f"mlsmear-{call.spec.kind}"
    return lib.map_partitions(call, *args, meta=out, label=label) if lazy else out


def smear_event_collections(
    events: Any, model: str | Path | Bundle, outputs: Sequence[tuple[str, str]],
    options: SmearOptions,
) -> dict[str, Any]:
    """The collections ``outputs`` (``(name, kind)``) of NanoAOD or Delphes events, every kind
    smeared once per chunk (:func:`~mlsmear.coffea.chunk.smear_events_chunk`): the kinds asked
    for and those they follow or that join them, in :data:`~mlsmear.context.SMEAR_ORDER`.
    Lazy (dask-awkward) if the events are."""
    ref, bundle = ModelRef(model), load(model)
    if not isinstance(bundle, Bundle):
        raise TypeError("smearing whole events needs a bundle (a directory or a name)")
    meta = _typetracer(events) if _is_lazy(events) else events
    schema = schema_of(meta)
    if schema is None:
        raise ValueError("smearing whole events needs NanoAOD or Delphes events")
    specs: list[ChunkSpec] = []
    args: list[Any] = []
    lazy = False
    for kind in needed_kinds(bundle, [kind for _, kind in outputs]):
        source = schema.target(bundle[kind].spec.truth_kind).source
        call, kind_args, meta, lazy = _plan(events[source], ref, kind, options, join=False,
                                            follow=False)
        specs.append(call.spec)
        args += kind_args
    events_call = EventsCall(EventsSpec(tuple(specs), tuple(outputs)))
    out = events_call(*(_typetracer(a) if _is_lazy(a) else a for a in args))
    out = ak.Array(out, behavior=out.behavior, attrs=meta.attrs)  # .matched_gen: the events
    if lazy:
        out = _dask_awkward().map_partitions(events_call, *args, meta=out, label="mlsmear-events")
    return {name: out[name] for name, _ in outputs}


def _typetracer(array: Any) -> ak.Array:
    """The typetracer (data-less) awkward array of a dask-awkward array, from its public layout,
    behavior and attrs."""
    return ak.Array(array.layout, behavior=array.behavior, attrs=array.attrs)


def _plan(
    collection: Any, ref: ModelRef, kind: str | None, options: SmearOptions, *,
    join: bool = True, follow: bool = True,
) -> tuple[ChunkCall, tuple[Any, ...], Any, bool]:
    """The chunk function and its arguments for a collection (see :func:`smear_collection`);
    with ``follow``, for a model with object context also the chunks of the kinds it follows
    (MET: jets and muons; jets: electrons, muons, photons; photons from electrons: electrons),
    recursively, and with ``join`` those whose objects join the output (photons: those of lost
    electrons; not for the objects a model follows, which it reads as their own model made
    them). Without ``follow`` the chunk expects those from elsewhere (one pass over whole events,
    :func:`smear_event_collections`)."""
    lazy = _is_lazy(collection)
    meta = _typetracer(collection) if lazy else collection
    events = events_of(meta.attrs)
    if lazy and not _is_lazy(events):  # e.g. dask_awkward.from_awkward of an eager collection
        events = None
    schema = schema_of(events) if events is not None else None
    source = meta.layout.purelist_parameters("collection_name")
    kind = kind or infer_kind(meta)
    kind_model = ref.kind_model(kind)
    columns, selection = truth_columns(
        collection, source=source, kind=kind_model.spec.truth_kind, model=kind_model,
        schema=schema,
    )
    link = schema.links.get(source) if schema is not None else None
    lib = _dask_awkward() if lazy else ak
    source_counts = None
    if link is not None:
        positions = (
            lib.map_partitions(content_positions, collection, label="mlsmear-positions")
            if lazy else content_positions(collection)
        )
        columns["position"] = positions
        source_counts = lib.num(events[source], axis=1)
    gen_jets = _gen_jets(events, kind_model, columns) if kind != "jet" else None
    record = (
        _generator_record(events, schema.name, kind_model, columns)
        if kind != "met" and schema is not None else None
    )
    event_id = options.event_id
    identity = (
        _lazy_identity(events, event_id) if lazy else event_identity(collection, event_id)
    )
    sample = sample_key_for(meta, event_id, options.sample_id, lazy=lazy)
    output_kind = kind_model.spec.joins or kind
    form = OutputForm(schema.name, schema.target(output_kind), link) if schema else OutputForm()
    objects, object_args = [], []
    followed, fields = context_kinds(kind_model), context_fields(kind_model)
    if follow and followed and not (fields and set(fields) <= set(columns)):
        if events is None or schema is None:
            raise ValueError(
                f"this {kind} model follows the sampled {list(followed)}: smear NanoAOD or "
                "Delphes events (mlsmear.smear_events, or smear(events.<collection>)), or give "
                f"plain records with {list(context_fields(kind_model))} "
                "(mlsmear.whole_event.smear_event)"
            )
        for sub_kind in followed:
            sub_call, sub_args = _sub_plan(events, schema, ref, sub_kind, options)
            objects.append(sub_call.spec)
            object_args += sub_args
    joined, joined_args = [], []
    for sub_kind in ref.joining(kind) if join else ():
        if schema is None:  # plain coffea schemas: the photon model's objects alone
            break
        sub_call, sub_args = _sub_plan(events, schema, ref, sub_kind, options)
        joined.append(sub_call.spec)
        joined_args += sub_args
    call = ChunkCall(ChunkSpec(
        ref, kind, options.seed, str(options.device), options.batch_size, selection, form,
        schema.name if record is not None and schema is not None else None, sample,
        options.precision, tuple(objects), tuple(joined),
    ))
    gen_jets, record = (lib.zip(c) if c is not None else None for c in (gen_jets, record))
    args = (lib.zip(columns), source_counts, *identity, gen_jets, record, *object_args,
            *joined_args)
    return call, args, meta, lazy


def _sub_plan(
    events: Any, schema: Schema, ref: ModelRef, kind: str, options: SmearOptions
) -> tuple[ChunkCall, list[Any]]:
    """The chunk of a kind another chunk follows or joins, from the events' truth collection of
    its truth kind, and the arrays it passes on: rows, gen_jets, record, then the arrays of the
    kinds it follows in turn."""
    source = schema.target(ref.kind_model(kind).spec.truth_kind).source
    call, args, _, _ = _plan(events[source], ref, kind, options, join=False)
    return call, [args[0], args[5], args[6], *args[7:]]
