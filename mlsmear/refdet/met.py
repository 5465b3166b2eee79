"""Missing transverse momentum: the negative vector sum of the input objects (GeV)."""

from __future__ import annotations

import numpy as np

from ..physics.collection import Collection
from ..physics.met import transverse_sum
from .stage import RunContext, Stage

__all__ = ["MissingET"]


class MissingET(Stage):
    """One row per event with ``pt`` (GeV) and ``phi`` of minus the vector sum of the pT of all
    inputs together (e.g. calorimeter towers and muon tracks)."""

    INPUTS = None

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        px, py = transverse_sum(Collection.concatenate(inputs))
        columns = {"pt": np.hypot(px, py), "phi": np.arctan2(-py, -px)}
        return [Collection.one_per_event(columns)]
