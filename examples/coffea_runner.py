"""A ttbar analysis on smeared truth inside coffea, compared with the file's own reconstruction.

Runs :class:`mlsmear.processors.TTbarLeptonJets` through :class:`mlsmear.MLSmearProcessor` with a
coffea ``Runner`` over a NanoAOD file (default: the bundled 200-event ttbar file), prints a cut
flow and summary table, and saves the HT, MET, jet-multiplicity and hadronic-top-mass plots.
Where the file has its own reco (``Jet_pt``), the same analysis runs on it for comparison.

    python examples/coffea_runner.py                       # shipped weights, bundled file
    python examples/coffea_runner.py --model PATH --out plots --chunksize 50 --workers 2
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import hist
import matplotlib
import numpy as np
import uproot
from coffea import processor
from coffea.nanoevents import NanoAODSchema

import mlsmear
from mlsmear import processors

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"
PLOTS = ("njet", "ht", "met", "mtop")


def _run(args: argparse.Namespace, analysis: processor.ProcessorABC) -> dict[str, Any]:
    executor = (
        processor.FuturesExecutor(workers=args.workers, status=False) if args.workers > 1
        else processor.IterativeExecutor(status=False)
    )
    runner = processor.Runner(executor, schema=NanoAODSchema, chunksize=args.chunksize)
    return runner({"ttbar": [str(args.file)]}, treename="Events", processor_instance=analysis)


def _mean(histogram: hist.Hist) -> float:
    """Binned mean of a 1-D histogram (GeV or counts)."""
    values = histogram.values()
    return float(np.average(histogram.axes[0].centers, weights=values)) if values.sum() else 0.0


def summary(results: dict[str, dict[str, Any]]) -> str:
    """A text table: cut flow and binned means, one column per result (``smeared``, ``reco``)."""
    names = list(results)
    rows = [(step, [results[n]["cutflow"]["ttbar"][step] for n in names])
            for step in results[names[0]]["cutflow"]["ttbar"]]
    for key, label in (("ht", "mean HT [GeV]"), ("met", "mean MET [GeV]"),
                       ("mtop", "mean M3 [GeV]"), ("njet", "mean jets")):
        means = [round(_mean(results[n][key][{"dataset": "ttbar"}]), 1) for n in names]
        rows.append((label, means))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{n:>10}" for n in names)]
    lines += [f"{label:{width}}  " + "  ".join(f"{v:>10}" for v in vs) for label, vs in rows]
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per histogram, smeared and reco overlaid."""
    out.mkdir(parents=True, exist_ok=True)
    plt.style.use(mplhep.style.CMS)
    saved = []
    for key in PLOTS:
        fig, ax = plt.subplots()
        for name, result in results.items():
            mplhep.histplot(result[key][{"dataset": "ttbar"}], ax=ax, label=name)
        ax.set_ylabel("events")
        ax.set_title(f"semileptonic ttbar, {len(results)} samples", fontsize=14)
        ax.legend()
        saved.append(out / f"{key}.png")
        fig.savefig(saved[-1], dpi=80)
        plt.close(fig)
    return saved


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=BUNDLED, help="NanoAOD file")
    parser.add_argument("--model", default="default", help="'default' or a bundle directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunksize", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="> 1: FuturesExecutor")
    parser.add_argument("--out", type=Path, default=Path("plots"), help="plot directory")
    args = parser.parse_args(argv)
    # real NanoAOD files lack some cross-reference targets (e.g. Photon): coffea warns, harmless
    warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)

    results = {
        "smeared": _run(args, mlsmear.MLSmearProcessor(
            processors.TTbarLeptonJets(), model=args.model, seed=args.seed
        )),
    }
    if "Jet_pt" in uproot.open(args.file)["Events"]:
        results["reco"] = _run(args, processors.TTbarLeptonJets())
    print(f"{args.file.name}: semileptonic ttbar selection, model {args.model!r}")
    print(summary(results))
    for path in plot(results, args.out):
        print(f"saved {path}")
    return results


if __name__ == "__main__":
    main()
