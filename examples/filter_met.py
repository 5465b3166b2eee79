"""Generation-stage filter: keep only the events whose predicted reco MET can pass 250 GeV.

Pythia 8 events → truth objects → learnt detector (MET only: it is all the selection reads) →
``MET.pt > 250`` with a safety margin → kept events with their full generator record in HepMC3.
With ``--validate`` (the default here) the reference detector also runs on every event, so the
printed table shows, for each margin, the keep fraction and the signal efficiency (kept among the
events the reference detector selects) from one run.

    python examples/filter_met.py --process wjets --events 3000 --seed 1
    python examples/filter_met.py --process ttbar --events 3000 --seed 2 --model path/to/bundle
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlsmear.filter import run_filter

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process", default="wjets", help="Pythia process (default wjets)")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--margin", type=float, default=0.3, help="margin of the written file")
    parser.add_argument("--model", default="default", help="model bundle name or path")
    parser.add_argument("--outdir", default="cache/filter", help="where kept.hepmc goes")
    args = parser.parse_args()

    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = run_filter(
        "MET.pt > 250",  # GeV, on the predicted reco MET
        outdir / f"{args.process}-kept.hepmc",
        process=args.process,
        n_events=args.events,
        seed=args.seed,
        margin=args.margin,
        model=args.model,
        summary=outdir / f"{args.process}-summary.json",
        validate=True,
        scan_margins=MARGINS,
        overwrite=True,
        progress=True,
    )
    seconds = summary["seconds"]
    print(json.dumps(seconds))
    print(f"{args.process}, {summary['generated']} events, model {summary['model']}: NN overhead "
          f"{summary['nn_overhead_fraction']:.2%} of the generator time; reference MET > 250 GeV "
          f"in {summary['reference_passed']} events ({summary['reference_pass_fraction']:.1%}), "
          f"learnt detector without margin {summary['nn_pass_fraction']:.1%}")
    print("| margin | keep fraction | signal efficiency (68 % interval) | full-sim saving factor |")
    print("|---|---|---|---|")
    for row in summary["margin_scan"]:
        efficiency, interval = row["signal_efficiency"], row["signal_efficiency_interval"]
        shown = "–" if efficiency is None else (
            f"{efficiency:.3f} ({interval[0]:.3f}–{interval[1]:.3f})"
        )
        factor = row["fullsim_saving_factor"]
        print(f"| {row['margin']:g} | {row['keep_fraction']:.3f} | {shown} | "
              f"{'–' if factor is None else f'{factor:.2f}'} |")


if __name__ == "__main__":
    main()
