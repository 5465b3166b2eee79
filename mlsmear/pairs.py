"""The pairs format: truth <-> reco object pairs, the contract between ``generate``, the readers,
training and validation (DESIGN.md section 5).

A pairs directory holds ``jet.parquet``, ``electron.parquet``, ``muon.parquet``,
``photon.parquet`` (one row per *truth* object) and ``met.parquet`` (one row per event), plus
``meta.json``. Columns and their stored types:

=================================== ========= ===============================================
``event``                           int64     event identity, unique within the directory
``truth_pt/eta/phi/mass``           float32   truth kinematics (GeV; leptons and photons too)
``matched``                         bool      false: the object was not reconstructed
``reco_pt/eta/phi/mass``            float32   reco kinematics, NaN when not matched
MET: ``truth_pt``, ``truth_phi``    float32   GenMET (GeV)
MET: ``truth_ht``                   float32   scalar sum of GenJet pT > 20 GeV
MET: ``truth_njet``                 int32     number of those GenJets
MET: ``reco_pt``, ``reco_phi``      float32   reconstructed missing ET (GeV)
=================================== ========= ===============================================

Optional columns with fixed names and types: ``truth_hadronFlavour`` (int8: 5, 4, 0),
``truth_dr_nearest``, ``truth_nb_pt_ratio``, ``truth_activity``, ``truth_muon_frac``,
``truth_em_frac`` (float32), ``reco_btagDeepFlavB`` (float32, NanoAOD), ``reco_btag`` (bool,
false when not matched), ``truth_charge``, ``reco_charge`` (int8, 0 when not matched),
``truth_pdgId`` (int32), ``truth_iso``, ``truth_jet_iso``, ``truth_nb_jet_dr``,
``truth_nb_jet_ratio``, ``truth_em_iso``, ``truth_muon_iso``,
``truth_dressing`` (float32; electrons and muons, from a full generator record: generated or
Delphes ``Particle``) and ``weight`` (float32,
per-row event weight; absent means every row has weight 1). Any other column is allowed and
stored as given.

Reco objects without a truth partner (fakes, non-prompt leptons, split jets) are kept too, so that
every event's full reco can be rebuilt: ``<kind>_reco_only.parquet`` (``jet_reco_only``, ...)
holds one row per such reco object with ``event`` and ``reco_pt/eta/phi/mass`` (plus the kind's
reco extras, e.g. ``reco_btag``). A pairs directory written before this existed simply has none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "EXTRA_COLUMNS",
    "KINDS",
    "META_FILE",
    "OBJECT_KINDS",
    "RECO_ONLY",
    "TABLES",
    "PairsWriter",
    "assemble_pairs",
    "is_pairs_directory",
    "read_meta",
    "read_pairs",
    "required_columns",
    "validate_table",
    "write_pairs",
]

OBJECT_KINDS = ("jet", "electron", "muon", "photon")
KINDS = (*OBJECT_KINDS, "met")
#: Table name of each object kind's reco objects without a truth partner.
RECO_ONLY = {kind: f"{kind}_reco_only" for kind in OBJECT_KINDS}
#: Every table a pairs directory may hold.
TABLES = (*KINDS, *RECO_ONLY.values())
FORMAT = "mlsmear-pairs"
FORMAT_VERSION = 1
META_FILE = "meta.json"

_F = pa.float32()
_OBJECT_COLUMNS = {
    "event": pa.int64(),
    "truth_pt": _F,
    "truth_eta": _F,
    "truth_phi": _F,
    "truth_mass": _F,
    "matched": pa.bool_(),
    "reco_pt": _F,
    "reco_eta": _F,
    "reco_phi": _F,
    "reco_mass": _F,
}
_MET_COLUMNS = {
    "event": pa.int64(),
    "truth_pt": _F,
    "truth_phi": _F,
    "truth_ht": _F,
    "truth_njet": pa.int32(),
    "reco_pt": _F,
    "reco_phi": _F,
}
#: Optional columns whose names and types are fixed.
EXTRA_COLUMNS = {
    "truth_hadronFlavour": pa.int8(),
    "truth_dr_nearest": _F,
    "truth_nb_pt_ratio": _F,
    "truth_activity": _F,
    "truth_muon_frac": _F,
    "truth_em_frac": _F,
    "reco_btag": pa.bool_(),
    "reco_btagDeepFlavB": _F,
    "truth_charge": pa.int8(),
    "truth_pdgId": pa.int32(),
    "truth_iso": _F,
    "truth_jet_iso": _F,
    "truth_nb_jet_dr": _F,
    "truth_nb_jet_ratio": _F,
    "truth_em_iso": _F,
    "truth_muon_iso": _F,
    "truth_dressing": _F,
    "reco_charge": pa.int8(),
    "weight": _F,
}
_REQUIRED_META = ("generator", "n_events")


def required_columns(kind: str) -> dict[str, pa.DataType]:
    """The fixed columns of a kind, name -> stored arrow type."""
    _check_kind(kind)
    if kind in RECO_ONLY.values():
        return {n: t for n, t in _OBJECT_COLUMNS.items() if n.startswith(("event", "reco"))}
    return dict(_MET_COLUMNS if kind == "met" else _OBJECT_COLUMNS)


def _check_kind(kind: str) -> None:
    if kind not in TABLES:
        raise ValueError(f"unknown pairs kind {kind!r}; kinds are {list(TABLES)}")


def _as_table(data: pa.Table | Mapping[str, np.ndarray]) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    try:
        return pa.table({name: np.asarray(values) for name, values in data.items()})
    except (pa.ArrowInvalid, ValueError) as err:
        raise ValueError(f"columns do not form a table: {err}") from None


def validate_table(kind: str, data: pa.Table | Mapping[str, np.ndarray]) -> pa.Table:
    """Check a table of one kind against the format and cast it to the stored types.

    Raises ``ValueError`` naming missing columns, columns that cannot be cast, non-finite
    ``truth_pt``, or reco values that disagree with ``matched``.
    """
    required = required_columns(kind)
    table = _as_table(data)
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise ValueError(
            f"{kind} pairs lack the columns {missing}; required: {list(required)} "
            f"(got {table.column_names})"
        )
    fields = []
    for field in table.schema:
        target = required.get(field.name, EXTRA_COLUMNS.get(field.name, field.type))
        fields.append(pa.field(field.name, target))
    try:
        table = table.cast(pa.schema(fields))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ValueError(f"{kind} pairs: a column has the wrong type: {err}") from None
    if table.column("event").null_count:
        raise ValueError(f"{kind} pairs: 'event' has missing values")
    if kind in RECO_ONLY.values():
        return table
    truth_pt = table.column("truth_pt").to_numpy(zero_copy_only=False)
    if not np.all(np.isfinite(truth_pt)):
        raise ValueError(f"{kind} pairs: truth_pt has missing or non-finite values")
    if kind != "met":
        matched = table.column("matched").to_numpy(zero_copy_only=False)
        has_reco = ~np.isnan(table.column("reco_pt").to_numpy(zero_copy_only=False))
        if np.any(matched != has_reco):
            raise ValueError(f"{kind} pairs: reco_pt must be NaN exactly where matched is false")
    return table


def assemble_pairs(
    event: np.ndarray,
    truth: Mapping[str, np.ndarray],
    reco: Mapping[str, np.ndarray],
    match: np.ndarray,
) -> dict[str, np.ndarray]:
    """Columns of one object kind from truth columns, reco columns and a match index.

    Arguments:
        event: event identity of each truth object.
        truth: truth columns (one value per truth object), stored as ``truth_<name>``.
        reco: reco columns (one value per reco object), stored as ``reco_<name>``.
        match: row in ``reco`` of each truth object's partner, -1 when not reconstructed;
            unmatched rows get NaN (floats), 0 (integers) or false (bools); reco columns with
            a fixed integer or bool type (e.g. ``reco_charge``) are converted to it first.
    """
    matched = np.asarray(match) >= 0
    rows = np.where(matched, match, 0)
    columns: dict[str, np.ndarray] = {"event": np.asarray(event, dtype=np.int64)}
    columns.update({f"truth_{name}": np.asarray(values) for name, values in truth.items()})
    columns["matched"] = matched
    for name, values in reco.items():
        values = np.asarray(values)
        stored = EXTRA_COLUMNS.get(f"reco_{name}")
        if stored is not None and not pa.types.is_floating(stored):
            values = values.astype(stored.to_pandas_dtype())
        taken = values[rows] if len(values) else np.zeros(len(rows), values.dtype)
        fill = np.nan if values.dtype.kind == "f" else values.dtype.type(0)
        columns[f"reco_{name}"] = np.where(matched, taken, fill)
    return columns


class PairsWriter:
    """Write a pairs directory incrementally: one parquet row group per :meth:`write` and kind.

    Example:
        >>> with PairsWriter("cache/pairs/x") as writer:            # doctest: +SKIP
        ...     writer.write({"jet": jet_columns, "met": met_columns})
        ...     writer.close({"generator": "...", "n_events": 1000})
    """

    def __init__(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"output {str(self.directory)!r} exists and is not a directory")
        existing = [p.name for p in self._owned_files()]
        if existing and not overwrite:
            raise ValueError(
                f"output directory {str(self.directory)!r} already holds pairs files {existing}; "
                "choose another directory or overwrite"
            )
        for path in self._owned_files():
            path.unlink()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, int] = {}

    def _owned_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        names = [f"{kind}.parquet" for kind in TABLES] + [META_FILE]
        return [self.directory / n for n in names if (self.directory / n).exists()]

    def write(self, tables: Mapping[str, pa.Table | Mapping[str, np.ndarray]]) -> None:
        """Append tables (kind -> table or dict of numpy columns) after validating them."""
        for kind, data in tables.items():
            table = validate_table(kind, data)
            writer = self._writers.get(kind)
            if writer is None:
                writer = pq.ParquetWriter(  # page CRCs: flipped bytes are found on reading
                    self.directory / f"{kind}.parquet", table.schema, write_page_checksum=True
                )
                self._writers[kind] = writer
                self._rows[kind] = 0
            elif table.schema.names != writer.schema.names:
                raise ValueError(
                    f"{kind} pairs: columns {table.schema.names} differ from the first batch "
                    f"{writer.schema.names}"
                )
            else:
                table = table.cast(writer.schema)
            writer.write_table(table)
            self._rows[kind] += table.num_rows

    def close(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        """Finish the parquet files and write ``meta.json`` (needs 'generator', 'n_events').

        Returns the metadata as written (with ``format``, ``format_version`` and ``rows``).
        """
        missing = [key for key in _REQUIRED_META if key not in meta]
        if missing:
            raise ValueError(f"meta lacks {missing}; required keys: {list(_REQUIRED_META)}")
        self._finish()
        content = {
            **meta,
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rows": dict(self._rows),
        }
        text = json.dumps(content, indent=2, sort_keys=True, default=str)
        (self.directory / META_FILE).write_text(text + "\n", encoding="utf-8")
        return content

    def _finish(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> PairsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()


def write_pairs(
    directory: str | os.PathLike[str],
    tables: Mapping[str, pa.Table | Mapping[str, np.ndarray]],
    meta: Mapping[str, Any],
    *,
    overwrite: bool = False,
) -> None:
    """Write a complete pairs directory (kind -> table or dict of numpy columns, and meta)."""
    with PairsWriter(directory, overwrite=overwrite) as writer:
        writer.write(tables)
        writer.close(meta)


def is_pairs_directory(path: str | os.PathLike[str]) -> bool:
    """True for a directory with an mlsmear ``meta.json``."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("format") == FORMAT
    except (json.JSONDecodeError, AttributeError):
        return False


def read_meta(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta.json`` of a pairs directory."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(directory)!r} is not a pairs directory (no {META_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def read_parquet(path: str | os.PathLike[str], **options: Any) -> pa.Table:
    """``pq.read_table`` with the page checksums verified (files written by :class:`PairsWriter`
    carry them); a corrupt or truncated file raises ``ValueError`` naming it."""
    try:
        return pq.read_table(path, page_checksum_verification=True, **options)
    except (OSError, pa.ArrowException) as err:
        message = f"cannot read {str(path)!r}: corrupt or truncated parquet file ({err})"
        raise ValueError(message) from None


@overload
def read_pairs(
    directory: str | os.PathLike[str], kind: str, *, columns: list[str] | None = ...,
    as_numpy: Literal[False] = ...,
) -> pa.Table: ...


@overload
def read_pairs(
    directory: str | os.PathLike[str], kind: str, *, columns: list[str] | None = ...,
    as_numpy: Literal[True],
) -> dict[str, np.ndarray]: ...


def read_pairs(
    directory: str | os.PathLike[str],
    kind: str,
    *,
    columns: list[str] | None = None,
    as_numpy: bool = False,
) -> pa.Table | dict[str, np.ndarray]:
    """Read one kind of a pairs directory, validated; a pyarrow Table or, with ``as_numpy``, a
    dict of numpy arrays. ``columns`` selects columns (all by default)."""
    _check_kind(kind)
    read_meta(directory)
    path = Path(directory) / f"{kind}.parquet"
    if not path.is_file():
        present = [k for k in KINDS if (Path(directory) / f"{k}.parquet").is_file()]
        raise FileNotFoundError(
            f"pairs directory {str(directory)!r} has no {kind} pairs (kinds present: {present})"
        )
    table = validate_table(kind, read_parquet(path))
    if columns is not None:
        unknown = [c for c in columns if c not in table.column_names]
        if unknown:
            raise ValueError(f"{kind} pairs have no columns {unknown}; have {table.column_names}")
        table = table.select(columns)
    if as_numpy:
        return {name: table.column(name).to_numpy() for name in table.column_names}
    return table
