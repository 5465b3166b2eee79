"""B-tagging by jet flavour (Delphes ``BTagging``; the flavour: :mod:`mlsmear.physics.flavour`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..physics.collection import Collection
from ..physics.flavour import label_flavour
from .formula import Formula
from .stage import Param, RunContext, Stage, formula, number

__all__ = ["BTagging"]


class BTagging(Stage):
    """Label jets by hadron flavour, then b-tag them with the card's efficiency per flavour.

    Adds the columns ``flavour`` (int8: 5, 4, 0) and ``btag`` (bool).
    """

    INPUTS = ("jets", "hadrons")
    PARAMS: ClassVar[dict[str, Param]] = {
        "dr_max": number("hadron-jet association distance Delta R", minimum=0.0),
        "efficiency_b": formula("tag probability of b jets", ("pt", "eta")),
        "efficiency_c": formula("tag probability of c jets", ("pt", "eta")),
        "efficiency_light": formula("tag probability of light jets", ("pt", "eta")),
    }
    dr_max: float
    efficiency_b: Formula
    efficiency_c: Formula
    efficiency_light: Formula

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        jets, hadrons = inputs
        flavour = label_flavour(jets, hadrons, dr_max=self.dr_max)
        pt, eta = jets["pt"], jets["eta"]
        probability = np.select(
            [flavour == 5, flavour == 4],
            [self.efficiency_b(pt=pt, eta=eta), self.efficiency_c(pt=pt, eta=eta)],
            self.efficiency_light(pt=pt, eta=eta),
        )
        btag = ctx.rng.random(len(jets)) < probability
        return [jets.with_columns(flavour=flavour, btag=btag)]
