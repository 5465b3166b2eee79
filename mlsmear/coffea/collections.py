"""Smeared objects laid out as collections of the events' schema (NanoAOD or Delphes).

NanoAOD objects: ``pt``, ``eta``, ``phi``, ``mass`` (GeV; mass only, no energy), ``charge``,
``pdgId`` for leptons and photons, the jets' learnt tags (:data:`TAG_FIELDS`), and the links to
their truth object: the local ``genJetIdx`` / ``genPartIdx`` (index in the event's ``GenJet`` /
``GenPart``) and the global ``genJetIdxG`` / ``genPartIdxG`` (row in the chunk's flat
collection) that ``.matched_gen`` reads. NanoAOD ``MET``: ``pt``, ``phi``. Delphes objects:
``PT``, ``Eta``, ``Phi`` (``Mass`` for jets), ``Charge``, the jets' ``BTag`` and the lower-case
aliases coffea's ``DelphesSchema`` adds; ``MissingET``: ``MET``, ``Eta`` (0), ``Phi``.
Every collection carries its coffea behaviour record and the ``collection_name`` parameter.
Values are float64 (the engine's precision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
from coffea.nanoevents.methods import delphes, nanoaod

from ..kinds import OBJECT_PDG
from .schemas import Target

__all__ = ["OutputForm", "TAG_FIELDS"]

#: Schema field of each learnt jet tag (a decision teacher's tag reads 1.0 / 0.0 in NanoAOD: any
#: working point between 0 and 1 selects the teacher's tagged jets; Delphes: bit 0 of ``BTag``).
TAG_FIELDS = {
    "nanoaod": {"btag": "btagDeepFlavB", "ctag": "btagDeepFlavCvL"},
    "delphes": {"btag": "BTag"},
}

_BEHAVIOR = {"nanoaod": nanoaod.behavior, "delphes": delphes.behavior}


@dataclass(frozen=True)
class OutputForm:
    """How the smeared objects of one kind are laid out.

    Arguments:
        schema: ``nanoaod``, ``delphes``, or ``None`` to keep the engine's plain ``Momentum4D``
            records.
        target: the reco collection written (its name and behaviour record).
        link: NanoAOD link field to the truth collection (``genJetIdx``, ``genPartIdx``) or None.
    """

    schema: str | None = None
    target: Target | None = None
    link: str | None = None

    def build(
        self, smeared: ak.Array, truth: ak.Array, source_counts: ak.Array | None
    ) -> ak.Array:
        """The collection of one chunk.

        Arguments:
            smeared: the engine's output for the chunk (see
                :func:`mlsmear.columnar.smear_columnar`).
            truth: the chunk's truth objects; with a link, their ``position`` in the flat truth
                collection (see :func:`mlsmear.coffea.truth.content_positions`).
            source_counts: objects per event in the unsliced truth collection (links only).
        """
        schema, target = self.schema, self.target
        if schema is None or target is None:
            return smeared
        if target.kind == "met":
            return self._met(smeared, schema, target)
        counts = ak.to_numpy(ak.num(smeared, axis=1))
        flat = ak.flatten(smeared, axis=1)
        pt, eta, phi, mass = (ak.to_numpy(flat[f]) for f in ("pt", "eta", "phi", "mass"))
        charge = ak.to_numpy(flat.charge)
        tags = {t: ak.to_numpy(flat[t]) for t in TAG_FIELDS[schema] if t in flat.fields}
        if schema == "delphes":
            fields = {"PT": pt, "Eta": eta, "Phi": phi, "Charge": charge}
            fields.update({"Mass": mass} if target.kind == "jet" else {})
            if "btag" in tags:  # bit 0 of BTag: the tag's decision
                fields["BTag"] = (tags["btag"] >= 0.5).astype(np.uint32)
            fields.update(pt=pt, eta=eta, phi=phi, mass=mass)
        else:
            fields = {"pt": pt, "eta": eta, "phi": phi, "mass": mass, "charge": charge}
            fields.update({TAG_FIELDS["nanoaod"][t]: v for t, v in tags.items()})
            pdg = OBJECT_PDG.get(target.kind)
            if pdg is not None:
                fields["pdgId"] = (np.full_like(charge, pdg) if pdg == 22 else -pdg * charge)
            if self.link is not None:
                fields.update(_links(self.link, smeared, truth, counts, source_counts))
        return ak.unflatten(_zip(fields, schema, target), counts)

    @staticmethod
    def _met(smeared: ak.Array, schema: str, target: Target) -> ak.Array:
        pt, phi = ak.to_numpy(smeared.pt), ak.to_numpy(smeared.phi)
        if schema == "delphes":
            eta = np.zeros_like(pt)
            fields = {"MET": pt, "Eta": eta, "Phi": phi, "rho": pt, "eta": eta, "phi": phi}
            return _zip(fields, schema, target)
        return _zip({"pt": pt, "phi": phi}, schema, target)


def _links(
    link: str, smeared: ak.Array, truth: ak.Array, counts: np.ndarray, source_counts: Any
) -> dict[str, np.ndarray]:
    """The NanoAOD ``link`` (local index into the unsliced truth collection) and its global
    ``<link>G`` twin of each smeared object."""
    rows = ak.to_numpy(ak.flatten(truth.position[smeared.truth_index], axis=1))
    n_source = ak.to_numpy(source_counts).astype(np.int64)
    starts = np.cumsum(n_source) - n_source
    return {link: rows - np.repeat(starts, counts), f"{link}G": rows}


def _zip(fields: dict[str, np.ndarray], schema: str, target: Target) -> ak.Array:
    return ak.zip(
        fields,
        with_name=target.record,
        parameters={"collection_name": target.name},
        behavior=_BEHAVIOR[schema],
    )
