"""The safety margin of the filter: evaluate the selection on momenta scaled up by (1 + M).

With margin ``M`` the selection sees every predicted reco collection with ``pt`` and ``mass``
multiplied by ``1 + M`` (η and φ unchanged), i.e. every four-momentum scaled by ``1 + M``: every
energy-like quantity built from them (pT, MET, HT, E, px, py, pz, invariant masses) grows by
``1 + M``. A lower cut ``X > c`` on such a quantity therefore keeps events whose predicted ``X``
exceeds ``c / (1 + M)``: ``MET.pt > 250`` with ``M = 0.2`` keeps predicted MET > 208.3 GeV.
Counts, angles and ratios of momenta are unchanged, and an *upper* cut (``X < c``) gets tighter,
not looser: give such selections margin 0 or write the loosening into the selection itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import awkward as ak

__all__ = ["MOMENTUM_FIELDS", "check_margin", "scale_momenta"]

#: Fields multiplied by (1 + margin).
MOMENTUM_FIELDS = ("pt", "mass")


def check_margin(margin: float) -> float:
    """``margin`` as a float; ``ValueError`` unless it is finite and >= 0."""
    value = float(margin)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    return value


def scale_momenta(reco: Mapping[str, ak.Array], margin: float) -> dict[str, ak.Array]:
    """The collections with :data:`MOMENTUM_FIELDS` multiplied by ``1 + margin``."""
    if margin == 0:
        return dict(reco)
    factor = 1.0 + margin
    scaled = {}
    for name, collection in reco.items():
        for field in MOMENTUM_FIELDS:
            if field in ak.fields(collection):
                collection = ak.with_field(collection, collection[field] * factor, field)
        scaled[name] = collection
    return scaled
