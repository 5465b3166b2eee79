"""Relative isolation of candidates against energy-flow objects (Delphes ``Isolation``)."""

from __future__ import annotations

from typing import ClassVar

from ..physics.collection import Collection
from ..physics.isolation import cone_sums
from .stage import Param, RunContext, Stage, number

__all__ = ["Isolation"]


class Isolation(Stage):
    """Keep candidates whose summed isolation-object pT within ``dr_max``, divided by their own
    pT, is at most ``pt_ratio_max``; adds the column ``isolation`` (that ratio)."""

    INPUTS = ("candidates", "isolation_objects")
    PARAMS: ClassVar[dict[str, Param]] = {
        "dr_max": number("cone size Delta R", minimum=0.0),
        "pt_min": number("minimum pT in GeV of an isolation object", minimum=0.0),
        "pt_ratio_max": number("maximum (sum pT in cone) / candidate pT", minimum=0.0),
    }
    dr_max: float
    pt_min: float
    pt_ratio_max: float

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        candidates, objects = inputs
        sums = cone_sums(
            candidates,
            objects,
            dr_max=self.dr_max,
            pt_min=self.pt_min,
            exclude=(candidates["uid"], objects["uid"]),
        )
        ratio = sums / candidates["pt"]
        isolated = candidates.with_columns(isolation=ratio)
        return [isolated.select(ratio <= self.pt_ratio_max)]
