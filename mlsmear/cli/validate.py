"""The ``mlsmear validate`` sub-command: a model against hold-out pairs → metrics.json + report.

Example::

    mlsmear validate --model atlas-like --pairs pairs/ttbar-holdout --output validation/ttbar \\
        --train-baseline                       # the paper's baseline on the model's training data
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from ..kinds import KINDS

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command to the ``mlsmear`` parser."""
    from ..registry import shipped

    parser = subparsers.add_parser(
        "validate", help="compare a model with hold-out truth <-> reco pairs (HTML report)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True,
        help=f"shipped bundle ({', '.join(shipped())}), bundle directory or model card "
        "<kind>.json; 'mlsmear models' lists the shipped ones",
    )
    parser.add_argument(
        "--pairs", nargs="+", required=True,
        help="hold-out pairs directories (or NanoAOD / Delphes files) never used in training",
    )
    parser.add_argument("--output", required=True, help="report directory")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--baseline", help="bundle of the paper's baseline to show side by side")
    group.add_argument(
        "--train-baseline", nargs="*", metavar="PAIRS",
        help="train the paper's baseline (independent heads, clipped bins, else the model's "
        "settings) on these pairs; without PAIRS, on the model card's training sources",
    )
    parser.add_argument("--baseline-epochs", type=int, help="epochs of the baseline training")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), help="default: all shared")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    parser.add_argument(
        "--auc-objects", type=int, default=200_000,
        help="truth objects per kind for the two-sample AUC (default 200000)",
    )
    parser.add_argument("--max-events", type=int, help="use only the first N hold-out events")
    parser.add_argument("--no-noise-floor", action="store_true",
                        help="skip the model-vs-itself comparison")
    parser.add_argument("--allow-seed-overlap", action="store_true",
                        help="accept a hold-out generated with a training seed")
    parser.add_argument("--device", default="cpu", help="torch device for sampling")
    parser.add_argument(
        "--met", default="auto",
        help="NanoAOD reco MET collection: auto (MET, else Run-3 PFMET), or e.g. PuppiMET",
    )
    parser.add_argument(
        "--record-in-cards", metavar="LABEL",
        help="also write the figures into the model cards of --model (a bundle directory) "
        "under validation.LABEL",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, write the report, print the table of figures with a bar."""
    from ..validation.card_record import record_in_cards
    from ..validation.report import text_table
    from ..validation.runner import validate

    if args.record_in_cards and not Path(args.model).is_dir():
        raise ValueError("--record-in-cards needs --model to be a bundle directory")
    metrics = validate(
        args.model, args.pairs, args.output, baseline=args.baseline,
        train_baseline_on=args.train_baseline, baseline_epochs=args.baseline_epochs,
        kinds=args.kinds, seed=args.seed, auc_objects=args.auc_objects,
        noise_floor=not args.no_noise_floor, max_events=args.max_events,
        allow_seed_overlap=args.allow_seed_overlap, device=args.device,
        progress=not args.no_progress, met=getattr(args, "met", "auto"),
    )
    print(text_table(metrics))
    print(f"wrote {Path(args.output) / 'report.html'} and metrics.json")
    if args.record_in_cards:
        provenance = json.loads((Path(args.output) / "provenance.json").read_text())
        command = shlex.join(["mlsmear", *args.argv])
        cards = record_in_cards(args.model, metrics, args.record_in_cards,
                                holdout=provenance["holdout"], command=command)
        print(f"recorded the figures in {', '.join(str(c) for c in cards)}")
    return 0
