"""Columnar smearing: flat awkward arrays of truth objects in, reco objects out (no coffea).

Data flow: flatten the truth collection → input features → batched network evaluation with
counter-based sampling (:mod:`mlsmear.engine`) → reco values from residuals → drop lost objects
and apply the model's thresholds → pT-order within each event → unflatten with vector behaviour.
:func:`smear_columnar` takes the kind's model, resolved once by the caller
(:func:`resolve_model`), and the checked :class:`~mlsmear.options.SmearOptions`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np
import vector

from .counter_random import event_keys, kind_keys
from .engine import sample_reco
from .identity import event_identity, fold_sample, sample_key_for
from .kinds import COFFEA_TRUTH, DERIVED_INPUTS, OBJECT_PDG, kind_spec
from .met_context import RECOIL_FIELDS, reference_truth, uses_objects
from .model import ENGINE_INPUTS, Bundle, KindModel, passes_thresholds
from .options import SmearOptions
from .ordering import pt_order
from .registry import load

__all__ = [
    "OutOfRangeWarning", "SLICE_OBJECTS", "as_truth_array", "infer_kind", "resolve_model",
    "smear_columnar",
]

_KIND_BY_PDG = {pdg: kind for kind, pdg in OBJECT_PDG.items()}
_KIND_BY_COLLECTION = {"GenJet": "jet", "GenMET": "met", "GenMissingET": "met"}


class OutOfRangeWarning(UserWarning):
    """Inputs outside a model's training range were clamped to the range edge.

    Arguments (also attributes):
        message: the text shown.
        kind: the model's object kind; field: the input; count: objects with ``field`` outside
            the range, of ``total`` objects smeared.
    """

    def __init__(self, message: str, kind: str, field: str, count: int, total: int) -> None:
        super().__init__(message, kind, field, count, total)  # all in args: it pickles
        self.message, self.kind, self.field = message, kind, field
        self.count, self.total = int(count), int(total)

    def __str__(self) -> str:
        return self.message


def infer_kind(truth: ak.Array) -> str:
    """Object kind from a coffea collection name or a uniform ``pdgId``; else ``ValueError``."""
    name = truth.layout.purelist_parameters("collection_name")
    if name in _KIND_BY_COLLECTION:
        return _KIND_BY_COLLECTION[name]
    if "pdgId" in ak.fields(truth) and ak.backend(truth) != "typetracer":
        ids = np.unique(np.abs(ak.to_numpy(ak.flatten(truth.pdgId, axis=None))))
        if ids.size == 1 and int(ids[0]) in _KIND_BY_PDG:
            return _KIND_BY_PDG[int(ids[0])]
    raise ValueError(
        "cannot tell which object kind this collection is (collection name "
        f"{name!r}); pass kind= one of jet, electron, muon, photon, met"
    )


def resolve_model(model: Any, kind: str | None, truth: ak.Array | None = None) -> KindModel:
    """The model of ``kind`` (inferred from ``truth`` if None) in a model, bundle, name or path."""
    loaded = load(model)
    if isinstance(loaded, KindModel):
        if kind is not None and kind != loaded.kind:
            raise ValueError(
                f"the model is a {loaded.kind!r} model but kind={kind!r} was requested"
            )
        return loaded
    kind = kind or infer_kind(truth)
    kind_spec(kind)
    if not isinstance(loaded, Bundle):  # pragma: no cover - load() returns one of the two
        raise TypeError(f"unexpected model object {type(loaded)}")
    return loaded[kind]


#: Objects per slice of the per-object pipeline in :func:`smear_columnar` (flatten → features →
#: network → reco → thresholds → ordering): its memory beyond the input and the output.
SLICE_OBJECTS = 1 << 17


def as_truth_array(truth: Any, per_event: bool | None = None) -> ak.Array:
    """``truth`` as an eager awkward array: Python lists and dicts converted; events masked to
    None (``ak.mask``) are events without objects; None objects raise ``ValueError``."""
    if isinstance(truth, list | tuple | dict):
        try:
            truth = ak.Array(truth)
        except Exception as err:  # awkward raises several types for unconvertible input
            raise TypeError(f"cannot read the truth input as an awkward array: {err}") from None
    if not isinstance(truth, ak.Array):
        raise TypeError(
            "truth must be an awkward array (events × objects of records pt, eta, phi, mass) "
            f"or a coffea collection, got {type(truth).__name__}"
        )
    if ak.backend(truth) == "typetracer" or len(truth) == 0:
        return truth
    layout = truth.layout
    if layout.is_option and truth.ndim == 2 and per_event is not True:
        truth = _events_without_objects(truth)
    elif layout.is_option:
        n_none = int(np.count_nonzero(ak.to_numpy(ak.is_none(truth, axis=0))))
        if n_none:
            raise ValueError(
                f"{n_none} of {len(truth)} events are None (masked): a per-event record (MET) "
                "must exist in every event; select the events instead of masking them"
            )
    item = getattr(truth.type.content, "content", None)
    if truth.ndim == 2 and per_event is not True and isinstance(item, ak.types.OptionType):
        n_none = int(ak.count_nonzero(ak.is_none(truth, axis=1), axis=None))
        if n_none:
            raise ValueError(
                f"the truth collection has {n_none} None (masked) object(s): drop them "
                "(ak.drop_none(truth, axis=1)) or select objects with a boolean mask; events "
                "masked to None are accepted as events without objects"
            )
    return truth


def _events_without_objects(truth: ak.Array) -> ak.Array:
    """A jagged array with events masked to None turned into events without objects, keeping
    the parameters (coffea collection name, behaviour) and attrs (the NanoEvents)."""
    layout = truth.layout.to_IndexedOptionArray64()
    index = np.asarray(layout.index)
    lists = layout.content.to_ListOffsetArray64(False)
    offsets = np.asarray(lists.offsets)
    valid = index >= 0
    rows = np.where(valid, index, 0)
    starts = offsets[:-1][rows] if offsets.size > 1 else np.zeros(index.size, np.int64)
    stops = np.where(valid, offsets[1:][rows] if offsets.size > 1 else starts, starts)
    content = ak.contents.ListArray(
        ak.index.Index64(starts.astype(np.int64)), ak.index.Index64(stops.astype(np.int64)),
        lists.content, parameters=lists.parameters,
    )
    return ak.Array(content, behavior=truth.behavior, attrs=truth.attrs)


def _counts(truth: ak.Array, per_event: bool) -> np.ndarray:
    depth = truth.ndim
    if depth != (1 if per_event else 2):
        shape = "one record per event" if per_event else "a jagged collection (events × objects)"
        raise ValueError(f"expected {shape}, got an array of dimension {depth}: {truth.type}")
    if per_event:
        return np.ones(len(truth), dtype=np.int64)
    return ak.to_numpy(ak.num(truth, axis=1)).astype(np.int64)


def _check_fields(
    truth: ak.Array, kind: str, fields: list[str], extra: Mapping[str, Any]
) -> None:
    available = set(ak.fields(truth)) | set(extra)
    missing = [f for f in fields if f not in available]
    if missing:
        derived = [f for f in missing if f in DERIVED_INPUTS]
        hint = (
            "; " + "; ".join(f"{f}: {DERIVED_INPUTS[f]}" for f in derived)
            + f" (defined in mlsmear.physics.truth, computed automatically for coffea "
            f"NanoEvents: smear {COFFEA_TRUTH[kind]})" if derived else ""
        )
        if set(RECOIL_FIELDS) & set(missing):
            hint += (
                f"; {list(RECOIL_FIELDS)} are the recoil D (GeV) of the event's sampled jets and "
                "muons (mlsmear.met_context): smear the events whole, with smear_events or "
                "smear(events.GenMET) on NanoEvents, or mlsmear.whole_event.smear_event"
            )
        raise ValueError(
            f"truth collection lacks field(s) {missing} needed by the model; it has "
            f"{sorted(available)} (pass missing per-object inputs with extra={{name: array}}"
            f"{hint})"
        )


def _event_slices(counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive event ranges of at most ``limit`` objects each (or one larger event)."""
    offsets = np.concatenate([[0], np.cumsum(counts)])
    slices, start, n = [], 0, counts.size
    while start < n:
        stop = int(np.searchsorted(offsets, offsets[start] + limit, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        slices.append((start, stop))
        start = stop
    return slices


def _columns(
    truth: ak.Array, fields: list[str], extra: Mapping[str, Any], per_event: bool,
    events: tuple[int, int], n_objects: int,
) -> dict[str, np.ndarray]:
    """Flat float64 truth columns by field of the events ``events`` (a slice of ``truth``)."""
    start, stop = events
    records = truth[start:stop] if per_event else ak.flatten(truth[start:stop], axis=1)
    columns = {}
    for name in fields:
        if name in extra:
            values = extra[name][start:stop]
            flat = values if per_event else ak.flatten(values, axis=1)
        else:  # the records flattened once, not once per field
            flat = records[name]
        column = np.asarray(ak.to_numpy(flat), dtype=np.float64)
        if column.shape != (n_objects,):
            raise ValueError(f"input {name!r} does not have the structure of the truth collection")
        columns[name] = column
    return columns


class _Checks:
    """Bad values and out-of-range inputs, counted over every slice before any work is done."""

    def __init__(self, model: KindModel) -> None:
        self.model = model
        self.n = 0
        self.bad: dict[str, int] = {}
        self.negative: dict[str, int] = {}
        self.out: dict[str, int] = {}
        self.above: dict[str, int] = {}

    def add(self, columns: Mapping[str, np.ndarray]) -> None:
        self.n += next(iter(columns.values())).size if columns else 0
        for name, column in columns.items():
            self.bad[name] = self.bad.get(name, 0) + int(np.count_nonzero(~np.isfinite(column)))
        for name in ("pt", "mass"):
            if name in columns:
                with np.errstate(invalid="ignore"):
                    negative = int(np.count_nonzero(columns[name] < 0))
                self.negative[name] = self.negative.get(name, 0) + negative
        if uses_objects(self.model.card):  # the network sees |GenMET + D|, |GenMET|, |D|
            columns = reference_truth(columns)
        for feature in self.model.inputs:
            if feature.name in ENGINE_INPUTS:
                continue
            column = columns[feature.name]
            self.out[feature.name] = self.out.get(feature.name, 0) + feature.out_of_range(column)
            with np.errstate(invalid="ignore"):
                above = int(np.count_nonzero(column > feature.knots[-1]))
            self.above[feature.name] = self.above.get(feature.name, 0) + above

    def raise_bad(self) -> None:
        for name, bad in self.bad.items():
            if bad:
                raise ValueError(f"truth field {name!r} has {bad} NaN/inf value(s) of {self.n}")
        for name, negative in self.negative.items():
            if negative:
                raise ValueError(f"truth field {name!r} has {negative} negative value(s) (GeV)")

    def warn_out_of_range(self) -> None:
        model = self.model
        for feature in model.inputs:
            n_out = self.out.get(feature.name, 0)
            if n_out:
                lo, hi = feature.knots[0], feature.knots[-1]
                unit = (
                    f". Most {feature.name} values lie above the training range: mlsmear expects "
                    "GeV; are these MeV (ATLAS xAOD/PHYSLITE)? Divide pt and mass by 1000"
                    if feature.name in _ENERGY_FIELDS and 2 * self.above[feature.name] > self.n
                    else ""
                )
                message = (
                    f"{n_out} of {self.n} {model.kind} objects have "
                    f"{feature.name} outside the training range [{lo:.4g}, {hi:.4g}]: clamped to "
                    "the range edge for the network input (residuals still apply to the true "
                    f"value){unit}"
                )
                warnings.warn(
                    OutOfRangeWarning(message, model.kind, feature.name, n_out, self.n),
                    stacklevel=4,
                )


#: Inputs in GeV: most of them above the training range hints at MeV input.
_ENERGY_FIELDS = ("pt", "mass", "ht")


def _charge(kind: str, n: int, truth: ak.Array) -> np.ndarray:
    """Charge of each truth object: from ``charge`` or ``pdgId`` for leptons, 0 otherwise."""
    if kind not in ("electron", "muon"):
        return np.zeros(n, dtype=np.int32)
    fields = ak.fields(truth)
    name, sign = next(((n, s) for n, s in (("charge", 1), ("pdgId", -1)) if n in fields),
                      (None, 0))
    if name is None:
        raise ValueError(f"{kind} truth needs a 'charge' or 'pdgId' field for the output charge")
    charge = sign * np.sign(ak.to_numpy(ak.flatten(truth[name], axis=1)).astype(np.float64))
    bad = int(np.count_nonzero(np.abs(charge) != 1))  # NaN and 0 among them
    if bad:
        raise ValueError(f"{bad} of {charge.size} {kind} truth objects have a {name} that is "
                         "NaN or 0: an electron or muon has charge -1 or +1")
    return charge.astype(np.int32)


def smear_columnar(truth: ak.Array, model: KindModel, options: SmearOptions) -> ak.Array:
    """Reco objects of an eager truth array with the kind's ``model`` (see :func:`mlsmear.smear`
    for the input and the result: plain ``Momentum4D`` records, ``Momentum2D`` for MET).

    Coffea collections are read as plain record arrays (their event identity still comes from
    the NanoEvents). The objects go through the whole per-object pipeline in slices of whole
    events of about :data:`SLICE_OBJECTS` objects, so memory beyond the input and the output is
    bounded.
    """
    truth = as_truth_array(truth)
    kind_model, event_id = model, options.event_id
    spec = kind_model.spec
    extra = options.extra or {}
    fields = kind_model.input_fields
    _check_fields(truth, kind_model.kind, fields, extra)
    counts = _counts(truth, spec.per_event)
    slices = _event_slices(counts, SLICE_OBJECTS)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    checks = _Checks(kind_model)
    for a, b in slices:
        checks.add(_columns(truth, fields, extra, spec.per_event, (a, b), offsets[b] - offsets[a]))
    checks.raise_bad()
    checks.warn_out_of_range()
    run, lumi, event = event_identity(truth, event_id)
    run = fold_sample(run, sample_key_for(truth, event_id, options.sample_id))
    event_key = kind_keys(event_keys(options.seed, run, lumi, event), kind_model.kind)
    n = int(offsets[-1])
    if spec.per_event:
        out = {"pt": np.empty(n), "phi": np.empty(n)}
    else:
        out = {
            "pt": np.empty(n), "eta": np.empty(n), "phi": np.empty(n), "mass": np.empty(n),
            "charge": np.empty(n, dtype=np.int32), "truth_index": np.empty(n, dtype=np.int64),
            **{tag: np.empty(n) for tag in kind_model.tags},
        }
    new_counts = np.empty(counts.size, dtype=np.int64)
    filled = 0
    for a, b in slices:
        o_a, o_b = offsets[a], offsets[b]
        columns = _columns(truth, fields, extra, spec.per_event, (a, b), o_b - o_a)
        slice_counts = counts[a:b]
        keys = np.repeat(event_key[a:b], slice_counts)
        index = np.arange(o_b - o_a, dtype=np.int64) - np.repeat(offsets[a:b] - o_a, slice_counts)
        reconstructed, reco = sample_reco(
            kind_model, columns, keys, index, device=options.device,
            batch_size=options.batch_size, precision=options.precision,
        )
        if spec.per_event:
            out["pt"][o_a:o_b], out["phi"][o_a:o_b] = reco["pt"], reco["phi"]
            continue
        kept, new_counts[a:b] = _collection(
            kind_model, truth[a:b], columns, reco, reconstructed, slice_counts, index
        )
        for name, values in kept.items():
            out[name][filled:filled + values.size] = values
        filled += kept["pt"].size
    behavior = vector.backends.awkward.behavior
    if spec.per_event:
        return ak.zip(out, with_name="Momentum2D", behavior=behavior)
    flat = ak.zip(
        {name: values[:filled] for name, values in out.items()},
        with_name="Momentum4D", behavior=behavior,
    )
    return ak.unflatten(flat, new_counts)


def _collection(
    model: KindModel, truth: ak.Array, columns: Mapping[str, np.ndarray],
    reco: dict[str, np.ndarray], reconstructed: np.ndarray, counts: np.ndarray, index: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Select and order the smeared objects: flat output fields and the objects kept per event."""
    keep = passes_thresholds(model.thresholds, reconstructed, reco)
    order, new_counts = pt_order(reco["pt"], keep, counts)
    mass = reco.get("mass")
    if mass is None:
        mass = columns.get("mass", np.full(index.size, model.spec.mass))
    fields = {
        "pt": reco["pt"][order], "eta": reco["eta"][order], "phi": reco["phi"][order],
        "mass": np.asarray(mass)[order], "charge": _charge(model.kind, index.size, truth)[order],
        "truth_index": index[order],
    }
    fields.update({tag: reco[tag][order] for tag in model.tags})
    return fields, new_counts
