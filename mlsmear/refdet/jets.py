"""Jet clustering with FastJet over a whole batch of events, and the jet energy scale."""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import ClassVar

import awkward as ak
import numpy as np

from .collection import Collection
from .formula import Formula
from .kinematics import cartesian, from_cartesian
from .stage import Param, RunContext, Stage, choice, formula, number

__all__ = ["EnergyScale", "JetFinder", "cluster_jets", "import_fastjet"]

ALGORITHMS = ("antikt", "kt", "cambridge")


@cache
def import_fastjet() -> ModuleType:
    """Import fastjet (an optional dependency) with a clear message when it is missing."""
    try:
        import fastjet
    except ImportError as err:
        raise ImportError('jet clustering needs fastjet: pip install "mlsmear[generate]"') from err
    # FastJet prints a banner on first use; a null banner stream silences it (FastJet C++ API).
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    return fastjet


def cluster_jets(inputs: Collection, *, algorithm: str, r: float, pt_min: float) -> Collection:
    """Cluster ``inputs`` (columns pt, eta, phi, mass; GeV) of every event into jets.

    All events go to FastJet's C++ multi-event interface in one call. Returns jets with columns
    pt, eta, phi, mass (E-scheme recombination), sorted by decreasing pT within each event and
    with pT > ``pt_min`` (GeV).
    """
    fastjet = import_fastjet()
    algorithms = {
        "antikt": fastjet.antikt_algorithm,
        "kt": fastjet.kt_algorithm,
        "cambridge": fastjet.cambridge_algorithm,
    }
    px, py, pz, e = cartesian(inputs["pt"], inputs["eta"], inputs["phi"], inputs["mass"])
    flat = ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D")
    sequence = fastjet.ClusterSequence(
        ak.unflatten(flat, inputs.counts), fastjet.JetDefinition(algorithms[algorithm], r)
    )
    jets = sequence.inclusive_jets(pt_min)
    counts = ak.to_numpy(ak.num(jets, axis=1))
    pt, eta, phi, mass = from_cartesian(
        *(ak.to_numpy(ak.flatten(jets[c], axis=1)) for c in ("px", "py", "pz", "E"))
    )
    event = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((-pt, event))
    columns = {"pt": pt[order], "eta": eta[order], "phi": phi[order], "mass": mass[order]}
    return Collection.from_counts(counts, columns)


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
