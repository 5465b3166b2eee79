"""Which truth collection feeds which reco collection, for each coffea schema mlsmear writes.

=========  ==============  ===========================  =====================================
schema     reco            truth                        links written
=========  ==============  ===========================  =====================================
NanoAOD    ``Jet``         ``GenJet``                   ``genJetIdx``, ``genJetIdxG``
NanoAOD    ``Electron``,   prompt status-1 ``GenPart``  ``genPartIdx``, ``genPartIdxG``
           ``Muon``,
           ``Photon``
NanoAOD    ``MET``         ``GenMET`` (+ ``GenJet``)    none
Delphes    ``Jet``         ``GenJet`` (+ ``Particle``)  none (Delphes stores no links)
Delphes    ``Electron``,   prompt status-1 ``Particle``  none
           ``Muon``,
           ``Photon``
Delphes    ``MissingET``   ``GenMissingET`` (+          none
                           ``GenJet``)
=========  ==============  ===========================  =====================================

Delphes GenJets carry no ``hadronFlavour``: a jet model that reads it gets it from ``Particle``
(:func:`mlsmear.readers.delphes.delphes_hadron_flavour`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "Schema", "NANOAOD", "DELPHES", "schema_of"]


@dataclass(frozen=True)
class Target:
    """A reco collection mlsmear can write.

    Arguments:
        name: the collection's field in the events (``Jet``, ``MET``, ...).
        kind: the model kind that smears it.
        source: the truth collection it is smeared from.
        record: the coffea behaviour record name (``Jet``, ``MissingET``, ...).
    """

    name: str
    kind: str
    source: str
    record: str


@dataclass(frozen=True)
class Schema:
    """A coffea schema mlsmear writes collections of.

    Arguments:
        name: ``nanoaod`` or ``delphes``.
        targets: the reco collections it can write.
        record_source: the generator record (prompt leptons and photons are chosen from it).
        links: truth collection → link field name that reco objects carry (NanoAOD ``...Idx``).
    """

    name: str
    targets: tuple[Target, ...]
    record_source: str
    links: Mapping[str, str]

    def target(self, kind: str) -> Target:
        """The reco collection a model of ``kind`` writes."""
        return next(t for t in self.targets if t.kind == kind)

    def select(self, names: Iterable[str] | None) -> list[Target]:
        """Targets by reco collection name (all when ``names`` is None); unknown names raise."""
        by_name = {t.name: t for t in self.targets}
        if names is None:
            return list(self.targets)
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(
                f"cannot smear {unknown} in {self.name} events; valid collections: {list(by_name)}"
            )
        return [by_name[n] for n in names]


def _particles(source: str, met: Target) -> tuple[Target, ...]:
    return (
        Target("Jet", "jet", "GenJet", "Jet"),
        Target("Electron", "electron", source, "Electron"),
        Target("Muon", "muon", source, "Muon"),
        Target("Photon", "photon", source, "Photon"),
        met,
    )


NANOAOD = Schema(
    "nanoaod",
    _particles("GenPart", Target("MET", "met", "GenMET", "MissingET")),
    record_source="GenPart",
    links={"GenJet": "genJetIdx", "GenPart": "genPartIdx"},
)
DELPHES = Schema(
    "delphes",
    _particles("Particle", Target("MissingET", "met", "GenMissingET", "MissingET")),
    record_source="Particle",
    links={},
)


def schema_of(events: Any) -> Schema | None:
    """The schema of coffea events (eager or dask-awkward), ``None`` if mlsmear does not write it.

    NanoAOD events carry ``run``/``luminosityBlock``/``event``; Delphes events an ``Event`` record
    with ``Number``.
    """
    fields = set(events.fields)
    if {"run", "luminosityBlock", "event"} <= fields:
        return NANOAOD
    if "Event" in fields and "Number" in events.Event.fields:
        return DELPHES
    return None
