"""``smear()``: truth collections in, reconstructed collections out (awkward, columnar).

The public entry point and a thin dispatcher: it checks its keyword arguments once into a
:class:`~mlsmear.options.SmearOptions`, then hands plain arrays to
:func:`mlsmear.columnar.smear_columnar` (the model resolved here, once) and coffea collections to
:func:`mlsmear.coffea.nanoevents.smear_collection` (which resolves it once per call and chunk).
From here to the sampler: ``smear`` → ``columnar.smear_columnar`` → ``engine.sample_reco`` →
``engine.sample_residuals`` → ``sampling`` (a :class:`~mlsmear.sampling.Sampler`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import torch

from .columnar import OutOfRangeWarning, as_truth_array, resolve_model, smear_columnar
from .engine import DEFAULT_BATCH_SIZE
from .model import Bundle, KindModel
from .options import SmearOptions

__all__ = ["smear", "OutOfRangeWarning", "is_coffea"]


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
    sample_id: str | int | None = None,
    precision: str | None = None,
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
        seed: user seed, a 64-bit integer; the output is a pure function of (seed, event
            identity, truth).
        event_id: event identity (see :mod:`mlsmear.identity`); default from NanoEvents or the
            position in the array.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: rows per network evaluation, a positive integer (memory is bounded by it).
        extra: additional per-object inputs by name, same structure as ``truth``.
        sample_id: a file or sample name (string or integer) folded into the event identity,
            so that inputs whose identity repeats across files (Delphes ``Event.Number``, entry
            numbers, positions in an array) never share random numbers; default: the file of a
            coffea chunk, else none and an :class:`~mlsmear.identity.IdentityWarning`. Ignored
            nowhere: given for NanoAOD it changes the numbers too.
        precision: network evaluation precision, ``"float32"`` or ``"bfloat16"``; default the
            model card's. ``"float32"`` gives bit-identical output on every x86 CPU (README,
            Reproducibility).

    Returns:
        Same events, lost objects removed, model thresholds applied, pT-ordered, with fields
        ``pt, eta, phi, mass, charge, truth_index`` and vector ``Momentum4D`` behaviour
        (``pt, phi`` and ``Momentum2D`` for MET). ``truth_index`` is the index of the truth
        object in its event. A NanoAOD or Delphes collection gives instead a collection of
        that schema (e.g. a NanoAOD ``Jet`` with ``genJetIdx``/``genJetIdxG``), lazy if the
        input is (see :func:`mlsmear.coffea.smear_collection`).

    Raises:
        ValueError: NaN/inf/negative inputs, None objects, missing fields, model–kind mismatch,
            bad event_id, seed, batch_size or precision.
        TypeError: an input that is not an array, a seed that is not an integer.

    Example:
        >>> reco_jets = mlsmear.smear(gen_jets, seed=1)  # doctest: +SKIP
    """
    options = SmearOptions(
        kind=kind, seed=seed, event_id=event_id, device=device, batch_size=batch_size,
        extra=extra, sample_id=sample_id, precision=precision,
    )
    if not is_coffea(truth):
        truth = as_truth_array(truth)
        return smear_columnar(truth, resolve_model(model, kind, truth), options)
    if not _is_dask(truth) and truth.layout.is_option and truth.ndim == 2:
        truth = as_truth_array(truth)  # events masked to None: events without objects
    from .coffea.nanoevents import smear_collection  # coffea's machinery only when needed

    return smear_collection(truth, model, options)


def _is_dask(truth: Any) -> bool:
    dak = sys.modules.get("dask_awkward")
    return dak is not None and isinstance(truth, dak.Array)


def is_coffea(truth: Any) -> bool:
    """True for coffea NanoEvents collections and any dask-awkward array."""
    dak = sys.modules.get("dask_awkward")
    if dak is not None and isinstance(truth, dak.Array):
        return True
    attrs = truth.attrs if isinstance(truth, ak.Array) else {}
    return "@events_factory" in attrs or "@original_array" in attrs
