"""Hold-out pairs → truth columns, the reference reco (from the pairs) and the learnt reco.

The learnt reco of a hold-out row is drawn with :func:`mlsmear.engine.sample_reco` exactly as
:func:`mlsmear.smear` would draw it: the key is ``kind_keys(event_keys(seed, 0, 0, event),
kind)`` of the row's ``event`` column and the object index is the row's position among its
event's rows (in file order). Both reco sets get the model's thresholds (``pt_min`` GeV,
``abs_eta_max``), so an object counts as reconstructed when it is reconstructed *and* passes them;
its reco values are NaN otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from ..counter_random import event_keys, kind_keys
from ..engine import DEFAULT_BATCH_SIZE, sample_reco
from ..event_pairs import columns_from_pairs
from ..kinds import kind_spec
from ..model import KindModel, passes_thresholds

__all__ = [
    "Reco",
    "KindSample",
    "object_index",
    "apply_thresholds",
    "holdout_sample",
    "learnt_reco",
]


@dataclass(frozen=True)
class Reco:
    """Reconstructed values of every truth object of a sample.

    Arguments:
        reconstructed: bool per truth object (reconstructed and passing the thresholds).
        values: reco columns by quantity (``pt`` GeV, ``eta``, ``phi`` rad, ``mass`` GeV), NaN
            where not reconstructed.
    """

    reconstructed: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class KindSample:
    """The hold-out rows of one kind.

    Arguments:
        kind: object kind.
        event: event identity of each row (``int64``).
        truth: truth columns by field (``pt`` GeV, ``eta``, ``phi``, ``mass``, extras).
        reference: the reference detector's reco (from the pairs).
    """

    kind: str
    event: np.ndarray
    truth: dict[str, np.ndarray]
    reference: Reco

    def __len__(self) -> int:
        return self.event.size


def object_index(event: np.ndarray) -> np.ndarray:
    """Position of each row among the rows of its event, in order of appearance."""
    event = np.asarray(event)
    order = np.argsort(event, kind="stable")
    sorted_events = event[order]
    starts = np.flatnonzero(np.r_[True, sorted_events[1:] != sorted_events[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, event.size]))
    index = np.empty(event.size, dtype=np.int64)
    index[order] = np.arange(event.size) - first
    return index


def apply_thresholds(
    thresholds: Mapping[str, float], reconstructed: np.ndarray, values: Mapping[str, np.ndarray]
) -> Reco:
    """Apply a model's reco thresholds (``pt_min`` GeV, ``abs_eta_max``) to reco values."""
    keep = passes_thresholds(thresholds, reconstructed, values)
    return Reco(keep, {q: np.where(keep, v, np.nan) for q, v in values.items()})


def holdout_sample(kind: str, table: pa.Table, thresholds: Mapping[str, float]) -> KindSample:
    """Truth columns and reference reco (thresholds applied) of one kind's hold-out pairs."""
    truth, reco, matched = columns_from_pairs(kind, table)
    missing = [q for q in kind_spec(kind).quantities if q not in truth]
    if missing:
        raise ValueError(f"{kind} hold-out pairs lack the truth columns {missing}")
    for column, values in (("truth_charge", truth), ("reco_charge", reco)):
        if column in table.column_names:  # leptons: for opposite-charge pairs in the closure
            values["charge"] = table.column(column).to_numpy().astype(np.float64)
    event = table.column("event").to_numpy().astype(np.int64)
    return KindSample(kind, event, truth, apply_thresholds(thresholds, matched, reco))


def learnt_reco(
    model: KindModel,
    sample: KindSample,
    seed: int,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Reco:
    """The model's reco of every hold-out truth object, with the model's thresholds applied."""
    missing = [f for f in model.input_fields if f not in sample.truth]
    if missing:
        raise ValueError(
            f"the {model.kind} model reads truth fields {missing} that the hold-out pairs lack "
            f"(they have {sorted(sample.truth)})"
        )
    zeros = np.zeros(len(sample), dtype=np.int64)
    keys = kind_keys(event_keys(seed, zeros, zeros, sample.event), model.kind)
    truth = {f: sample.truth[f] for f in model.input_fields}
    reconstructed, values = sample_reco(
        model, truth, keys, object_index(sample.event), device=device, batch_size=batch_size
    )
    return apply_thresholds(model.thresholds, reconstructed, values)
