"""Jet finding (FastJet clustering, :mod:`mlsmear.physics.jets`) and the jet energy scale."""

from __future__ import annotations

from typing import ClassVar

from ..physics.collection import Collection
from ..physics.jets import ALGORITHMS, cluster_jets
from .formula import Formula
from .stage import Param, RunContext, Stage, choice, formula, number

__all__ = ["EnergyScale", "JetFinder"]


class JetFinder(Stage):
    """Sequential-recombination jets (FastJet) of the input objects, e.g. calorimeter towers."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "algorithm": choice("jet algorithm", ALGORITHMS),
        "r": number("distance parameter R", minimum=0.0),
        "pt_min": number("minimum jet pT in GeV", minimum=0.0),
    }
    algorithm: str
    r: float
    pt_min: float

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        jets = cluster_jets(inputs[0], algorithm=self.algorithm, r=self.r, pt_min=self.pt_min)
        return [jets.with_columns(uid=ctx.new_uids(len(jets)))]


class EnergyScale(Stage):
    """Multiply the jet four-momenta by a formula of pT (GeV) and eta."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "scale": formula("multiplicative scale factor", ("pt", "eta")),
    }
    scale: Formula

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        (jets,) = inputs
        factor = self.scale(pt=jets["pt"], eta=jets["eta"])
        return [jets.with_columns(pt=jets["pt"] * factor, mass=jets["mass"] * factor)]
