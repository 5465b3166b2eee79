"""Stages that select or merge rows: PDG-code filter, merger, efficiency."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..physics.collection import Collection
from .formula import Formula
from .stage import Param, RunContext, Stage, boolean, choice, formula, int_list

__all__ = ["Efficiency", "Merger", "PdgFilter"]


class PdgFilter(Stage):
    """Keep (or drop) the rows whose |PDG id| is listed, optionally charged rows only."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "pdg_ids": int_list("absolute PDG ids to keep or drop"),
        "mode": choice("'keep' the listed ids or 'drop' them", ("keep", "drop")),
        "charged_only": boolean("also require charge != 0"),
    }
    pdg_ids: tuple[int, ...]
    mode: str
    charged_only: bool

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        (rows,) = inputs
        mask = np.isin(np.abs(rows["pid"]), self.pdg_ids)
        if self.mode == "drop":
            mask = ~mask
        if self.charged_only:
            mask &= rows["charge"] != 0
        return [rows.select(mask)]


class Merger(Stage):
    """Merge several collections of the same events (columns common to all inputs are kept)."""

    INPUTS = None

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        return [Collection.concatenate(inputs)]


class Efficiency(Stage):
    """Keep each row with the probability given by a formula of its pT (GeV) and eta."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "efficiency": formula("probability to keep an object", ("pt", "eta")),
    }
    efficiency: Formula

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        (rows,) = inputs
        probability = self.efficiency(pt=rows["pt"], eta=rows["eta"])
        return [rows.select(ctx.rng.random(len(rows)) < probability)]
