"""The ``mlsmear generate`` sub-command: Pythia 8 or particle-gun events -> pairs directory."""

from __future__ import annotations

import argparse
import sys
import time

from ..generate.guns import GUNS, Gun
from ..generate.pythia import MIX, PROCESSES
from ..generate.runner import (
    DEFAULT_CARDS,
    DETECTORS,
    JOB_SIZE,
    GenerationTerminated,
    generate_pairs,
)

__all__ = ["register", "run"]

_EPILOG = f"""\
processes: {", ".join(PROCESSES)}; guns: {", ".join(GUNS)}.
The training mix is {", ".join(f"{k} {v:.0%}" for k, v in MIX.items())} of the events.
Output: jet/electron/muon/photon/met.parquet + meta.json (see mlsmear.pairs). The output depends
on (process, events, seed, card, job size), not on the number of workers.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "generate",
        help="generate truth <-> reco pairs with Pythia 8 and the reference detector",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--process", required=True, choices=[*PROCESSES, *GUNS], metavar="PROCESS",
        help="Pythia 8 process or particle gun (listed below)",
    )
    parser.add_argument("--events", type=int, required=True, help="number of events")
    parser.add_argument("--seed", type=int, required=True, help="master seed, 0 ... 2**31 - 1")
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        default="refdet",
        help="refdet: the reference detector (default); delphes: real Delphes (mlsmear delphes "
        "build first), same generator events and truth",
    )
    parser.add_argument(
        "--card",
        help="refdet: card name or TOML path (default atlas-like); delphes: delphes-atlas "
        "(default), delphes-cms or a .tcl path",
    )
    parser.add_argument("--output", required=True, help="pairs directory to create")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--job-size", type=int, default=JOB_SIZE, help=f"events per job (default {JOB_SIZE})"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing pairs files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    guns = parser.add_argument_group("particle guns (gun-* processes only)")
    size = guns.add_mutually_exclusive_group()
    size.add_argument("--pt", type=float, help="fixed pT in GeV")
    size.add_argument(
        "--pt-range", type=float, nargs=2, metavar=("LO", "HI"), help="pT uniform in [LO, HI] GeV"
    )
    size.add_argument("--energy", type=float, help="fixed energy in GeV")
    guns.add_argument(
        "--eta-range",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="eta uniform in [LO, HI] (default -2.5 2.5)",
    )
    parser.set_defaults(func=run)


def _gun(args: argparse.Namespace) -> Gun | None:
    options = {
        "--pt": args.pt,
        "--pt-range": args.pt_range,
        "--energy": args.energy,
        "--eta-range": args.eta_range,
    }
    if args.process not in GUNS:
        given = [flag for flag, value in options.items() if value is not None]
        if given:
            raise ValueError(f"{given} only apply to the gun processes {list(GUNS)}")
        return None
    if args.pt is None and args.pt_range is None and args.energy is None:
        raise ValueError(f"{args.process} needs --pt, --pt-range or --energy")
    pt_range = (args.pt, args.pt) if args.pt is not None else args.pt_range
    return Gun(
        pdg=GUNS[args.process],
        eta_range=tuple(args.eta_range or (-2.5, 2.5)),
        pt_range=None if pt_range is None else tuple(pt_range),
        energy=args.energy,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``mlsmear generate``; returns the exit status."""
    from ..delphes.build import DelphesBuildError
    from ..delphes.run import DelphesError

    gun = _gun(args)
    start = time.perf_counter()
    try:
        meta = _generate(args, gun)
    except (DelphesBuildError, DelphesError) as err:
        print(f"mlsmear generate: error: {err}", file=sys.stderr)
        return 2
    except GenerationTerminated as err:
        print(f"mlsmear generate: {err}", file=sys.stderr)
        return 143
    elapsed = time.perf_counter() - start
    rows = ", ".join(f"{n} {kind}" for kind, n in meta["rows"].items())
    print(f"wrote {args.events} events ({rows}) to {args.output} in {elapsed:.1f} s")
    return 0


def _generate(args: argparse.Namespace, gun: Gun | None) -> dict:
    return generate_pairs(
        args.output,
        process=args.process,
        n_events=args.events,
        seed=args.seed,
        card=args.card or DEFAULT_CARDS[args.detector],
        workers=args.workers,
        gun=gun,
        job_size=args.job_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        detector=args.detector,
    )
