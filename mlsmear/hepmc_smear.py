"""Smear blocks of HepMC events into NanoAOD collections (``mlsmear smear`` on HepMC files).

Per block of events (:class:`~mlsmear.readers.hepmc.EventBlock`): the truth objects of
``mlsmear generate`` (:meth:`~mlsmear.readers.hepmc.EventBlock.truth`), smeared as whole events
(:func:`mlsmear.whole_event.smear_event`: objects first, then MET), laid out as the NanoAOD
collections ``mlsmear.smear_events`` writes (:class:`mlsmear.coffea.collections.OutputForm`:
``Jet`` with ``genJetIdx``, ``Electron`` / ``Muon`` / ``Photon`` with ``pdgId`` and
``genPartIdx``, ``MET``), together with the truth those links point into:

- ``GenJet``: the truth jets, every field the models read (``pt``, ``eta``, ``phi``, ``mass`` in
  GeV, ``hadronFlavour``, ``dr_nearest``, ``nb_pt_ratio``, ``activity``, ``muon_frac``,
  ``em_frac``);
- ``GenPart``: the prompt final-state electrons, then muons, then photons of each event (pT > 5
  GeV; ``pdgId``, ``charge``, ``iso``, ``jet_iso``, ``nb_jet_dr``, ``nb_jet_ratio``, ``em_iso``,
  ``muon_iso``, ``status`` 1,
  ``genPartIdxMother`` -1: their mothers are not stored; the fields the three kinds share, so
  not the leptons' ``dressing``). Like NanoAOD's pruned ``GenPart``, not the whole record;
- ``GenMET``: ``pt``, ``phi`` (the neutrinos; GeV), ``ht`` (GeV), ``njet``.

Event identity: ``run`` = ``luminosityBlock`` = 0 and ``event`` = the HepMC event number, as
for Delphes input; ``genWeight`` = the event's nominal weight. The random numbers are keyed on
the event number with the file's sample key folded in (:attr:`HepMCSource.sample_id
<mlsmear.readers.hepmc.HepMCSource.sample_id>`), exactly as ``mlsmear.smear(...,
event_id=numbers, sample_id=sample_id)``: the output of an event depends only on the seed, the
model, its truth, its number and its file, not on how the file is cut into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from .coffea.collections import OutputForm
from .coffea.schemas import NANOAOD
from .electron_photons import linked
from .model import Bundle
from .readers.hepmc import EventBlock
from .registry import load
from .whole_event import smear_event

__all__ = ["GEN_PART_KINDS", "HepMCChunk", "smear_hepmc_block", "truth_collections"]

#: Kinds of the prompt truth objects in ``GenPart``, in their order within an event.
GEN_PART_KINDS = ("electron", "muon", "photon")


@dataclass(frozen=True)
class HepMCChunk:
    """A block of HepMC events and what is needed to smear it (picklable, for workers).

    Attributes:
        block: the events.
        sample_id: the file's name in the event identity.
        model: a shipped bundle name or a bundle directory.
        seed: the sampling seed.
        kinds: the object kinds to smear (``jet``, ``electron``, ``muon``, ``photon``, ``met``).
    """

    block: EventBlock
    sample_id: str
    model: str
    seed: int
    kinds: tuple[str, ...]

    @property
    def n_events(self) -> int:
        """Number of events in the chunk."""
        return self.block.n_events


def _rows(counts: np.ndarray, first: np.ndarray) -> ak.Array:
    """Jagged flat rows ``first[e]``, ``first[e] + 1``, ... (``counts[e]`` of them) per event."""
    local = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return ak.unflatten(np.repeat(first, counts) + local, counts)


def _counts(collection: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.num(collection, axis=1)).astype(np.int64)


def truth_collections(
    objects: dict[str, ak.Array],
) -> tuple[dict[str, ak.Array], dict[str, ak.Array], dict[str, np.ndarray]]:
    """The truth written beside the smeared objects, and where their links point.

    Arguments:
        objects: truth collections by kind (:attr:`HepMCTruth.objects
            <mlsmear.readers.hepmc.HepMCTruth.objects>`).

    Returns:
        The collections ``GenJet``, ``GenPart``, ``GenMET`` (module docstring); the truth
        objects by kind with their flat row in ``GenJet`` (jets) or ``GenPart`` (e, mu, gamma)
        as the field ``position``; and by kind the objects per event of that collection (what
        :meth:`OutputForm.build <mlsmear.coffea.collections.OutputForm.build>` needs).
    """
    jets = objects["jet"]
    jet_counts = _counts(jets)
    placed = {"jet": ak.with_field(
        jets, _rows(jet_counts, np.cumsum(jet_counts) - jet_counts), "position"
    )}
    sources = {"jet": jet_counts}
    prompt = [objects[kind] for kind in GEN_PART_KINDS]
    counts = np.stack([_counts(collection) for collection in prompt])
    part_counts = counts.sum(axis=0)
    first = np.cumsum(part_counts) - part_counts + np.cumsum(counts, axis=0) - counts
    for kind, collection, n, start in zip(GEN_PART_KINDS, prompt, counts, first, strict=True):
        placed[kind] = ak.with_field(collection, _rows(n, start), "position")
        sources[kind] = part_counts
    shared = [f for f in prompt[0].fields if all(f in c.fields for c in prompt[1:])]
    gen_part = ak.concatenate([c[shared] for c in prompt], axis=1)  # one record type, no union
    gen_part = ak.with_field(gen_part, ak.values_astype(ak.ones_like(gen_part.pt), np.int32),
                             "status")
    gen_part = ak.with_field(
        gen_part, ak.values_astype(ak.full_like(gen_part.pt, -1), np.int32), "genPartIdxMother"
    )
    return {"GenJet": jets, "GenPart": gen_part, "GenMET": objects["met"]}, placed, sources


def smear_hepmc_block(chunk: HepMCChunk) -> tuple[dict[str, np.ndarray], dict[str, ak.Array]]:
    """Smear one block of HepMC events (module docstring).

    Returns:
        ``({"run", "luminosityBlock", "event", "genWeight"}: one entry per event,
        {collection name: collection})``: the smeared collections of ``chunk.kinds`` in NanoAOD
        form (``Jet``, ..., ``MET``) and the truth (``GenJet``, ``GenPart``, ``GenMET``).

    Raises:
        ValueError: an event that does not parse; a model that lacks what a kind needs.
    """
    truth = chunk.block.truth()
    loaded = load(chunk.model)
    bundle = loaded if isinstance(loaded, Bundle) else Bundle(loaded.kind, {loaded.kind: loaded})
    reco = smear_event(
        truth.objects, bundle=bundle, seed=chunk.seed, event_id=truth.numbers,
        sample_id=chunk.sample_id, kinds=chunk.kinds, device="auto",
    )
    gen, placed, sources = truth_collections(truth.objects)
    collections: dict[str, Any] = {}
    for kind in chunk.kinds:
        target = NANOAOD.target(kind)
        form = OutputForm(NANOAOD.name, target, NANOAOD.links.get(target.source))
        objects, truth_of = reco[kind], placed.get(kind)
        if "from_electron" in objects.fields:  # photons of lost electrons link to the electron
            truth_of, objects = linked(objects, placed["photon"], placed["electron"])
        collections[target.name] = form.build(objects, truth_of, sources.get(kind))
    collections.update(gen)
    zeros = np.zeros(truth.numbers.size, dtype=np.uint32)
    columns = {
        "run": zeros,
        "luminosityBlock": zeros,
        "event": truth.numbers,
        "genWeight": truth.weights,
    }
    return columns, collections
