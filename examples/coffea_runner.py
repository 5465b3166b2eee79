"""A ttbar analysis on smeared truth inside coffea, compared with the file's own reconstruction.

Runs :class:`mlsmear.processors.TTbarLeptonJets` through :class:`mlsmear.MLSmearProcessor` with a
coffea ``Runner`` over a NanoAOD file (default: the bundled 200-event CMS ttbar file), and, where
the file has its own reco (``Jet_pt``: CMS full simulation), the same analysis on it. Prints the
cut flow and binned means side by side (naming the model and its detector) and saves the
jet-multiplicity, HT, MET and M3 plots with ratio panels (mlsmear / file) to ``--out``.

    python examples/coffea_runner.py --out out             # shipped weights, bundled file
    python examples/coffea_runner.py --model PATH --file nano.root --chunksize 50000 --workers 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import hist
import numpy as np
import uproot
from coffea import processor
from coffea.nanoevents import NanoAODSchema

import mlsmear
from mlsmear import processors
from mlsmear.registry import bundle_summary
from mlsmear.validation.plots import ratio_figure, style

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"
#: Histogram keys of TTbarLeptonJets -> plot file stem.
PLOTS = {"njet": "njet", "ht": "ht", "met": "met", "mtop": "m3", "nbtag": "nbtag"}
#: What the file's own reco is (NanoAOD: CMS full simulation).
FILE_DETECTOR = "CMS full simulation"


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


def labels(analysis: processors.TTbarLeptonJets) -> dict[str, str]:
    """Axis labels that state the selection (from the analysis' own thresholds)."""
    jets = rf"jets $p_\mathrm{{T}}$ > {analysis.jet_pt:g} GeV, |$\eta$| < {analysis.max_eta:g}"
    return {
        "njet": f"number of {jets}",
        "ht": r"$H_\mathrm{T}$ [GeV]" + f"\n(scalar sum of {jets})",
        "met": r"$E_\mathrm{T}^\mathrm{miss}$ [GeV]",
        "nbtag": f"number of b-tagged {jets}\n(events before the b-tag requirement)",
        "mtop": "M3 [GeV] (not the top mass)\n"
        + r"(mass of the 3-jet combination with the largest $p_\mathrm{T}$)",
    }


def selection(analysis: processors.TTbarLeptonJets, jets_on_new_line: bool = False) -> str:
    """The event selection in words (the jet requirements on a line of their own for titles)."""
    lepton = f"1 e or μ (pT > {analysis.lepton_pt:g} GeV, |η| < {analysis.max_eta:g})"
    jets = (
        f"≥ {analysis.min_jets} jets (pT > {analysis.jet_pt:g} GeV, |η| < {analysis.max_eta:g}, "
        "ΔR(jet, lepton) > 0.4)"
        + (f", ≥ {analysis.min_btags} b-tagged" if analysis.min_btags else "")
    )
    return lepton + ("\n" if jets_on_new_line else ", ") + jets


def summary(results: dict[str, dict[str, Any]], model: dict[str, Any], file: Path) -> str:
    """A text table: cut flow and binned means, one named column per result, with the model
    and its detector said, and a note when that detector is not the file's."""
    names = list(results)
    rows = [(f"events: {'all' if step == 'events' else step}",
             [results[n]["cutflow"]["ttbar"][step] for n in names])
            for step in results[names[0]]["cutflow"]["ttbar"]]
    for key, label in (("njet", "mean number of jets"), ("ht", "mean HT [GeV]"),
                       ("met", "mean MET [GeV]"), ("mtop", "mean M3 [GeV]")):
        rows.append((label, [round(_mean(results[n][key][{"dataset": "ttbar"}]), 1)
                             for n in names]))
    width = max(len(r[0]) for r in rows)
    column = max(12, *(len(n) for n in names))
    lines = [
        f"model {model['name']!r}: learnt detector {model['detector']} ({model['description']})",
        f"file {file.name}: reco = {FILE_DETECTOR}" if len(names) > 1 else f"file {file.name}",
        "",
        f"{'':{width}}  " + "  ".join(f"{n:>{column}}" for n in names),
    ]
    lines += [f"{label:{width}}  " + "  ".join(f"{v:>{column}}" for v in vs) for label, vs in rows]
    learnt_from_files = model["detector"].endswith(".root")  # e.g. trained on NanoAOD files
    if len(names) > 1 and not learnt_from_files:  # a parametrised detector (card), not CMS's
        lines += ["", f"note: the model learnt {model['detector']}, a parametrised detector, not "
                  f"the {FILE_DETECTOR}: the columns differ by the two detectors as well as by "
                  "mlsmear's own fidelity."]
    return "\n".join(lines)


def plot(
    results: dict[str, dict[str, Any]], out: Path, analysis: processors.TTbarLeptonJets
) -> list[Path]:
    """One PNG per histogram: the file's reco as the reference (points with statistical error
    bars), mlsmear as a line with its statistical band, and the ratio mlsmear / file."""
    out.mkdir(parents=True, exist_ok=True)
    names = list(results)
    reference, others = (names[-1], names[:-1]) if len(names) > 1 else (names[0], [])
    axis_labels = labels(analysis)
    title = "ttbar → lepton + jets: " + selection(analysis, jets_on_new_line=True)
    saved = []
    with style():
        for key, stem in PLOTS.items():
            if key not in results[reference] or (  # b-tags: where the analysis counts them
                key == "nbtag" and not analysis.min_btags
            ):
                continue
            fig = ratio_figure(
                results[reference][key][{"dataset": "ttbar"}],
                {n: results[n][key][{"dataset": "ttbar"}] for n in others},
                title, xlabel=axis_labels[key], ylabel="events / bin",
                reference_label=reference, band=None,
            )
            fig.axes[0].set_title(title, loc="left", fontsize=12)
            fig.axes[1].xaxis.label.set_fontsize("small")
            saved.append(out / f"{stem}.png")
            fig.savefig(saved[-1], dpi=100)
    return saved


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=BUNDLED,
                        help="NanoAOD file (default: the bundled 200-event CMS ttbar file)")
    parser.add_argument("--model", default="delphes-cms",
                        help="shipped bundle name or bundle directory (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default: %(default)s)")
    parser.add_argument("--chunksize", type=int, default=50,
                        help="events per coffea chunk (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="> 1: FuturesExecutor with this many workers (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("plots"),
                        help="plot directory (default: %(default)s)")
    parser.add_argument("--min-btags", type=int, default=1,
                        help="b-tagged jets required; a model without a b-tag head falls back to "
                        "0, and the job says so (default: %(default)s)")
    args = parser.parse_args(argv)
    # coffea warns once per link whose target a file lacks (e.g. FatJet -> SubJet): harmless
    NanoAODSchema.warn_missing_crossrefs = False
    os.environ.setdefault("PYTHONWARNINGS", "ignore:Missing cross-reference")  # worker processes

    model = bundle_summary(args.model)
    min_btags = args.min_btags
    if min_btags and not mlsmear.load(args.model)["jet"].tags:
        print(f"note: model {model['name']!r} gives its jets no b-tag: selecting without b-tags")
        min_btags = 0
    analysis = processors.TTbarLeptonJets(min_btags=min_btags)
    results = {f"mlsmear {model['name']}": _run(args, mlsmear.MLSmearProcessor(
        analysis, model=args.model, seed=args.seed
    ))}
    if "Jet_pt" in uproot.open(args.file)["Events"]:
        results[f"{FILE_DETECTOR} (file)"] = _run(args, analysis)
    print(f"{args.file.name}: semileptonic ttbar selection: {selection(analysis)}")
    print(summary(results, model, args.file))
    for path in plot(results, args.out, analysis):
        print(f"saved {path}")
    return results


if __name__ == "__main__":
    main()
