"""Delphes ROOT trees -> pairs, matching truth and reco objects by Delta R (uproot only).

Delphes stores no truth <-> reco links, so every kind is matched with the unique-closest-pair
rule of :mod:`mlsmear.physics.matching` (Delta R < 0.2 for jets, then leftovers within 0.4;
< 0.1 for e, mu, gamma).

- Jets: truth = the GenJet branch (``GenJet`` by default: whatever the card clustered), with
  ``hadronFlavour`` (:func:`delphes_hadron_flavour`), ``dr_nearest``, ``muon_frac`` and
  ``em_frac`` computed as for generated pairs from the ``Particle`` record; reco = the ``Jet``
  branch, ``reco_btag`` = bit 0 of ``Jet.BTag``. Delphes' own ``GenJet.Flavor`` is not used: the
  usual cards (e.g. ``delphes_card_CMS.tcl``) run ``JetFlavorAssociation`` on reco jets only, so
  it is 0 for every GenJet (as in ``tests/data/delphes.root``), and where a card fills it, it is a
  parton flavour (heaviest quark within Delta R 0.5, gluon 21), not a hadron flavour.
- Electrons, muons, photons: truth = prompt final-state particles of the ``Particle`` record
  (same definition, ``truth_iso``, ``truth_jet_iso``, ``truth_nb_jet_dr``, ``truth_nb_jet_ratio``,
  ``truth_em_iso``, ``truth_muon_iso`` and
  the leptons' ``truth_dressing`` as :mod:`mlsmear.physics.truth`); reco = the ``Electron``,
  ``Muon``, ``Photon`` branches.
- MET: ``GenMissingET`` and ``MissingET``; ``truth_ht`` / ``truth_njet`` from the GenJets with
  pT > 20 GeV.

Event identity: ``Event.Number``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import awkward as ak
import numpy as np
import pyarrow as pa

from ..kinds import KINDS, OBJECT_PDG
from ..physics.collection import Collection
from ..physics.flavour import label_flavour
from ..physics.matching import pair_tables
from ..physics.truth import (
    FLAVOUR_DR,
    flavour_hadrons,
    neighbour_context,
    prompt_collections,
    relate_jets_and_prompt,
    visible_particles,
)
from ._uproot import (
    as_paths,
    concatenate_pairs,
    flat_values,
    jagged_collection,
    missing_et,
    open_tree,
    read_branches,
)

__all__ = [
    "delphes_hadron_flavour", "delphes_record", "read_pairs_from_delphes", "reco_branches",
    "reco_objects",
]

_PARTICLE = {
    "pid": "Particle.PID", "mother1": "Particle.M1", "status": "Particle.Status",
    "pt": "Particle.PT", "eta": "Particle.Eta", "phi": "Particle.Phi",
    "mass": "Particle.Mass", "charge": "Particle.Charge",
}  # fmt: skip
_RECO = {kind: KINDS[kind].collection for kind in OBJECT_PDG}


def delphes_record(particles: Collection) -> Collection:
    """The generator record (columns of :mod:`mlsmear.physics.truth`) of Delphes ``Particle``
    columns ``pid`` (PID), ``mother1`` (M1), ``status`` (Status), ``pt``, ``eta``, ``phi``,
    ``mass``, ``charge``: ``final`` = status 1."""
    return particles.with_columns(
        final=particles["status"] == 1, mother1=particles["mother1"].astype(np.int64)
    )


def delphes_hadron_flavour(jets: Collection, record: Collection) -> np.ndarray:
    """``hadronFlavour`` (int8: 5, 4, 0) of Delphes GenJets (columns eta, phi) from the event's
    ``Particle`` record (:func:`delphes_record`): the definition of generated pairs
    (:mod:`mlsmear.physics.truth`): 5 / 4 when the last b / c hadron of a decay chain, pT > 5
    GeV, lies within Delta R < 0.3 of the jet, each hadron labelling its closest jet, b over c.

    Used by this reader (``truth_hadronFlavour``) and by ``mlsmear.smear`` on coffea Delphes
    events (``GenJet.hadronFlavour``), so that both give the same labels.
    """
    return label_flavour(jets, flavour_hadrons(record), dr_max=FLAVOUR_DR)


def _kinematics(prefix: str, *, mass: bool) -> dict[str, str]:
    columns = {c: f"{prefix}.{b}" for c, b in (("pt", "PT"), ("eta", "Eta"), ("phi", "Phi"))}
    if mass:
        columns["mass"] = f"{prefix}.Mass"
    return columns


def reco_branches(reco_jets: str) -> dict[str, list[str]]:
    """The branches :func:`reco_objects` reads, by what they hold (for ``read_branches``)."""
    return {
        "reco jets": [*_kinematics(reco_jets, mass=True).values(), f"{reco_jets}.BTag"],
        **{
            f"{kind}s": list(_kinematics(name, mass=False).values())
            + ([f"{name}.Charge"] if kind != "photon" else [])
            for kind, name in _RECO.items()
        },
    }


def reco_objects(arrays: ak.Array, reco_jets: str) -> dict[str, Collection]:
    """Delphes' reco objects by kind: the ``reco_jets`` branch (pt, eta, phi, mass; ``btag`` =
    bit 0 of ``BTag``) and ``Electron``, ``Muon``, ``Photon`` (pt, eta, phi, ``charge``, photons
    0; ``mass`` the kind's, GeV)."""
    jets = jagged_collection(arrays, _kinematics(reco_jets, mass=True))
    reco = {"jet": jets.with_columns(btag=(flat_values(arrays[f"{reco_jets}.BTag"]) & 1) == 1)}
    for kind, name in _RECO.items():
        objects = jagged_collection(arrays, _kinematics(name, mass=False))
        charge = (
            flat_values(arrays[f"{name}.Charge"]).astype(np.float64)
            if kind != "photon" else np.zeros(len(objects))
        )
        mass = np.full(len(objects), KINDS[kind].mass)
        reco[kind] = objects.with_columns(mass=mass, charge=charge)
    return reco


def _read_file(path: str, tree_name: str, truth_jets: str, reco_jets: str) -> dict[str, pa.Table]:
    tree = open_tree(path, tree_name)
    needs = {
        "event identity": ["Event.Number"],
        "generator record": list(_PARTICLE.values()),
        "truth jets": list(_kinematics(truth_jets, mass=True).values()),
        "missing ET": ["GenMissingET.MET", "GenMissingET.Phi", "MissingET.MET", "MissingET.Phi"],
        **reco_branches(reco_jets),
    }
    arrays = read_branches(tree, path, needs)

    event_ids = flat_values(arrays["Event.Number"]).astype(np.int64)
    record = delphes_record(jagged_collection(arrays, _PARTICLE))
    visible = visible_particles(record)

    gen_jets = jagged_collection(arrays, _kinematics(truth_jets, mass=True))
    gen_jets = gen_jets.with_columns(
        hadronFlavour=delphes_hadron_flavour(gen_jets, record),
        **neighbour_context(gen_jets),
    )
    truth = relate_jets_and_prompt(gen_jets, prompt_collections(record, visible))
    reco = reco_objects(arrays, reco_jets)
    truth["met"], reco["met"] = missing_et(
        arrays,
        ("GenMissingET.MET", "GenMissingET.Phi"),
        ("MissingET.MET", "MissingET.Phi"),
        gen_jets,
    )
    return {kind: pa.table(c) for kind, c in pair_tables(event_ids, truth, reco).items()}


def read_pairs_from_delphes(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    tree: str = "Delphes",
    truth_jets: str = "GenJet",
    reco_jets: str = "Jet",
) -> dict[str, pa.Table]:
    """Pairs tables (kind -> pyarrow Table, see :mod:`mlsmear.pairs`) of Delphes ROOT files.

    Arguments:
        paths: one Delphes ROOT file or several.
        tree: the Delphes tree.
        truth_jets, reco_jets: jet branches to pair (e.g. ``GenJet04`` / ``Jet``).
    """
    parts = [_read_file(p, tree, truth_jets, reco_jets) for p in as_paths(paths)]
    return concatenate_pairs(parts)
