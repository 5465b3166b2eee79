"""Truth objects from coffea collections, with the definitions the training pairs use.

Two steps, so that the same code serves eager, virtual and dask-awkward events:

- :func:`truth_columns` (on the whole, possibly lazy, collection) picks the columns to read, under
  the engine's names (``pt``, ``eta``, ``phi``, ``mass``, ...), and says how objects are chosen;
- :meth:`Selection.apply` (on one eager chunk) chooses them (and reads masses within
  :data:`MASS_ROUNDING` below 0 as 0): prompt status-1 leptons and photons
  exactly as :mod:`mlsmear.readers.nanoaod` (``statusFlags`` isPrompt or
  isDirectPromptTauDecayProduct) and :mod:`mlsmear.physics.truth` (Delphes ``Particle``: no hadron
  among the ancestors) define them, pT > 5 GeV.

:func:`derived_inputs` computes the model inputs a truth collection lacks but its chunk defines:
``ht`` and ``njet`` of the MET model from the GenJets (:func:`mlsmear.physics.truth.jet_activity`:
jets with pT > 20 GeV, no η cut), ``jet_iso``, ``nb_jet_dr`` and ``nb_jet_ratio`` of electrons,
muons and photons from the GenJets (:func:`mlsmear.physics.truth.jet_surroundings`), the e/μ
``charge`` from NanoAOD's ``pdgId``,
the jets' neighbourhood (``dr_nearest``,
``nb_pt_ratio``, ``activity``: :func:`mlsmear.physics.truth.neighbour_context`), their
``muon_frac`` and ``em_frac`` from the prompt objects of the generator record (NanoAOD
``GenPart``, Delphes ``Particle``; :func:`mlsmear.physics.truth.prompt_content`), the e/μ/γ
``em_iso`` and ``muon_iso`` from the same prompt objects
(:func:`mlsmear.physics.truth.prompt_isolation`), the e/μ ``dressing`` from the record's prompt
photons of any pT (:func:`mlsmear.physics.truth.lepton_dressing`) and, for Delphes jets, their
``hadronFlavour`` from ``Particle`` (:func:`mlsmear.readers.delphes.delphes_hadron_flavour`: the
labels the Delphes reader writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from ..context import SAMPLED_FIELDS
from ..jet_context import CLAIM_FIELDS
from ..kinds import OBJECT_PDG
from ..met_context import RECOIL_FIELDS
from ..model import KindModel
from ..physics.collection import Collection
from ..physics.truth import (
    DRESSING_PHOTONS,
    JET_SURROUNDINGS,
    NEIGHBOUR_INPUTS,
    PROMPT_NEIGHBOURS,
    PROMPT_OBJECTS,
    jet_activity,
    jet_surroundings,
    lepton_dressing,
    neighbour_context,
    prompt_content,
    prompt_isolation,
    prompt_objects,
    prompt_particles,
    visible_particles,
)
from ..readers.delphes import delphes_hadron_flavour, delphes_record
from ..readers.nanoaod import prompt_mask
from .schemas import Schema

__all__ = [
    "MASS_ROUNDING", "Selection", "content_positions", "derivable", "derived_inputs",
    "record_columns", "truth_columns",
]

#: Truth masses between −MASS_ROUNDING and 0 GeV (float rounding of E² − p², e.g. in Delphes
#: GenJets) read as 0; more negative ones are refused by the engine.
MASS_ROUNDING = 0.01

#: Engine name → Delphes branch name, where they differ (coffea adds pt/eta/phi/mass aliases).
_DELPHES_NAMES = {"pid": "PID", "mother1": "M1", "status": "Status", "charge": "Charge"}
_DELPHES_RECORD = ("pid", "mother1", "status", "pt", "eta", "phi", "mass", "charge")
_NANOAOD_RECORD = ("pdgId", "status", "statusFlags")
_NANOAOD_PROMPT = (*_NANOAOD_RECORD, "pt", "eta", "phi")
#: Inputs the chunk computes when the truth collection lacks them (:func:`derived_inputs`, and
#: the sampled objects' context).
_DERIVED: dict[str, tuple[str, ...]] = {
    "jet": (*NEIGHBOUR_INPUTS, *CLAIM_FIELDS), "met": ("ht", "njet", *RECOIL_FIELDS),
    **dict.fromkeys(("electron", "muon"), (*JET_SURROUNDINGS, "charge")),
    "photon": JET_SURROUNDINGS,
}
#: ... and those it computes from the generator record of each schema.
_LEPTONS_FROM_RECORD = {
    **dict.fromkeys(("electron", "muon"), (*PROMPT_NEIGHBOURS, "dressing")),
    "photon": tuple(PROMPT_NEIGHBOURS),
}
_DERIVED_FROM_RECORD: dict[str, dict[str, tuple[str, ...]]] = {
    "nanoaod": {"jet": ("muon_frac", "em_frac"), **_LEPTONS_FROM_RECORD},
    "delphes": {"jet": ("hadronFlavour", "muon_frac", "em_frac"), **_LEPTONS_FROM_RECORD},
}


@dataclass(frozen=True)
class Selection:
    """How the truth objects of one kind are chosen among the rows of their source collection.

    Arguments:
        rule: ``all``, ``pdg`` (\\|pdgId\\| = ``pdg``), ``prompt-nanoaod`` (prompt status-1
            ``GenPart``) or ``prompt-delphes`` (prompt final-state Delphes ``Particle``).
        pdg: the \\|PDG id\\| of the kind (11, 13, 22) for the three last rules.
    """

    rule: str = "all"
    pdg: int = 0

    def apply(self, rows: ak.Array) -> ak.Array:
        """The truth objects among ``rows`` (one eager chunk, engine field names)."""
        if "mass" in ak.fields(rows):
            rounding = (rows.mass < 0) & (rows.mass > -MASS_ROUNDING)
            rows = ak.with_field(rows, ak.where(rounding, 0.0, rows.mass), "mass")
        if self.rule == "all":
            return rows
        if self.rule == "prompt-delphes":
            return _delphes_prompt(rows, self.pdg)
        if self.rule == "prompt-nanoaod":
            keep = prompt_mask(rows.pdgId, rows.status, rows.statusFlags, rows.pt, self.pdg)
        else:
            keep = abs(rows.pdgId) == self.pdg
        return rows[keep]


def _delphes_prompt(rows: ak.Array, pdg: int) -> ak.Array:
    record = delphes_record(Collection.from_awkward(rows, _DELPHES_RECORD))
    return prompt_objects(record, visible_particles(record), pdg).to_awkward()


def record_columns(events: Any, schema: str) -> dict[str, Any]:
    """The generator-record columns (eager or dask-awkward) :func:`derived_inputs` reads:
    NanoAOD ``GenPart`` (prompt flags and kinematics), or the Delphes ``Particle`` columns that
    make a record (:func:`mlsmear.readers.delphes.delphes_record`), by engine name."""
    if schema == "delphes":
        return {n: events.Particle[_DELPHES_NAMES.get(n, n)] for n in _DELPHES_RECORD}
    return {n: events.GenPart[n] for n in _NANOAOD_PROMPT}


def _prompt_from_record(
    record: ak.Array, schema: str | None,
    selections: Mapping[str, tuple[int, float]] = PROMPT_OBJECTS,
) -> tuple[dict[str, Collection], Any]:
    """The prompt status-1 particles of each event (pt GeV, eta, phi) by name, for
    ``selections``: name → (\\|PDG id\\|, pT above which, GeV); and the Delphes record (None for
    NanoAOD), read once for all of them."""
    if schema == "delphes":
        particles = delphes_record(Collection.from_awkward(record, _DELPHES_RECORD))
        return prompt_particles(particles, selections), particles
    prompt = {
        name: Collection.from_awkward(
            record[prompt_mask(record.pdgId, record.status, record.statusFlags, record.pt, pdg,
                               pt_min=pt_min)], ("pt", "eta", "phi"))
        for name, (pdg, pt_min) in selections.items()
    }  # fmt: skip
    return prompt, None


def content_positions(collection: ak.Array) -> ak.Array:
    """Row of each object in its coffea collection's flat storage, whatever slicing was applied.

    This is the global index NanoAOD's ``...IdxG`` fields hold (``_apply_global_index`` reads it).
    Works on eager, virtual and typetracer arrays (map it over dask-awkward partitions).
    """

    def positions(layout: Any, **kwargs: Any) -> ak.contents.Content | None:
        if layout.is_record and layout.parameter("collection_name") is not None:
            return ak.local_index(layout, axis=0, highlevel=False)
        return None

    return ak.transform(positions, collection)


def _rule(schema: Schema | None, source: str, kind: str, fields: set[str]) -> Selection:
    pdg = OBJECT_PDG.get(kind, 0)
    if not pdg:
        return Selection()
    if schema is not None and source == schema.record_source:
        return Selection(f"prompt-{schema.name}", pdg)
    return Selection("pdg", pdg) if "pdgId" in fields else Selection()


def truth_columns(
    collection: Any, *, source: str, kind: str, model: KindModel, schema: Schema | None
) -> tuple[dict[str, Any], Selection]:
    """Columns to read from a truth collection (eager or dask-awkward), by engine name.

    Arguments:
        collection: the truth collection as the user gives it (``events.GenJet``, ...).
        source: its collection name; kind: the model kind; model: the kind's model.
        schema: the events' schema (``None`` for other coffea schemas).

    Returns:
        ``({name: column}, selection)``; per-event columns for MET.

    Raises:
        ValueError: a column the model needs is missing (names it and lists what there is).
    """
    fields = set(collection.fields)
    rule = _rule(schema, source, kind, fields)
    if rule.rule == "prompt-delphes":  # the selection computes pdgId and iso itself
        rename, read = _DELPHES_NAMES, list(_DELPHES_RECORD)
    else:
        rename = {"pt": "MET"} if kind == "met" and "MET" in fields else {}
        read = list(model.input_fields)
        read += _NANOAOD_RECORD if rule.rule == "prompt-nanoaod" else ()
        read += [n for n in ("pdgId", "charge") if kind in OBJECT_PDG and n in fields]
    read = list(dict.fromkeys(read))
    derived = derivable(model, schema.name if schema is not None else None)
    missing = [n for n in read if rename.get(n, n) not in fields and n not in derived]
    if missing:
        raise ValueError(
            f"truth collection {source!r} lacks field(s) {missing} needed for the {kind} model; "
            f"it has {sorted(fields)}"
        )
    columns = {n: collection[rename.get(n, n)] for n in read if rename.get(n, n) in fields}
    if kind == "met" and collection.ndim == 2:  # Delphes GenMissingET: a list of one per event
        columns = {n: c[:, 0] for n, c in columns.items()}
    return columns, rule


def derived_inputs(
    model: KindModel,
    truth: ak.Array,
    gen_jets: ak.Array | None,
    record: ak.Array | None = None,
    schema: str | None = None,
) -> dict[str, np.ndarray | ak.Array]:
    """Inputs of ``model`` that ``truth`` lacks and the chunk defines (see the module docstring).

    Arguments:
        model: the kind's model; truth: the chunk's truth objects (eager).
        gen_jets: the chunk's GenJets (``pt`` GeV, ``eta``, ``phi``; jagged), for the MET
            model's ``ht``/``njet`` and the e/μ/γ models' ``jet_iso``.
        record: the chunk's generator record (:func:`record_columns`), for the jets' prompt
            content (and Delphes ``hadronFlavour``), the e/μ/γ models' ``em_iso`` and
            ``muon_iso`` and the e/μ models' ``dressing``; None when not needed.
        schema: ``nanoaod`` or ``delphes``: how to read ``record``.
    """
    lacking = [n for n in derivable(model, schema if record is not None else None)
               if n not in ak.fields(truth) and n not in SAMPLED_FIELDS]  # fmt: skip
    if not lacking:
        return {}
    kind = model.spec.truth_kind
    if kind == "met":
        if gen_jets is None:
            raise ValueError(f"the {model.kind} model needs {lacking}: give the events' GenJets")
        ht, njet = jet_activity(Collection.from_awkward(gen_jets, ("pt", "eta", "phi")))
        values = {"ht": ht, "njet": njet.astype(np.float64)}
        return {n: values[n] for n in lacking}
    if kind != "jet":
        objects = Collection.from_awkward(truth, ("pt", "eta", "phi"))
        values = {}
        from_jets = [n for n in JET_SURROUNDINGS if n in lacking]
        if from_jets:
            if gen_jets is None:
                raise ValueError(f"the {model.kind} model needs {from_jets}: give the events' "
                                 "GenJets")
            jets = Collection.from_awkward(gen_jets, ("pt", "eta", "phi"))
            values.update(jet_surroundings(objects, jets))
        isolation = bool(set(lacking) & set(PROMPT_NEIGHBOURS))  # from the record's prompt e/μ/γ
        selections = {**(PROMPT_OBJECTS if isolation else {}),
                      **(DRESSING_PHOTONS if "dressing" in lacking else {})}
        prompt = _prompt_from_record(record, schema, selections)[0] if selections else {}
        if isolation:
            values.update(prompt_isolation(objects, kind, prompt))
        if "dressing" in lacking:
            values["dressing"] = lepton_dressing(objects, prompt["dressing_photons"])
        if "charge" in lacking:  # NanoAOD GenPart: from the PDG id (e-, mu- are +11, +13)
            values["charge"] = -np.sign(ak.to_numpy(ak.flatten(truth.pdgId))).astype(np.float64)
        return {n: ak.unflatten(values[n], objects.counts) for n in lacking}
    jets = Collection.from_awkward(truth, ("pt", "eta", "phi"))
    values = {}
    if set(lacking) & set(NEIGHBOUR_INPUTS):
        values.update(neighbour_context(jets))
    if set(lacking) - set(NEIGHBOUR_INPUTS):  # from the record: prompt content, hadronFlavour
        prompt, particles = _prompt_from_record(record, schema)
        values.update(prompt_content(jets, prompt))
        if particles is not None:
            values["hadronFlavour"] = delphes_hadron_flavour(jets, particles)
    return {n: ak.unflatten(values[n], jets.counts) for n in lacking}


def derivable(model: KindModel, schema: str | None = None) -> list[str]:
    """The inputs of ``model`` that :func:`derived_inputs` can compute (given the generator
    record of ``schema`` events: ``nanoaod`` or ``delphes``)."""
    kind = model.spec.truth_kind
    names = _DERIVED.get(kind, ())
    names += _DERIVED_FROM_RECORD.get(schema, {}).get(kind, ()) if schema else ()
    return [n for n in names if n in model.input_fields]
