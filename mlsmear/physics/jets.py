"""Jet clustering with FastJet over a whole batch of events."""

from __future__ import annotations

from functools import cache
from types import ModuleType

import awkward as ak
import numpy as np

from .collection import Collection
from .kinematics import cartesian, from_cartesian

__all__ = ["ALGORITHMS", "cluster_jets", "import_fastjet"]

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
