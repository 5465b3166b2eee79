"""Helpers shared by the ROOT readers: open a tree with clear errors, jagged branches ->
collections, and joining the pairs tables of several files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import awkward as ak
import numpy as np
import pyarrow as pa
import uproot

from ..pairs import TABLES, validate_table
from ..physics.collection import Collection
from ..physics.truth import jet_activity

__all__ = [
    "as_paths",
    "concatenate_pairs",
    "flat_values",
    "jagged_collection",
    "missing_et",
    "open_tree",
    "read_branches",
    "tree_names",
]


def as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """One path or an iterable of paths as a list of strings."""
    if isinstance(paths, str | os.PathLike):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def tree_names(path: str) -> list[str]:
    """Names of the TTrees of a ROOT file; FileNotFoundError / ValueError when unreadable."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such ROOT file: {path!r}")
    try:
        classes = uproot.open(path).classnames()
    except (OSError, ValueError) as err:
        raise ValueError(f"{path!r} is not a readable ROOT file: {err}") from None
    return sorted({key.split(";")[0] for key, cls in classes.items() if cls == "TTree"})


def open_tree(path: str, tree: str) -> uproot.TTree:
    """The tree ``tree`` of a ROOT file; FileNotFoundError / ValueError with what was found."""
    trees = tree_names(path)
    if tree not in trees:
        raise ValueError(f"{path!r} has no tree {tree!r}; its trees are {trees}")
    return uproot.open(path)[tree]


def read_branches(
    tree: uproot.TTree,
    path: str,
    needs: Mapping[str, Sequence[str]],
    optional: Sequence[str] = (),
) -> ak.Array:
    """Read the branches ``needs`` (reason -> branch names) and those of ``optional`` present;
    a missing needed branch is a ``ValueError`` naming it and the reason."""
    present = set(tree.keys(full_paths=False))
    for why, branches in needs.items():
        missing = [b for b in branches if b not in present]
        if missing:
            raise ValueError(f"{path!r} lacks the branches {missing}: {why}")
    wanted = [b for group in needs.values() for b in group]
    return tree.arrays(wanted + [b for b in optional if b in present and b not in wanted])


def missing_et(
    arrays: ak.Array, truth: tuple[str, str], reco: tuple[str, str], gen_jets: Collection
) -> tuple[Collection, Collection]:
    """(truth, reco) missing-ET collections from (pt, phi) branches; the truth one also gets
    ``ht`` and ``njet`` of the GenJets (:func:`~mlsmear.physics.truth.jet_activity`)."""
    ht, njet = jet_activity(gen_jets)
    truth_met = {"pt": flat_values(arrays[truth[0]]), "phi": flat_values(arrays[truth[1]])}
    reco_met = {"pt": flat_values(arrays[reco[0]]), "phi": flat_values(arrays[reco[1]])}
    return (
        Collection.one_per_event({**truth_met, "ht": ht, "njet": njet}),
        Collection.one_per_event(reco_met),
    )


def flat_values(array: ak.Array) -> np.ndarray:
    """Numpy values of a flat or jagged branch (all objects of all events)."""
    return ak.to_numpy(ak.flatten(array, axis=None))


def jagged_collection(arrays: ak.Array, columns: Mapping[str, str]) -> Collection:
    """Collection from jagged branches of one object collection (column name -> branch)."""
    first = arrays[next(iter(columns.values()))]
    counts = ak.to_numpy(ak.num(first, axis=1))
    flat = {name: flat_values(arrays[branch]) for name, branch in columns.items()}
    return Collection.from_counts(counts, flat)


def concatenate_pairs(parts: Sequence[Mapping[str, pa.Table]]) -> dict[str, pa.Table]:
    """Join the pairs tables of several sources kind by kind (validated), checking that event
    identities are unique across them."""
    kinds = [kind for kind in TABLES if any(kind in part for part in parts)]
    joined = {}
    for kind in kinds:
        tables = [part[kind] for part in parts if kind in part]
        joined[kind] = validate_table(kind, pa.concat_tables(tables, promote_options="permissive"))
    if "met" in joined:
        events = joined["met"].column("event").to_numpy()
        if len(np.unique(events)) != len(events):
            raise ValueError("event identities are not unique across the inputs")
    return joined
