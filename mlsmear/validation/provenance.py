"""Is the hold-out independent of the training data? Seeds and processes from the metadata.

The pairs ``meta.json`` of a generated sample records its ``generator``, ``process`` and master
``seed``; ``mlsmear train`` copies the metadata of its training sources into the model card
(``training.data``). Event identities derive from the seed, so a hold-out generated with a seed
used for training may repeat training events: :func:`holdout_provenance` raises then, unless
told otherwise. A hold-out process absent from every training source is flagged as a test of
process independence; composite samples count as their components (a ttbar hold-out is inside a
model trained on ``mix``, which holds ttbar).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..generate.pythia import components
from ..model import Bundle
from ..pairs import is_pairs_directory, read_meta

__all__ = ["holdout_provenance"]

_KEYS = ("generator", "process", "seed", "n_events")


def _summary(meta: dict[str, Any], source: str) -> dict[str, Any]:
    return {"source": source, **{k: meta.get(k) for k in _KEYS}}


def holdout_provenance(
    sources: Sequence[str | os.PathLike[str]],
    bundle: Bundle,
    kinds: Sequence[str],
    *,
    allow_seed_overlap: bool = False,
) -> dict[str, Any]:
    """Hold-out and training provenance of ``kinds``, with the independence checks.

    Returns a dict with ``holdout`` and ``training`` (per kind) summaries, ``seed_overlap``
    (hold-out sources sharing generator and seed with a training source), ``new_process``
    (true when no hold-out process was used in training; None when unknown).

    Raises:
        ValueError: a hold-out source shares generator and seed with a training source and
            ``allow_seed_overlap`` is false.
    """
    holdout = [
        _summary(read_meta(s), str(s)) if is_pairs_directory(s) else {"source": str(s)}
        for s in sources
    ]
    training = {
        kind: [
            _summary(d, str(d.get("source")))
            for d in bundle[kind].card.get("training", {}).get("data", [])
        ]
        for kind in kinds
    }
    used = {
        (t["generator"], t["seed"]) for ts in training.values() for t in ts
        if t["seed"] is not None
    }
    overlap = [
        h["source"] for h in holdout
        if h.get("seed") is not None and (h.get("generator"), h["seed"]) in used
    ]
    if overlap and not allow_seed_overlap:
        raise ValueError(
            f"hold-out {overlap} was generated with a seed also used for training the model "
            "(same generator and seed): it may repeat training events. Generate the hold-out "
            "with a new seed, or allow the overlap explicitly"
        )
    train_processes = {
        p for ts in training.values() for t in ts if t["process"] for p in components(t["process"])
    }
    holdout_processes = {
        p for h in holdout if h.get("process") for p in components(h["process"])
    }
    new_process = (
        None if not train_processes or not holdout_processes
        else not (holdout_processes & train_processes)
    )
    return {
        "holdout": holdout, "training": training, "seed_overlap": overlap,
        "new_process": new_process,
    }
