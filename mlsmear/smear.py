"""``smear()``: truth collections in, reconstructed collections out (awkward, columnar).

Data flow: flatten the truth collection → input features → batched network evaluation with
counter-based sampling (:mod:`mlsmear.engine`) → reco values from residuals → drop lost objects
and apply the model's thresholds → pT-order within each event → unflatten with vector behaviour.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
import vector

from .counter_random import event_keys
from .engine import DEFAULT_BATCH_SIZE, sample_reco
from .identity import event_identity
from .kinds import kind_spec
from .model import Bundle, KindModel, passes_thresholds
from .ordering import pt_order
from .registry import load

__all__ = [
    "smear", "smear_array", "OutOfRangeWarning", "infer_kind", "is_coffea", "resolve_model"
]

#: Masses (GeV) given to smeared particles whose truth record carries none.
_PDG_MASS = {"electron": 0.000511, "muon": 0.10566, "photon": 0.0}
_KIND_BY_PDG = {11: "electron", 13: "muon", 22: "photon"}
_KIND_BY_COLLECTION = {"GenJet": "jet", "GenMET": "met", "GenMissingET": "met"}


class OutOfRangeWarning(UserWarning):
    """Inputs outside a model's training range were clamped to the range edge."""


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


#: Inputs defined from the rest of the event (GenJets, prompt objects), see generate.truth.
_DERIVED_FROM_EVENTS = ("dr_nearest", "muon_frac", "em_frac", "jet_iso", "ht", "njet")


def _columns(
    truth: ak.Array, fields: list[str], extra: Mapping[str, Any], per_event: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Flat float64 truth columns by field, and the number of objects per event."""
    depth = truth.ndim
    if depth != (1 if per_event else 2):
        shape = "one record per event" if per_event else "a jagged collection (events × objects)"
        raise ValueError(f"expected {shape}, got an array of dimension {depth}: {truth.type}")
    available = set(ak.fields(truth)) | set(extra)
    missing = [f for f in fields if f not in available]
    if missing:
        derived = [f for f in missing if f in _DERIVED_FROM_EVENTS]
        hint = (
            f"; {derived} are defined in mlsmear.generate.truth and computed automatically for "
            "coffea NanoEvents (smear events.GenJet)" if derived else ""
        )
        raise ValueError(
            f"truth collection lacks field(s) {missing} needed by the model; it has "
            f"{sorted(available)} (pass missing per-object inputs with extra={{name: array}}"
            f"{hint})"
        )
    counts = (
        np.ones(len(truth), dtype=np.int64) if per_event
        else ak.to_numpy(ak.num(truth, axis=1)).astype(np.int64)
    )
    columns = {}
    for name in fields:
        values = extra[name] if name in extra else truth[name]
        flat = values if per_event else ak.flatten(values, axis=1)
        column = np.asarray(ak.to_numpy(flat), dtype=np.float64)
        if column.shape != (counts.sum(),):
            raise ValueError(f"input {name!r} does not have the structure of the truth collection")
        columns[name] = column
    return columns, counts


def _check_values(columns: Mapping[str, np.ndarray]) -> None:
    for name, column in columns.items():
        bad = np.count_nonzero(~np.isfinite(column))
        if bad:
            raise ValueError(f"truth field {name!r} has {bad} NaN/inf value(s) of {column.size}")
    for name in ("pt", "mass"):
        if name in columns and (negative := np.count_nonzero(columns[name] < 0)):
            raise ValueError(f"truth field {name!r} has {negative} negative value(s) (GeV)")


def _warn_out_of_range(model: KindModel, columns: Mapping[str, np.ndarray]) -> None:
    for feature in model.inputs:
        n_out = feature.out_of_range(columns[feature.name])
        if n_out:
            lo, hi = feature.knots[0], feature.knots[-1]
            warnings.warn(
                f"{n_out} of {columns[feature.name].size} {model.kind} objects have "
                f"{feature.name} outside the training range [{lo:.4g}, {hi:.4g}]: clamped to "
                "the range edge for the network input (residuals still apply to the true value)",
                OutOfRangeWarning,
                stacklevel=3,
            )


def _charge(kind: str, n: int, truth: ak.Array) -> np.ndarray:
    """Charge of each truth object: from ``charge`` or ``pdgId`` for leptons, 0 otherwise."""
    if kind not in ("electron", "muon"):
        return np.zeros(n, dtype=np.int32)
    fields = ak.fields(truth)
    for name, sign in (("charge", 1), ("pdgId", -1)):
        if name in fields:
            return (sign * np.sign(ak.to_numpy(ak.flatten(truth[name], axis=1)))).astype(np.int32)
    raise ValueError(f"{kind} truth needs a 'charge' or 'pdgId' field for the output charge")


def smear(
    truth: ak.Array,
    *,
    model: str | Path | Bundle | KindModel = "default",
    kind: str | None = None,
    seed: int = 0,
    event_id: Any = None,
    device: str | torch.device = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    extra: Mapping[str, ak.Array] | None = None,
) -> ak.Array:
    """Reconstructed objects sampled from the learnt detector.

    Arguments:
        truth: jagged collection (events × objects) of records with ``pt`` (GeV), ``eta``,
            ``phi`` (rad), ``mass`` (GeV) and any extra input the model uses; for MET one record
            per event (``pt``, ``phi`` and the MET model's inputs ``ht``, ``njet``). Plain awkward
            arrays, and coffea NanoEvents collections (eager, virtual or dask-awkward; see
            :mod:`mlsmear.coffea`) are accepted.
        model: ``"default"``, a shipped bundle name, a path, or a loaded model.
        kind: object kind; inferred from a coffea collection name or ``pdgId`` if omitted.
        seed: user seed; the output is a pure function of (seed, event identity, truth).
        event_id: event identity (see :mod:`mlsmear.identity`); default from NanoEvents or the
            position in the array.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: rows per network evaluation (memory is bounded by it).
        extra: additional per-object inputs by name, same structure as ``truth``.

    Returns:
        Same events, lost objects removed, model thresholds applied, pT-ordered, with fields
        ``pt, eta, phi, mass, charge, truth_index`` and vector ``Momentum4D`` behaviour
        (``pt, phi`` and ``Momentum2D`` for MET). ``truth_index`` is the index of the truth
        object in its event. A NanoAOD or Delphes collection gives instead a collection of
        that schema (e.g. a NanoAOD ``Jet`` with ``genJetIdx``/``genJetIdxG``), lazy if the
        input is (see :func:`mlsmear.coffea.smear_collection`).

    Raises:
        ValueError: NaN/inf/negative inputs, missing fields, model–kind mismatch, bad event_id.

    Example:
        >>> reco_jets = mlsmear.smear(gen_jets, seed=1)  # doctest: +SKIP
    """
    options = dict(model=model, kind=kind, seed=seed, event_id=event_id, device=device,
                   batch_size=batch_size, extra=extra)
    if is_coffea(truth):
        from .coffea.nanoevents import smear_collection

        return smear_collection(truth, **options)
    return smear_array(truth, **options)


def is_coffea(truth: Any) -> bool:
    """True for coffea NanoEvents collections and any dask-awkward array."""
    dak = sys.modules.get("dask_awkward")
    if dak is not None and isinstance(truth, dak.Array):
        return True
    attrs = truth.attrs if isinstance(truth, ak.Array) else {}
    return "@events_factory" in attrs or "@original_array" in attrs


def smear_array(
    truth: ak.Array,
    *,
    model: str | Path | Bundle | KindModel = "default",
    kind: str | None = None,
    seed: int = 0,
    event_id: Any = None,
    device: str | torch.device = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    extra: Mapping[str, ak.Array] | None = None,
) -> ak.Array:
    """:func:`smear` of an eager array: the engine itself, plain ``Momentum4D`` output.

    Same arguments and result as :func:`smear` for plain awkward arrays; coffea collections are
    read as plain record arrays (their event identity still comes from the NanoEvents).
    """
    kind_model = resolve_model(model, kind, truth)
    spec = kind_model.spec
    columns, counts = _columns(truth, kind_model.input_fields, extra or {}, spec.per_event)
    _check_values(columns)
    _warn_out_of_range(kind_model, columns)
    run, lumi, event = event_identity(truth, event_id)
    keys = np.repeat(event_keys(seed, run, lumi, event), counts)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    index = np.arange(counts.sum(), dtype=np.int64) - np.repeat(offsets[:-1], counts)
    reconstructed, reco = sample_reco(
        kind_model, columns, keys, index, device=device, batch_size=batch_size
    )
    if spec.per_event:
        return ak.zip(
            {"pt": reco["pt"], "phi": reco["phi"]},
            with_name="Momentum2D", behavior=vector.backends.awkward.behavior,
        )
    return _collection(kind_model, truth, columns, reco, reconstructed, counts, index)


def _collection(
    model: KindModel, truth: ak.Array, columns: Mapping[str, np.ndarray],
    reco: dict[str, np.ndarray], reconstructed: np.ndarray, counts: np.ndarray, index: np.ndarray,
) -> ak.Array:
    """Select, order and unflatten the smeared objects."""
    keep = passes_thresholds(model.thresholds, reconstructed, reco)
    order, new_counts = pt_order(reco["pt"], keep, counts)
    mass = reco.get("mass")
    if mass is None:
        mass = columns.get("mass", np.full(index.size, _PDG_MASS[model.kind]))
    fields = {
        "pt": reco["pt"][order], "eta": reco["eta"][order], "phi": reco["phi"][order],
        "mass": np.asarray(mass)[order], "charge": _charge(model.kind, index.size, truth)[order],
        "truth_index": index[order],
    }
    flat = ak.zip(fields, with_name="Momentum4D", behavior=vector.backends.awkward.behavior)
    return ak.unflatten(flat, new_counts)
