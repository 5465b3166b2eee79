"""The ``mlsmear train`` sub-command: pairs (or NanoAOD / Delphes files) → a model of one kind."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from ..electron_photons import with_teacher_table
from ..event_pairs import default_inputs, tag_columns, training_columns
from ..jet_context import CLAIM_FIELDS
from ..kinds import KINDS, kind_spec
from ..met_context import REFERENCE
from ..model import BACKENDS, PRECISIONS
from ..sibling_context import SIBLING_FIELDS
from ..training import TrainConfig, fit_model

__all__ = ["register", "run"]

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "train", help="train the model of one object kind from truth <-> reco pairs",
        description=__doc__,
    )
    parser.add_argument(
        "--pairs", nargs="+", required=True,
        help="pairs directories from `mlsmear generate`, NanoAOD or Delphes ROOT files",
    )
    parser.add_argument("--kind", required=True, choices=list(KINDS), help="object kind to train")
    parser.add_argument(
        "--output", required=True,
        help="bundle directory, created if needed (writes <kind>.safetensors and <kind>.json)",
    )
    defaults = TrainConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="maximum training epochs (cosine learning-rate schedule to 0)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="rows per optimiser step")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="initial Adam learning rate")
    parser.add_argument("--trunk", type=int, nargs="+", default=list(defaults.trunk),
                        metavar="WIDTH", help="widths of the shared hidden layers")
    parser.add_argument("--head", type=int, default=defaults.head, metavar="WIDTH",
                        help="hidden width of each quantity's 101-way head")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="stop after this many epochs without a better validation loss")
    parser.add_argument("--cooldown", type=int, default=defaults.cooldown, metavar="EPOCHS",
                        help="after an early stop, anneal the best epoch's learning rate "
                        "linearly to 0 over this many epochs (0: keep the best epoch as is)")
    parser.add_argument("--efficiency-weight", type=float, default=defaults.efficiency_weight,
                        help="weight of the efficiency (lost vs reconstructed) in the loss "
                        "(1: the plain 101-way cross-entropy)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seeds the validation split, the initialisation and the batch order")
    parser.add_argument(
        "--binning", choices=["quantile", "clipped"], default=defaults.binning,
        help="residual bins: quantile (equal population, knots, exponential tails) or clipped "
        "(the paper's: 1-99 %% range, tails clipped)",
    )
    parser.add_argument(
        "--independent", action="store_true",
        help="independent heads (the paper's baseline) instead of autoregressive ones",
    )
    parser.add_argument("--max-objects", type=int, metavar="N",
                        help="use at most N rows (default: all)")
    parser.add_argument(
        "--pt-min", type=float,
        help="reco pT threshold (GeV) applied after smearing; default: the lowest matched reco pT",
    )
    parser.add_argument(
        "--abs-eta-max", type=float,
        help="reco |η| above which no object is kept after smearing; default: the largest matched "
        "reco |η| (rounded up to 0.01): the teacher's acceptance edge, so no learnt object leaks "
        "past it",
    )
    parser.add_argument(
        "--precision", choices=list(PRECISIONS), default="float32",
        help="evaluation precision written into the card (bfloat16: faster with torch on CPUs "
        "with AVX512-BF16, 7-9x slower without; validate at the precision you ship)",
    )
    parser.add_argument(
        "--backend", choices=list(BACKENDS), default="onnxruntime",
        help="what evaluates the network on the CPU in float32, written into the card "
        "(onnxruntime: 1.25x torch's float32 rate end to end on a 2-core AVX2 CPU; CUDA: torch)",
    )
    parser.add_argument(
        "--no-truth-acceptance", action="store_true",
        help="learn the teacher's |η| acceptance with the network instead of as a sharp truth "
        "edge (the largest truth |η| the teacher reconstructed; objects beyond it are lost)",
    )
    parser.add_argument(
        "--no-tags", action="store_true",
        help="jets: do not learn the teacher's b/c-tags (default: learn those the pairs hold)",
    )
    parser.add_argument(
        "--met-with-objects", action="store_true",
        help="MET: smear around GenMET plus the recoil of the reconstructed jets and muons "
        "(needs jet and muon pairs in the sources; see docs/whole-events.md) instead of around "
        "GenMET alone",
    )
    parser.add_argument(
        "--jets-with-objects", action="store_true",
        help="jets: also read claimed_em / claimed_muon, the reconstructed e/γ and μ inside "
        "each GenJet (the detector's overlap removal; needs electron, muon and photon pairs in "
        "the sources; smearing then samples them before the jets; see docs/whole-events.md)",
    )
    parser.add_argument(
        "--follow-siblings", action="store_true",
        help="also read sib_kept / sib_lost, the teacher's outcome of the higher-pT objects of the "
        "same kind within ΔR 0.5 (the close e+e- of a boosted Z are reconstructed together or "
        "not at all), and sib_dr, the ΔR to the closest other object of the kind (merged "
        "showers); smearing samples each event's objects in order of pT",
    )
    parser.add_argument(
        "--met", default="auto",
        help="NanoAOD reco MET collection: auto (MET, else Run-3 PFMET), or e.g. PuppiMET",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def teacher_acceptance(reco: dict[str, np.ndarray], matched: np.ndarray) -> float:
    """The largest reco |η| of the teacher's matched objects, rounded up to 0.01 (the acceptance
    edge the learnt detector must not cross)."""
    eta = np.abs(reco["eta"][matched])
    return float(np.ceil(eta.max() * 100) / 100) if eta.size else 0.0


def _provenance(sources: list[str], n_rows: int) -> dict:
    provenance = []
    for source in sources:
        meta_path = Path(source) / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        provenance.append({"source": str(source), **meta})
    return {"training": {"data": provenance, "rows": n_rows}}


def _check_arguments(args: argparse.Namespace) -> None:
    """``ValueError`` naming a training option that cannot give a model (before any reading)."""
    positive = {"--epochs": args.epochs, "--batch-size": args.batch_size, "--head": args.head}
    positive.update({"--trunk": min(args.trunk)} if args.trunk else {"--trunk": 0})
    for option, value in positive.items():
        if value is None or value < 1:
            raise ValueError(f"train {option} must be a positive integer, got {value}")
    if args.patience is not None and args.patience < 0:
        raise ValueError(f"train --patience must be >= 0, got {args.patience}")
    if args.cooldown is not None and args.cooldown < 0:
        raise ValueError(f"train --cooldown must be >= 0, got {args.cooldown}")
    if not (args.efficiency_weight >= 1 and np.isfinite(args.efficiency_weight)):
        raise ValueError(
            f"train --efficiency-weight must be a number >= 1, got {args.efficiency_weight}"
        )
    if not (args.learning_rate > 0 and np.isfinite(args.learning_rate)):
        raise ValueError(
            f"train --learning-rate must be a positive number, got {args.learning_rate}"
        )
    if args.max_objects is not None and args.max_objects < 1:
        raise ValueError(f"train --max-objects must be a positive integer, got {args.max_objects}")


def run(args: argparse.Namespace) -> int:
    """Train and save; prints where the model card went."""
    from ..readers import pairs_from_source  # uproot/pyarrow readers load only when used

    _check_arguments(args)
    tables = with_teacher_table(pairs_from_source(
        args.pairs if len(args.pairs) > 1 else args.pairs[0], met=getattr(args, "met", "auto")
    ))
    if args.kind not in tables:
        raise ValueError(f"the sources hold no {args.kind} pairs (they have {sorted(tables)})")
    table = tables[args.kind]
    if args.max_objects and len(table) > args.max_objects:
        table = table.slice(0, args.max_objects)
    card = _provenance(list(args.pairs), len(table))
    follow = (args.kind == "met" and args.met_with_objects) or (
        args.kind == "jet" and args.jets_with_objects
    )
    if args.kind == "met" and follow:
        card["reference"] = REFERENCE
    siblings = args.follow_siblings
    if siblings and not kind_spec(args.kind).has_efficiency:
        raise ValueError(f"--follow-siblings is for object kinds, not {args.kind}")
    truth, reco, matched = training_columns(
        args.kind, tables, table, follow_objects=follow, follow_siblings=siblings
    )
    inputs = default_inputs(args.kind, truth)
    if args.kind == "jet" and follow:
        inputs += [(f, "quantile") for f in CLAIM_FIELDS]
    if siblings:
        inputs += [(f, "quantile") for f in SIBLING_FIELDS]
    tag_types = tag_columns(table)[1] if args.kind == "jet" and not args.no_tags else {}
    thresholds = {}
    if kind_spec(args.kind).has_efficiency:
        lowest = float(np.floor(np.min(reco["pt"][matched]))) if matched.any() else 0.0
        thresholds["pt_min"] = args.pt_min if args.pt_min is not None else lowest
        thresholds["abs_eta_max"] = (
            args.abs_eta_max if args.abs_eta_max is not None else teacher_acceptance(reco, matched)
        )
    config = TrainConfig(
        trunk=tuple(args.trunk), head=args.head, autoregressive=not args.independent,
        truth_acceptance=not args.no_truth_acceptance,
        binning=args.binning, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, patience=args.patience, cooldown=args.cooldown,
        efficiency_weight=args.efficiency_weight, seed=args.seed, progress=not args.no_progress,
    )
    model = fit_model(
        args.kind, truth, reco, matched, inputs=inputs,
        thresholds=thresholds, config=config, card=card, tag_types=tag_types,
    )
    model = dataclasses.replace(model, precision=args.precision, backend=args.backend)
    path = model.save(args.output)
    print(f"wrote {path} ({model.card['training']['seconds']} s, best epoch "
          f"{model.card['training']['best_epoch']})")
    return 0
