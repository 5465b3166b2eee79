"""Jet response of a detector from jet pairs: median of reco pT / truth pT and its relative
resolution, in bins of truth pT and |eta|.

The resolution is the robust width ``(q84 - q16) / 2 / median``; its standard error is taken as
``0.96 * resolution / sqrt(n)`` (the asymptotic error of that quantile width for a Gaussian).

Command line (prints a Markdown table, optionally saves a plot; needs ``mlsmear[plot]`` for it)::

    python -m mlsmear.refdet.response cache/pairs/qcd --plot docs/img/jet_response.png
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ETA_EDGES", "PT_EDGES", "ResponseBin", "format_table", "jet_response", "plot_response"]

PT_EDGES = (20.0, 30.0, 50.0, 80.0, 120.0, 200.0, 400.0, 800.0, 1500.0, 2500.0)
ETA_EDGES = (0.0, 0.5, 1.5, 2.5, 4.5)
#: Relative standard error of the quantile width per 1/sqrt(n) (Gaussian).
_WIDTH_ERROR = 0.96


@dataclass(frozen=True)
class ResponseBin:
    """Response of the matched jets with truth pT in [pt_lo, pt_hi) GeV, |eta| in [eta_lo,
    eta_hi); ``efficiency`` is the matched fraction of all truth jets of the bin."""

    eta_lo: float
    eta_hi: float
    pt_lo: float
    pt_hi: float
    n: int
    efficiency: float
    median: float
    resolution: float
    resolution_error: float


def jet_response(
    pairs: Mapping[str, np.ndarray],
    *,
    pt_edges: Sequence[float] = PT_EDGES,
    eta_edges: Sequence[float] = ETA_EDGES,
    min_jets: int = 20,
) -> list[ResponseBin]:
    """Response bins from jet pairs columns (``truth_pt``, ``truth_eta``, ``matched``,
    ``reco_pt``); bins with fewer than ``min_jets`` matched jets are left out."""
    truth_pt = np.asarray(pairs["truth_pt"], dtype=np.float64)
    abs_eta = np.abs(np.asarray(pairs["truth_eta"], dtype=np.float64))
    matched = np.asarray(pairs["matched"], dtype=bool)
    ratio = np.asarray(pairs["reco_pt"], dtype=np.float64) / truth_pt
    bins = []
    for eta_lo, eta_hi in zip(eta_edges[:-1], eta_edges[1:], strict=True):
        for pt_lo, pt_hi in zip(pt_edges[:-1], pt_edges[1:], strict=True):
            inside = (abs_eta >= eta_lo) & (abs_eta < eta_hi)
            inside &= (truth_pt >= pt_lo) & (truth_pt < pt_hi)
            values = ratio[inside & matched]
            if len(values) < min_jets:
                continue
            q16, median, q84 = np.quantile(values, [0.16, 0.5, 0.84])
            resolution = 0.5 * (q84 - q16) / median
            bins.append(
                ResponseBin(
                    eta_lo, eta_hi, pt_lo, pt_hi, len(values),
                    float(np.mean(matched[inside])), float(median), float(resolution),
                    float(_WIDTH_ERROR * resolution / np.sqrt(len(values))),
                )
            )  # fmt: skip
    return bins


def format_table(bins: Sequence[ResponseBin]) -> str:
    """Markdown table of response bins."""
    lines = [
        "| abs(eta) | truth pT (GeV) | jets | efficiency | median reco/truth | resolution |",
        "|---|---|---|---|---|---|",
    ]
    for b in bins:
        lines.append(
            f"| {b.eta_lo:g}-{b.eta_hi:g} | {b.pt_lo:g}-{b.pt_hi:g} | {b.n} | {b.efficiency:.3f} "
            f"| {b.median:.3f} | {b.resolution:.3f} +- {b.resolution_error:.3f} |"
        )
    return "\n".join(lines)


def plot_response(bins: Sequence[ResponseBin], path: str | os.PathLike[str]) -> None:
    """Save median and resolution vs truth pT, one line per |eta| slice (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 6.4))
    for eta in sorted({(b.eta_lo, b.eta_hi) for b in bins}):
        rows = [b for b in bins if (b.eta_lo, b.eta_hi) == eta]
        centre = [np.sqrt(b.pt_lo * b.pt_hi) for b in rows]
        label = f"{eta[0]:g} < |eta| < {eta[1]:g}"
        top.plot(centre, [b.median for b in rows], "o-", label=label)
        bottom.errorbar(
            centre, [b.resolution for b in rows], yerr=[b.resolution_error for b in rows],
            fmt="o-", label=label,
        )  # fmt: skip
    top.axhline(1.0, color="grey", lw=0.8)
    top.set_ylabel("median reco pT / truth pT")
    bottom.set_ylabel("resolution (q84 - q16) / 2 / median")
    bottom.set_xlabel("truth jet pT (GeV)")
    bottom.set_xscale("log")
    top.legend(fontsize="small")
    top.set_title("atlas-like reference detector: anti-kt R = 0.4 jets")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the jet response table of a pairs directory (and save a plot)."""
    from ..pairs import read_pairs

    parser = argparse.ArgumentParser(prog="python -m mlsmear.refdet.response")
    parser.add_argument("pairs", help="pairs directory")
    parser.add_argument("--plot", help="save the figure here (PNG)")
    args = parser.parse_args(argv)
    bins = jet_response(read_pairs(args.pairs, "jet", as_numpy=True))
    print(format_table(bins))
    if args.plot:
        plot_response(bins, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
