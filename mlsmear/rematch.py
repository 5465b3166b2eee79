"""Pairs written before the second jet-matching pass, brought up to it.

``mlsmear generate`` matches jets in two passes (:mod:`mlsmear.physics.matching`): ΔR < 0.2,
then the jets left without a partner within their radius (:data:`LEFTOVER_DR`). Pairs written
before that pass hold the off-axis reconstructions as a lost truth jet plus a reco-only jet;
:func:`rematch_pairs` pairs them as the generator now does, from the pairs alone (no
regeneration), and records it in ``meta.json``. Pairs matched by a stored link (NanoAOD's
``Jet_genJetIdx``) are refused: they were not matched by ΔR.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .pairs import META_FILE, RECO_ONLY, TABLES, read_meta, read_pairs, write_pairs
from .physics.matching import LEFTOVER_DR, match_leftovers

__all__ = ["rematch_pairs"]


def rematch_pairs(directory: str | os.PathLike[str]) -> dict[str, int]:
    """Apply the second matching pass to a pairs directory in place.

    Returns the number of truth objects per kind that found their partner (empty when the
    directory had the pass already). The files are replaced only once all are written.
    """
    directory = Path(directory)
    meta = read_meta(directory)
    if meta.get("leftover_dr") == LEFTOVER_DR:
        return {}
    if "match_dr" not in meta:
        raise ValueError(
            f"{str(directory)!r}: its truth and reco objects were not matched by ΔR (no "
            "'match_dr' in meta.json, e.g. NanoAOD's stored links): nothing to rematch"
        )
    present = [t for t in TABLES if (directory / f"{t}.parquet").is_file()]
    tables = {t: read_pairs(directory, t, as_numpy=True) for t in present}
    found = {}
    for kind in LEFTOVER_DR:
        if kind in tables and RECO_ONLY[kind] in tables:
            before = int(np.count_nonzero(tables[kind]["matched"]))
            tables[kind], tables[RECO_ONLY[kind]] = match_leftovers(
                kind, tables[kind], tables[RECO_ONLY[kind]]
            )
            found[kind] = int(np.count_nonzero(tables[kind]["matched"])) - before
    note = (f"second matching pass ({LEFTOVER_DR}) applied afterwards by "
            f"mlsmear.rematch.rematch_pairs: {found} truth objects found their partner")
    upgraded = {**meta, "leftover_dr": LEFTOVER_DR, "notes": [*meta.get("notes", []), note]}
    staging = Path(tempfile.mkdtemp(prefix=".rematch-", dir=directory))
    try:
        write_pairs(staging, tables, upgraded)
        for name in [f"{t}.parquet" for t in present] + [META_FILE]:  # meta.json last
            os.replace(staging / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return found
