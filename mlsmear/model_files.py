"""Model files on disk: a JSON model card beside a safetensors tensor file, read and written safely.

A model is ``<kind>.safetensors`` (network weights, binning and input knots; the network's input
order in its metadata) and ``<kind>.json`` (the model card, which records the SHA-256 of the tensor
file). Reading never executes code: pickle/``torch.save`` files are refused, and the card and
tensors are checked (format, version, size, hash, input order, field types, finite values,
monotone knots) before a model is built from them (:meth:`mlsmear.model.KindModel.load`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

__all__ = [
    "FORMAT", "FORMAT_VERSION", "PRECISIONS", "ModelFileError", "read_model", "write_model",
]

FORMAT = "mlsmear-model"
FORMAT_VERSION = 1
#: Evaluation precisions a model card may name.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
#: pickle protocols 2–5 start with 0x80 and the protocol byte; torch.save writes a zip archive
_PICKLE_MAGIC = (*(bytes([0x80, p]) for p in range(2, 6)), b"PK\x03\x04")


class ModelFileError(ValueError):
    """A model file is missing, corrupt, mismatched or of a refused kind (pickle)."""


def write_model(
    directory: Path, kind: str, tensors: Mapping[str, torch.Tensor], input_names: list[str],
    card: Callable[[str], dict[str, Any]],
) -> Path:
    """Write ``<kind>.safetensors`` and ``<kind>.json`` (``card(sha256 of the tensor file)``)
    into ``directory``; returns the card's path."""
    directory.mkdir(parents=True, exist_ok=True)
    blob = save_tensors(dict(tensors), metadata={_INPUT_ORDER: json.dumps(input_names)})
    (directory / f"{kind}.safetensors").write_bytes(blob)
    path = directory / f"{kind}.json"
    path.write_text(json.dumps(card(hashlib.sha256(blob).hexdigest()), indent=1) + "\n")
    return path


def read_model(card_path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The checked card and tensors of the model whose card is ``card_path``."""
    card = _read_card(card_path)
    blob = _read_bytes(card_path.with_suffix(".safetensors"))
    if hashlib.sha256(blob).hexdigest() != card.get("tensors_sha256"):
        raise ModelFileError(
            f"{card_path.with_suffix('.safetensors')} does not belong to {card_path} "
            "(SHA-256 mismatch): the files are mismatched or the tensor file is corrupt"
        )
    try:
        tensors = load_tensors(blob)
    except SafetensorError as err:
        raise ModelFileError(f"corrupt tensor file beside {card_path}: {err}") from err
    try:
        _validate_card(card, tensors, card_path)
        _check_input_order(card, blob, card_path)  # the card's inputs: a list of objects
    except ModelFileError:
        raise
    except (KeyError, TypeError, RuntimeError, ValueError, ArithmeticError) as err:
        raise ModelFileError(f"{card_path}: model card and tensors do not fit: {err}") from err
    return card, tensors


#: safetensors metadata key of the network's input order (a JSON list of names).
_INPUT_ORDER = "mlsmear.inputs"
_MAX_CARD_BYTES = 16 << 20


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_card(card: dict, tensors: Mapping[str, torch.Tensor], where: Path) -> None:
    """``ModelFileError`` naming the first field of a card (or tensor) a model cannot use."""

    def fail(what: str) -> None:
        raise ModelFileError(f"{where}: {what}")

    if card.get("precision") not in PRECISIONS:
        fail(f"unknown precision {card.get('precision')!r}: the card must name one of "
             f"{', '.join(PRECISIONS)} (the precision the model was validated at)")
    for key in ("quantities", "inputs"):
        if not isinstance(card.get(key), list) or not all(isinstance(q, dict) for q in card[key]):
            fail(f"{key!r} must be a list of objects")
    for q in card["quantities"]:
        binning = q.get("binning")
        if not isinstance(binning, dict):
            fail(f"quantity {q.get('name')!r} has no binning object")
        n_bins = binning.get("n_bins")
        if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
            fail(f"quantity {q.get('name')!r}: n_bins {n_bins!r} must be a positive integer")
        for tail in ("tail_lo", "tail_hi"):
            value = binning.get(tail)
            if not _number(value) or not np.isfinite(value) or value < 0:
                fail(f"quantity {q.get('name')!r}: {tail} {value!r} must be a finite number >= 0")
        if not isinstance(binning.get("clip"), bool):
            fail(f"quantity {q.get('name')!r}: clip {binning.get('clip')!r} must be true or false")
    names = [f.get("name") for f in card["inputs"]]
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        fail(f"input names {names} must be distinct strings")
    thresholds = card.get("thresholds", {})
    if not isinstance(thresholds, dict) or not all(
        _number(v) and np.isfinite(v) for v in thresholds.values()
    ):
        fail(f"thresholds {thresholds!r} must map names to finite numbers")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            fail(f"tensor {name!r} holds NaN/inf values")
        if name.endswith(".knots") and bool((tensor[1:] < tensor[:-1]).any()):
            fail(f"tensor {name!r}: knots must be non-decreasing")


def _check_input_order(card: dict, blob: bytes, where: Path) -> None:
    """The card's input order against the order recorded in the tensor file (files saved
    before it was recorded are not checked)."""
    n = int.from_bytes(blob[:8], "little")
    try:
        recorded = json.loads(json.loads(blob[8:8 + n]).get("__metadata__", {})[_INPUT_ORDER])
    except (KeyError, TypeError, ValueError, AttributeError):
        return
    names = [f.get("name") for f in card["inputs"]]
    if recorded != names:
        raise ModelFileError(
            f"{where}: inputs {names} are not in the network's input order {recorded} "
            "(recorded in the tensor file)"
        )


def _is_safetensors(blob: bytes) -> bool:
    """A safetensors file: 8-byte little-endian header length, then a JSON header."""
    n = int.from_bytes(blob[:8], "little")
    return len(blob) >= 9 and 8 + n <= len(blob) and blob[8:9] == b"{"


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    blob = path.read_bytes()
    if not _is_safetensors(blob) and blob.startswith(_PICKLE_MAGIC):
        raise ModelFileError(
            f"{path} is a pickle/torch.save file: refused, model files never execute code "
            "(mlsmear models are safetensors + JSON)"
        )
    return blob


def _read_card(path: Path) -> dict:
    blob = _read_bytes(path)
    if path.suffix != ".json":
        raise ModelFileError(
            f"{path}: expected a model card (.json) beside its .safetensors, or a bundle directory"
        )
    if len(blob) > _MAX_CARD_BYTES:
        raise ModelFileError(f"{path}: {len(blob)} bytes is too large for a model card")
    try:
        card = json.loads(blob)
    except RecursionError:
        raise ModelFileError(f"{path} is not a valid JSON model card: nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path} is not a valid JSON model card: {err}") from err
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlsmear model card (format != {FORMAT!r})")
    if card.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {card.get('format_version')} is not supported "
            f"(this mlsmear reads version {FORMAT_VERSION})"
        )
    return card
