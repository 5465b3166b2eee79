"""The ``mlsmear filter`` sub-command: generator → predicted reco → selection → kept events as
HepMC3, with a JSON summary (timing per stage, keep fraction; with --validate the signal
efficiency against the reference detector)."""

from __future__ import annotations

import argparse
import json
import os
import textwrap

from ..filter.pipeline import run_filter
from ..filter.selection import ALLOWED
from ..generate.pythia import PROCESSES
from ..generate.runner import BATCH_SIZE
from ..refdet.card import shipped_cards
from ..registry import DEFAULT_BUNDLE, shipped

__all__ = ["register", "run"]

_EPILOG = "\n".join(
    textwrap.fill(paragraph, 100)
    for paragraph in (
        f"processes: {', '.join(PROCESSES)}.",
        'selection: an expression on the predicted reco collections, e.g. "MET.pt > 250" or '
        f'"ak.sum(Jet.pt, axis=1) > 1000 and ak.num(Muon) == 0". Allowed: {ALLOWED}.',
        "margin M: the selection sees every predicted pt and mass multiplied by 1 + M (eta, phi "
        "unchanged), so a lower cut X > c on a pT, MET, HT, energy or mass keeps the events with "
        "predicted X > c / (1 + M); upper cuts get tighter (see mlsmear.filter.margin).",
        "keep fractions and cross sections: a --process with pT-hat slices (wjets, qcd, ...; "
        "see mlsmear generate --help) is generated unweighted with equal event counts per slice, "
        "so keep_fraction and signal_efficiency are fractions of that mix, not of the physical "
        "cross section; ttbar (one slice) is physical as it stands. To weight, generate each "
        "slice yourself with its Pythia cross section sigma_s (HepMC, --hepmc per slice) and "
        "combine sum(sigma_s kept_s / N_s) / sum(sigma_s); event weights in --hepmc input are "
        "written out but not used in the fractions. Details: docs/filter.md.",
        "Outputs are renamed into place at the end: a failed run leaves no file behind.",
    )
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``filter`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "filter",
        help="keep generated events whose predicted reco passes a selection (HepMC3 out)",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--process", help="Pythia 8 process to generate (see below)")
    source.add_argument("--hepmc", metavar="IN", help="read the events from a HepMC file instead")
    parser.add_argument(
        "--events", type=int, help="events to generate (required with --process); at most this "
        "many are read with --hepmc"
    )
    parser.add_argument("--select", required=True, metavar="EXPR", help="selection expression")
    parser.add_argument(
        "--margin", type=float, default=0.0, metavar="M",
        help="evaluate the selection with momenta scaled by 1 + M (default 0)",
    )
    parser.add_argument("--output", required=True, help="HepMC3 file for the kept events")
    parser.add_argument("--summary", help="JSON file for the summary (default: printed only)")
    parser.add_argument("--seed", type=int, required=True, help="master seed, 0 ... 2**31 - 1")
    parser.add_argument(
        "--model", default="default",
        help=f"shipped bundle ({', '.join(shipped())}; 'default' = {DEFAULT_BUNDLE}) or a bundle "
        "directory; 'mlsmear models' lists them",
    )
    parser.add_argument(
        "--validate", action="store_true",
        help="also run the reference detector and report the signal efficiency",
    )
    parser.add_argument(
        "--scan-margins", type=float, nargs="+", default=(), metavar="M",
        help="with --validate: also report keep fraction and signal efficiency at these margins",
    )
    parser.add_argument(
        "--card", default="atlas-like",
        help=f"reference detector card for --validate: {', '.join(shipped_cards())} or a TOML path",
    )
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE,
        help=f"events per batch (default {BATCH_SIZE})",
    )
    parser.add_argument("--device", default="cpu", help="torch device for the network")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for the network (default 1)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``mlsmear filter``; prints the summary as JSON and returns the exit status."""
    # argument errors in command-line terms, before the library's (which name Python arguments)
    if args.scan_margins and not args.validate:
        raise ValueError("--scan-margins needs --validate")
    for path in (args.output, args.summary):
        if path is not None and os.path.exists(path) and not args.overwrite:
            raise ValueError(f"{path} exists; pass --overwrite to replace it")
    summary = run_filter(
        args.select,
        args.output,
        process=args.process,
        hepmc=args.hepmc,
        n_events=args.events,
        seed=args.seed,
        margin=args.margin,
        model=args.model,
        summary=args.summary,
        validate=args.validate,
        scan_margins=args.scan_margins,
        card=args.card,
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(json.dumps(summary, indent=2))
    return 0
