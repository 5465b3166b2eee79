"""Reco collections for the selection: predicted by the learnt detector, or from the reference.

Both give ``{collection name: ak.Array}`` with the names of
:data:`~mlsmear.filter.selection.COLLECTION_NAMES`: jagged, pT-ordered ``Momentum4D`` objects
(``pt``, ``eta``, ``phi``, ``mass``; GeV) and one ``Momentum2D`` ``MET`` (``pt``, ``phi``) per
event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import awkward as ak
import numpy as np
import vector

from ..kinds import KINDS
from ..model import Bundle
from ..physics.collection import Collection
from ..whole_event import smear_event

__all__ = ["KIND_OF", "NAME_OF", "empty_truth", "predict", "reference_collections"]

#: Reco collection name of each object kind, and back.
NAME_OF = {kind: spec.collection for kind, spec in KINDS.items() if spec.joins is None}
KIND_OF = {name: kind for kind, name in NAME_OF.items()}
_LEPTONS = ("electron", "muon")


def empty_truth(bundle: Bundle, kinds: Iterable[str]) -> dict[str, ak.Array]:
    """Zero-event truth collections with the fields the bundle's models need (for checks)."""
    arrays = {}
    for kind in kinds:
        fields = [*bundle[kind].input_fields, *(["charge"] if kind in _LEPTONS else [])]
        empty = Collection.empty(0, dict.fromkeys(fields, np.float64))
        arrays[kind] = ak.zip(dict(empty.columns)) if kind == "met" else empty.to_awkward()
    return arrays


def predict(
    truth: Mapping[str, ak.Array],
    kinds: Iterable[str],
    *,
    bundle: Bundle,
    seed: int,
    identity: np.ndarray,
    device: str = "cpu",
    sample_id: str | None = None,
) -> dict[str, ak.Array]:
    """Predicted reco collections (by name) of ``kinds``, the events keyed by ``identity`` with
    ``sample_id`` folded in (objects first, then MET from them:
    :func:`mlsmear.whole_event.smear_event`)."""
    reco = smear_event(
        truth, bundle=bundle, seed=seed, event_id=identity, kinds=kinds, device=device,
        sample_id=sample_id,
    )
    return {NAME_OF[kind]: collection for kind, collection in reco.items()}


def reference_collections(reco: Mapping[str, Collection]) -> dict[str, ak.Array]:
    """Reference-detector output (:meth:`Detector.run`) as pT-ordered vector collections."""
    behavior = vector.backends.awkward.behavior
    out = {}
    for kind, collection in reco.items():
        if kind == "met":
            fields = {"pt": collection["pt"], "phi": collection["phi"]}
            out[NAME_OF[kind]] = ak.zip(fields, with_name="Momentum2D", behavior=behavior)
            continue
        objects = ak.with_name(collection.to_awkward(), "Momentum4D", behavior=behavior)
        out[NAME_OF[kind]] = objects[ak.argsort(objects.pt, axis=1, ascending=False)]
    return out
