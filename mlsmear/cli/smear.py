"""``mlsmear smear``: smear the truth of NanoAOD, Delphes or HepMC files into a file
(:func:`mlsmear.smear_files.smear_files`)."""

from __future__ import annotations

import argparse

from ..registry import shipped
from ..smear_files import (
    DEFAULT_CHUNK,
    DEFAULT_HEPMC_CHUNK,
    DEFAULT_KEEP,
    SMEARABLE_KINDS,
    smear_files,
)
from ..smear_files import __doc__ as files_doc

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``smear`` sub-command to the ``mlsmear`` parser."""

    parser = subparsers.add_parser(
        "smear",
        help="smear the truth of NanoAOD / Delphes / HepMC files into a ROOT or parquet file",
        description=files_doc, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="NanoAOD (tree Events) or Delphes (tree Delphes) ROOT files, or HepMC3 / HepMC2 "
        "ASCII files (.hepmc, also .gz, .bz2, .xz), all of one format; their events are written "
        "in the order given",
    )
    parser.add_argument(
        "--output", "-o", required=True, metavar="OUT",
        help="output file: OUT.root (TTree Events) or OUT.parquet",
    )
    parser.add_argument(
        "--model", default="default", metavar="M",
        help=f"shipped bundle ({', '.join(shipped())}; 'default' = atlas-like) or a bundle "
        "directory; 'mlsmear models' lists them",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument(
        "--kinds", nargs="+", choices=SMEARABLE_KINDS, metavar="KIND",
        help=f"object kinds to smear, of {', '.join(SMEARABLE_KINDS)} (default: every kind the "
        "model has)",
    )
    parser.add_argument(
        "--chunk", type=int, default=None, metavar="N",
        help=f"events read, smeared and written at a time (default {DEFAULT_CHUNK}; "
        f"{DEFAULT_HEPMC_CHUNK} for HepMC input)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="K",
        help="worker processes, one torch and numba thread each when K > 1",
    )
    parser.add_argument(
        "--keep", nargs="*", default=list(DEFAULT_KEEP), metavar="PATTERN",
        help="input branches (glob patterns) copied unchanged, NanoAOD input only (HepMC input "
        "always writes its GenJet, GenPart, GenMET); '--keep' alone copies none",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``mlsmear smear`` from parsed arguments."""
    summary = smear_files(
        args.inputs, args.output, model=args.model, seed=args.seed, kinds=args.kinds,
        chunk=args.chunk, workers=args.workers, keep=args.keep, overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(
        f"smeared {summary['events']} events from {len(args.inputs)} file(s) with model "
        f"{args.model!r}, seed {args.seed}: {', '.join(summary['collections'])} -> {args.output} "
        f"({summary['seconds']:.1f} s)"
    )
    return 0
