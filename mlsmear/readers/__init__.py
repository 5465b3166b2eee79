"""Readers that turn users' own samples into the pairs format (:mod:`mlsmear.pairs`).

``pairs_from_source`` accepts a pairs directory, a CMS NanoAOD file (tree ``Events``), a Delphes
file (tree ``Delphes``), or a list of them, and returns ``{kind: pyarrow.Table}``.

:mod:`mlsmear.readers.hepmc` reads the truth of HepMC files in blocks of events (the HepMC input
of ``mlsmear smear``; imported on its own).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa

from ..pairs import TABLES, is_pairs_directory, read_pairs
from ._uproot import concatenate_pairs, tree_names
from .delphes import read_pairs_from_delphes
from .nanoaod import nanoaod_event_id, read_pairs_from_nanoaod

__all__ = [
    "nanoaod_event_id",
    "pairs_from_source",
    "read_pairs_from_delphes",
    "read_pairs_from_nanoaod",
]

_TREES: dict[str, Callable[..., dict[str, pa.Table]]] = {
    "Events": read_pairs_from_nanoaod, "Delphes": read_pairs_from_delphes,
}

Source = str | os.PathLike[str]


def _one_source(source: Source, met: str = "auto") -> dict[str, pa.Table]:
    path = Path(source)
    if path.is_dir():
        if not is_pairs_directory(path):
            raise ValueError(f"{str(path)!r} is a directory but not a pairs directory (meta.json)")
        return {
            kind: read_pairs(path, kind) for kind in TABLES if (path / f"{kind}.parquet").is_file()
        }
    if not path.is_file():
        raise FileNotFoundError(f"no such pairs directory or ROOT file: {str(path)!r}")
    trees = tree_names(str(path))
    for tree, reader in _TREES.items():
        if tree in trees:
            return reader(path, met=met) if tree == "Events" else reader(path)
    raise ValueError(
        f"{str(path)!r} is neither NanoAOD (tree 'Events') nor Delphes (tree 'Delphes'); "
        f"its trees are {trees}"
    )


def pairs_from_source(
    source: Source | Sequence[Source], *, met: str = "auto"
) -> dict[str, pa.Table]:
    """Pairs tables (kind -> pyarrow Table) of a pairs directory, a NanoAOD or Delphes ROOT file,
    or a list of those (joined kind by kind; event identities must stay unique). ``met``: the
    NanoAOD reco MET collection (``"auto"``: ``MET``, else Run-3 ``PFMET``; or ``PuppiMET``...)."""
    if isinstance(source, str | os.PathLike):
        return _one_source(source, met)
    return concatenate_pairs([_one_source(s, met) for s in source])
