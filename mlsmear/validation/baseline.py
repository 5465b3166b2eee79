"""The paper's baseline (arXiv:2002.11516), trained on the same data as the model it is compared
with: independent heads (no autoregression) and equal-width residual bins between the 1 % and
99 % quantiles with the residuals beyond clipped into the edge bins.

Everything else — network widths, epochs, batch size, learning rate, patience, seed, input
features, thresholds and the number of training rows — is copied from the model's card, so the
side-by-side comparison isolates the value of autoregression plus quantile binning with knots and
tails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pyarrow as pa

from ..context import context_kinds
from ..event_pairs import training_columns
from ..model import Bundle, KindModel
from ..sibling_context import uses_siblings
from ..training import TrainConfig, fit_model

__all__ = ["BASELINE", "baseline_config", "training_sources", "train_baseline"]

#: What makes the baseline: the paper's independent heads and clipped equal-width bins (and no
#: category for exactly-zero reco values, no learnt truth acceptance, the plain 101-way loss).
BASELINE = {
    "autoregressive": False, "binning": "clipped", "zero_category": False,
    "truth_acceptance": False, "efficiency_weight": 1.0,
}


def baseline_config(model: KindModel, *, epochs: int | None = None, progress: bool = True):
    """The model's training settings (from its card) with :data:`BASELINE` applied."""
    recorded = dict(model.card.get("training", {}).get("config", {}))
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    settings = {k: v for k, v in recorded.items() if k in fields}
    settings.setdefault("trunk", model.net.trunk_sizes)
    settings.setdefault("head", model.net.head_size)
    settings["trunk"] = tuple(settings["trunk"])
    settings.update(BASELINE, progress=progress)
    if epochs is not None:
        settings["epochs"] = epochs
    return TrainConfig(**settings)


def training_sources(model: KindModel) -> list[str]:
    """The training data sources recorded in a model card (``mlsmear train`` writes them)."""
    return [d["source"] for d in model.card.get("training", {}).get("data", []) if "source" in d]


def train_baseline(
    tables: Mapping[str, pa.Table],
    bundle: Bundle,
    kinds: Sequence[str],
    *,
    epochs: int | None = None,
    progress: bool = True,
) -> Bundle:
    """Train the baseline of each of ``kinds`` on ``tables`` (pairs by kind).

    Arguments:
        tables: training pairs by kind (those the model was trained on).
        bundle: the model bundle the baseline is compared with (settings are copied from it).
        kinds: kinds to train.
        epochs: override the model's epoch count (e.g. for a quick look).
        progress: show training progress bars.
    """
    models = {}
    for kind in kinds:
        if kind not in tables:
            raise ValueError(f"the baseline training data hold no {kind} pairs ({sorted(tables)})")
        model, table = bundle[kind], tables[kind]
        rows = model.card.get("training", {}).get("rows")
        if rows and len(table) > rows:
            table = table.slice(0, rows)
        truth, reco, matched = training_columns(
            kind, tables, table, follow_objects=bool(context_kinds(model)),
            follow_siblings=uses_siblings(f.name for f in model.inputs),
        )
        models[kind] = fit_model(
            kind, truth, reco, matched, inputs=[(f.name, f.transform) for f in model.inputs],
            thresholds=model.thresholds,
            config=baseline_config(model, epochs=epochs, progress=progress),
            card={"baseline": "arXiv:2002.11516: independent heads, clipped 1-99 % bins"},
        )
    return Bundle("paper-baseline", models)
