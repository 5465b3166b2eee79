"""Photons from lost electrons: an electron whose track is lost comes back as a photon.

A detector that fails to reconstruct an electron often still measures its shower: without a
track, the calorimeter deposit becomes a photon. Measured on Delphes CMS, 89 % of the photons
above 25 GeV that no truth photon explains lie within ΔR 0.1 of a truth electron that Delphes
did not reconstruct as an electron (never of one it did), and in an electron gun a lost electron
inside |η| < 2.5 comes back as a photon 52 % of the time. Without them every selection with a
photon comes out at half the teacher's yield.

The model of kind :data:`KIND` (``photon_from_electron``) reads the truth electrons (the
electron model's inputs) and reconstructs a photon, or nothing, from each electron the electron
model *lost*: in training the electrons the teacher lost, each with the teacher's photon of no
truth partner closest within :data:`MATCH_DR` (:func:`teacher_table`); when smearing, every
truth electron is sampled with it and those whose electron was reconstructed are dropped
(:func:`from_lost`), so the draws stay keyed by (event, electron index) whatever the chunking.
Its photons join the photon collection (:func:`joined`): ``from_electron`` says which ones they
are, and their ``truth_index`` is then the electron's.
"""

from __future__ import annotations

from collections.abc import Mapping

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .pairs import RECO_ONLY
from .physics.matching import match_rows

__all__ = [
    "KIND", "MATCH_DR", "from_lost", "joined", "linked", "teacher_table", "with_teacher_table",
]

KIND = "photon_from_electron"
#: Cone (ΔR, electron truth direction to the reco photon) of the teacher's photon of an electron.
MATCH_DR = 0.1


def teacher_table(electrons: pa.Table, photons_reco_only: pa.Table | None) -> pa.Table:
    """The ``photon_from_electron`` pairs of a teacher: the rows of the electrons it lost,
    ``matched`` = it made a photon of the electron, ``reco_*`` that photon (NaN otherwise).

    Arguments:
        electrons: the electron pairs table; photons_reco_only: the teacher's photons without a
            truth partner (``photon_reco_only``; None: there are none).
    """
    lost = electrons.filter(pc.invert(electrons.column("matched")))
    event = lost.column("event").to_numpy()
    names = ("pt", "eta", "phi", "mass")
    reco = {q: np.full(len(lost), np.nan, np.float32) for q in names}
    matched = np.zeros(len(lost), dtype=bool)
    if photons_reco_only is not None:
        photons = {q: photons_reco_only.column(f"reco_{q}").to_numpy() for q in names}
        match = match_rows(
            event, lost.column("truth_eta").to_numpy(), lost.column("truth_phi").to_numpy(),
            photons_reco_only.column("event").to_numpy(), photons["eta"], photons["phi"],
            dr_max=MATCH_DR,
        )
        matched = match >= 0
        for q in names:
            reco[q][matched] = photons[q][match[matched]]
    table = lost.drop_columns(
        [c for c in lost.column_names if c.startswith("reco_") or c == "matched"]
    )
    table = table.append_column("matched", pa.array(matched))
    for q in names:
        table = table.append_column(f"reco_{q}", pa.array(reco[q]))
    return table


def with_teacher_table(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """``tables`` with the ``photon_from_electron`` pairs (:func:`teacher_table`) added when
    they hold electrons and their teacher's photons without a truth partner."""
    out = dict(tables)
    if "electron" in tables and RECO_ONLY["photon"] in tables and KIND not in tables:
        out[KIND] = teacher_table(tables["electron"], tables[RECO_ONLY["photon"]])
    return out


def from_lost(photons: ak.Array, electrons: ak.Array) -> ak.Array:
    """The ``photon_from_electron`` objects (the :func:`mlsmear.smear` output of every truth
    electron, ``truth_index`` = the electron's) whose electron is not among the reconstructed
    ``electrons`` (the electron model's output for the same truth electrons)."""
    counts = ak.to_numpy(ak.num(photons, axis=1)).astype(np.int64)
    if counts.sum() == 0:
        return photons
    # one number per (event, electron): event row × a bound above every index, + the index
    bound = 1 + max(int(ak.max(photons.truth_index, axis=None, initial=0)),
                    int(ak.max(electrons.truth_index, axis=None, initial=0)))
    def codes(objects: ak.Array) -> np.ndarray:
        n = ak.to_numpy(ak.num(objects, axis=1)).astype(np.int64)
        return np.repeat(np.arange(n.size), n) * bound + ak.to_numpy(
            ak.flatten(objects.truth_index)).astype(np.int64)
    keep = ~np.isin(codes(photons), codes(electrons))
    return photons[ak.unflatten(keep, counts)]


def joined(photons: ak.Array, from_electrons: ak.Array) -> ak.Array:
    """One photon collection of the photon model's photons and those of lost electrons, pT-ordered
    per event, with ``from_electron`` (bool) telling them apart (``truth_index`` indexes the
    truth photons, or the truth electrons where ``from_electron``)."""
    parts = [
        ak.with_field(objects, ak.values_astype(ak.zeros_like(objects.pt), bool) | flag,
                      "from_electron")
        for objects, flag in ((photons, False), (from_electrons, True))
    ]
    both = ak.concatenate(parts, axis=1)
    return both[ak.argsort(both.pt, axis=1, ascending=False, stable=True)]


def linked(
    photons: ak.Array, photon_truth: ak.Array, electron_truth: ak.Array
) -> tuple[ak.Array, ak.Array]:
    """For a schema's links (NanoAOD ``genPartIdx``): one truth collection of the link
    ``position`` of the truth photons, then of the truth electrons, and the :func:`joined`
    photons with ``truth_index`` into it."""
    shift = ak.where(photons.from_electron, ak.num(photon_truth, axis=1), 0)
    photons = ak.with_field(photons, photons.truth_index + shift, "truth_index")
    positions = ak.concatenate([photon_truth.position, electron_truth.position], axis=1)
    return ak.zip({"position": positions}), photons
