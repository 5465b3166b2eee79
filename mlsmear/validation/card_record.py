"""Validation figures into the model cards: ``card["validation"][label]`` per kind.

The cards of a bundle directory are rewritten in place (JSON only: the tensor files and their
SHA-256 do not change), so a shipped model carries the figures it was validated with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["CARD_KEYS", "record_in_cards"]

#: Metrics copied into a card (with their ``_unc`` and ``_where`` companions when present).
CARD_KEYS = (
    "auc", "worst_bin_dev", "paper_bin_dev", "max_eff_diff", "max_res_rel_diff",
    "eta_test_rel_diff", "max_corr_diff", "pt_corr_diff", "tail250_ratio",
)


def _figures(entry: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in CARD_KEYS:
        if key not in entry:
            continue
        for name in (key, f"{key}_unc", f"{key}_where"):
            if name in entry:
                out[name] = entry[name]
    out["w1"] = entry.get("w1")
    out["objects"] = entry.get("objects")
    out["pass"] = entry.get("pass")
    for reference in ("baseline", "noise_floor"):
        if entry.get(reference):
            out[f"{reference}_auc"] = entry[reference].get("auc")
    return out


def record_in_cards(
    bundle_dir: str | Path,
    metrics: Mapping[str, Mapping[str, Any]],
    label: str,
    *,
    holdout: list[Mapping[str, Any]],
    command: str,
) -> list[Path]:
    """Write the figures of ``metrics`` (``{kind: entry}`` as in ``metrics.json``) into the cards
    ``<kind>.json`` of ``bundle_dir`` under ``validation[label]``; returns the cards written.

    Arguments:
        bundle_dir: directory holding the validated model cards.
        metrics: validation result by kind.
        label: name of the hold-out (e.g. ``mix-holdout``); an earlier entry is replaced.
        holdout: provenance of the hold-out sources (generator, process, seed, events).
        command: the command that produced the figures.
    """
    written = []
    closure = metrics.get("closure")
    for kind, entry in metrics.items():
        if kind == "closure":
            continue
        path = Path(bundle_dir) / f"{kind}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no model card {path} to record the {kind} figures in")
        card = json.loads(path.read_text())
        validation = card.setdefault("validation", {})
        validation[label] = {"holdout": holdout, "command": command, **_figures(entry)}
        if closure:  # the bundle's analysis closure, in every card of the bundle
            validation[label]["closure"] = {
                name: {k: s[k] for k in ("teacher", "learnt", "ratio", "sigma", "pass")}
                for name, s in closure["selections"].items()
            }
        path.write_text(json.dumps(card, indent=1) + "\n")
        written.append(path)
    return written
