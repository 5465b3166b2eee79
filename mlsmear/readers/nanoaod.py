"""CMS NanoAOD -> pairs, through the truth links stored in the file (uproot only, no coffea).

- Jets: truth = ``GenJet`` (with ``GenJet_hadronFlavour`` when present, and ``muon_frac`` /
  ``em_frac`` from the prompt ``GenPart`` below, :func:`mlsmear.physics.truth.prompt_content`); a
  GenJet is matched to the reco ``Jet`` whose ``Jet_genJetIdx`` points to it (to the leading one if
  several do); a GenJet no jet points to is not reconstructed (e.g. below the NanoAOD jet pT
  threshold). ``reco_btag`` = ``Jet_btagDeepFlavB > btag_threshold`` and ``reco_btagDeepFlavB`` =
  the discriminant itself (what a tag head learns) when that branch exists.
- Electrons, muons, photons: truth = prompt final-state ``GenPart`` (status 1, statusFlags isPrompt
  or isDirectPromptTauDecayProduct) of the kind's |pdgId| with pT > 5 GeV, with ``jet_iso``,
  ``nb_jet_dr`` and ``nb_jet_ratio`` from the GenJets and ``em_iso`` / ``muon_iso`` from the other
  prompt objects
  (:func:`mlsmear.physics.truth.relate_jets_and_prompt`), the leptons' ``dressing`` from the
  prompt status-1 photons of any pT (NanoAOD keeps them all); matched to the reco object
  whose ``<Object>_genPartIdx`` points to it. A kind whose reco collection is absent from the file
  (e.g. no ``Photon_pt``) is skipped; a present collection without its link branch is an error.
- MET: ``GenMET`` (truth) and ``MET`` (Run-3 NanoAOD v15: ``PFMET``; or another MET collection,
  e.g. ``PuppiMET``, with ``met=``);
  ``truth_ht`` / ``truth_njet`` from GenJets with pT > 20 GeV.

Event identity: :func:`nanoaod_event_id` of (run, luminosityBlock, event).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa

from ..kinds import KINDS, OBJECT_PDG
from ..physics.collection import Collection
from ..physics.matching import pair_tables
from ..physics.truth import (
    JET_SURROUNDINGS,
    PROMPT_NEIGHBOURS,
    TRUTH_OBJECT_PT_MIN,
    dressed,
    neighbour_context,
    relate_jets_and_prompt,
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

__all__ = ["PROMPT_FLAGS", "nanoaod_event_id", "prompt_mask", "read_pairs_from_nanoaod"]

#: GenPart_statusFlags bits of a prompt object: isPrompt (0), isDirectPromptTauDecayProduct (5).
PROMPT_FLAGS = (1 << 0) | (1 << 5)
_RECO = {kind: KINDS[kind].collection for kind in OBJECT_PDG}
_KINEMATICS = ("pt", "eta", "phi", "mass")
_GENPART = (*_KINEMATICS, "pdgId", "status", "statusFlags")
_MASK63 = np.uint64(2**63 - 1)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def nanoaod_event_id(run: np.ndarray, lumi: np.ndarray, event: np.ndarray) -> np.ndarray:
    """One int64 per event from (run, luminosityBlock, event).

    ``splitmix64(splitmix64(splitmix64(run) ^ lumi) ^ event)`` with the sign bit cleared: a hash,
    not invertible; two different events share an identity with probability ~ N^2 / 2^64, and
    the reader checks that the identities of its input are unique.
    """

    def u64(values: np.ndarray) -> np.ndarray:
        return np.asarray(values).astype(np.uint64)

    with np.errstate(over="ignore"):
        mixed = _splitmix64(_splitmix64(_splitmix64(u64(run)) ^ u64(lumi)) ^ u64(event))
    return (mixed & _MASK63).astype(np.int64)


def prompt_mask(
    pdg_id: Any, status: Any, status_flags: Any, pt: Any, pdg: int,
    pt_min: float = TRUTH_OBJECT_PT_MIN,
) -> Any:
    """True for the prompt truth objects of |PDG id| ``pdg`` among ``GenPart`` rows: status 1,
    ``statusFlags`` isPrompt or isDirectPromptTauDecayProduct (:data:`PROMPT_FLAGS`),
    pT > ``pt_min`` GeV (default :data:`~mlsmear.physics.truth.TRUTH_OBJECT_PT_MIN`; 0 for the
    photons that dress the leptons: NanoAOD keeps the prompt photons of every pT).

    Element-wise on arrays of one shape: flat numpy columns or (jagged) awkward arrays alike.
    """
    return (
        (status == 1)
        & (abs(pdg_id) == pdg)
        & ((status_flags & PROMPT_FLAGS) != 0)
        & (pt > pt_min)
    )


def _match_from_index(
    n_truth: int,
    truth_row_of_target: np.ndarray,
    target_offsets: np.ndarray,
    reco: Collection,
    local_index: np.ndarray,
) -> np.ndarray:
    """Match array (truth row -> reco row, -1) from each reco object's index into a target
    collection (GenJet or GenPart) of its event; the first reco object wins a shared target."""
    event = reco.event_index
    n_target = np.diff(target_offsets)[event]
    valid = (local_index >= 0) & (local_index < n_target)
    truth_row = truth_row_of_target[target_offsets[event[valid]] + local_index[valid]]
    reco_row = np.flatnonzero(valid)[truth_row >= 0]
    truth_row = truth_row[truth_row >= 0]
    rows, first = np.unique(truth_row, return_index=True)
    match = np.full(n_truth, -1, dtype=np.int64)
    match[rows] = reco_row[first]
    return match


def _read_file(
    path: str, tree_name: str, met: str, btag_branch: str, btag_threshold: float
) -> dict[str, pa.Table]:
    tree = open_tree(path, tree_name)
    keys = set(tree.keys(full_paths=False))
    met = met_collection(keys, met, path)
    needs = {
        "event identity": ["run", "luminosityBlock", "event"],
        "truth jets": [f"GenJet_{c}" for c in _KINEMATICS],
        "reco jets": [f"Jet_{c}" for c in _KINEMATICS],
        "reco jets cannot be linked to their GenJets": ["Jet_genJetIdx"],
        "missing ET": ["GenMET_pt", "GenMET_phi", f"{met}_pt", f"{met}_phi"],
    }
    kinds = [kind for kind, name in _RECO.items() if f"{name}_pt" in keys]
    for kind in kinds:
        needs[f"{kind}s"] = [f"{_RECO[kind]}_{c}" for c in (*_KINEMATICS, "genPartIdx")]
    needs["prompt truth leptons and photons"] = [f"GenPart_{c}" for c in _GENPART]
    optional = [f"{_RECO[k]}_charge" for k in kinds] + ["GenJet_hadronFlavour", btag_branch]
    arrays = read_branches(tree, path, needs, optional)

    event_ids = nanoaod_event_id(
        *(flat_values(arrays[b]) for b in ("run", "luminosityBlock", "event"))
    )
    gen_jets = jagged_collection(arrays, {c: f"GenJet_{c}" for c in _KINEMATICS})
    gen = jagged_collection(arrays, {c: f"GenPart_{c}" for c in _GENPART})
    prompt = {
        kind: prompt_mask(gen["pdgId"], gen["status"], gen["statusFlags"], gen["pt"], pdg)
        for kind, pdg in OBJECT_PDG.items()
    }
    related = relate_jets_and_prompt(
        gen_jets, {kind: gen.select(mask) for kind, mask in prompt.items()}
    )
    extra = neighbour_context(gen_jets)
    if "GenJet_hadronFlavour" in keys:
        extra["hadronFlavour"] = flat_values(arrays["GenJet_hadronFlavour"])
    truth = {"jet": related["jet"].with_columns(**extra)}
    photons = gen.select(
        prompt_mask(gen["pdgId"], gen["status"], gen["statusFlags"], gen["pt"], 22, pt_min=0.0)
    )
    jets = jagged_collection(arrays, {c: f"Jet_{c}" for c in _KINEMATICS})
    if btag_branch in keys:
        discriminant = flat_values(arrays[btag_branch])
        jets = jets.with_columns(btag=discriminant > btag_threshold, btagDeepFlavB=discriminant)
    reco = {"jet": jets}
    matches = {
        "jet": _match_from_index(
            len(gen_jets), np.arange(len(gen_jets)), gen_jets.offsets, jets,
            flat_values(arrays["Jet_genJetIdx"]),
        )
    }  # fmt: skip
    objects = {}
    for kind in kinds:
        objects[kind], reco[kind], matches[kind] = _objects(kind, gen, prompt[kind], arrays, keys)
        objects[kind] = objects[kind].with_columns(
            **{c: related[kind][c] for c in (*JET_SURROUNDINGS, *PROMPT_NEIGHBOURS)}
        )
    truth.update(dressed(objects, photons))
    truth["met"], reco["met"] = missing_et(
        arrays, ("GenMET_pt", "GenMET_phi"), (f"{met}_pt", f"{met}_phi"), gen_jets
    )
    tables = pair_tables(event_ids, truth, reco, matches=matches)
    return {kind: pa.table(columns) for kind, columns in tables.items()}


def _objects(
    kind: str, gen: Collection, prompt: np.ndarray, arrays: ak.Array, keys: set[str]
) -> tuple[Collection, Collection, np.ndarray]:
    """(truth, reco, match) of electrons, muons or photons (``prompt``: their GenPart rows)."""
    name, pdg = _RECO[kind], OBJECT_PDG[kind]
    objects = gen.select(prompt)
    charge = -np.sign(objects["pdgId"]) * (pdg != 22)
    truth = Collection(
        objects.offsets,
        {**{c: objects[c] for c in _KINEMATICS}, "pdgId": objects["pdgId"], "charge": charge},
    )
    reco = jagged_collection(arrays, {c: f"{name}_{c}" for c in _KINEMATICS})
    reco_charge = (
        flat_values(arrays[f"{name}_charge"]) if f"{name}_charge" in keys else np.zeros(len(reco))
    )
    reco = reco.with_columns(charge=reco_charge)
    truth_row_of_gen = np.full(len(gen), -1, dtype=np.int64)
    truth_row_of_gen[prompt] = np.arange(len(objects))
    match = _match_from_index(
        len(objects), truth_row_of_gen, gen.offsets, reco, flat_values(arrays[f"{name}_genPartIdx"])
    )
    return truth, reco, match


#: Reco missing-ET collections ``met="auto"`` looks for, in order: Run 2 (``MET``), Run 3
#: NanoAOD v15 (``PFMET``; ``PuppiMET`` on request).
MET_AUTO = ("MET", "PFMET")


def met_collection(keys: Iterable[str], met: str, path: str = "") -> str:
    """The reco MET collection to read: ``met`` itself, or for ``"auto"`` the first of
    :data:`MET_AUTO` the file has; ``ValueError`` listing the MET collections it has."""
    keys = set(keys)
    if met != "auto":
        if f"{met}_pt" in keys or not any(k.endswith("MET_pt") for k in keys):
            return met
    else:
        for name in MET_AUTO:
            if f"{name}_pt" in keys:
                return name
    present = sorted(k[:-3] for k in keys if k.endswith("MET_pt") and not k.startswith("Gen"))
    raise ValueError(
        f"{path}: no reco MET collection {met!r} (branches {met}_pt, {met}_phi); this file has "
        f"{present}: choose one with met= (mlsmear train/validate --met), e.g. PFMET or PuppiMET "
        "for Run-3 NanoAOD"
    )


def read_pairs_from_nanoaod(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    tree: str = "Events",
    met: str = "auto",
    btag_branch: str = "Jet_btagDeepFlavB",
    btag_threshold: float = 0.3,
) -> dict[str, pa.Table]:
    """Pairs tables (kind -> pyarrow Table, see :mod:`mlsmear.pairs`) of NanoAOD files.

    Arguments:
        paths: one NanoAOD ROOT file or several.
        tree: the events tree.
        met: reco missing-ET collection (branches ``<met>_pt``, ``<met>_phi``): ``"auto"``
            (``MET``, else Run-3 ``PFMET``), or a name such as ``PuppiMET``.
        btag_branch, btag_threshold: ``reco_btag`` is ``btag_branch > btag_threshold`` (about the
            DeepJet medium working point by default); omitted if the branch is absent.
    """
    parts = [_read_file(p, tree, met, btag_branch, btag_threshold) for p in as_paths(paths)]
    return concatenate_pairs(parts)
