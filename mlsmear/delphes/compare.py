"""Compare two pairs directories of the same generator events (e.g. the reference detector and
real Delphes): efficiencies, responses, resolutions per kind, as a Markdown table.

Usage::

    python -m mlsmear.delphes.compare A_DIR B_DIR [A_DIR2 B_DIR2 ...] [--names refdet delphes]

Definitions (truth |eta| < 2.5): jets with truth pT > 30 GeV; electrons, muons, photons with truth
pT > 20 GeV (``isolated``: truth ``iso`` < 0.1). Efficiency = matched fraction; response = reco
pT / truth pT of matched objects, its median; resolution = half the 16-84 % inter-quantile range
of the response over its median; eta / phi smearing = half the 16-84 % range of reco - truth and
the fraction of matched objects whose reco value equals the truth exactly. MET: reco - truth MET
(GeV), median and half 16-84 % range.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..pairs import read_pairs
from ..physics.kinematics import wrap_phi

__all__ = ["compare", "summarise"]

_CUTS = {"jet": 30.0, "electron": 20.0, "muon": 20.0, "photon": 20.0}


def _half_range(x: np.ndarray) -> float:
    if x.size < 2:
        return float("nan")
    lo, hi = np.quantile(x, [0.16, 0.84])
    return float(hi - lo) / 2


def _binomial(k: int, n: int) -> str:
    if n == 0:
        return "–"
    p = k / n
    return f"{p:.3f} ± {np.sqrt(p * (1 - p) / n):.3f}"


def summarise(directories: Sequence[str]) -> dict[str, str]:
    """Figures (row label -> formatted value) of the pairs directories joined."""
    rows: dict[str, str] = {}
    for kind, pt_min in _CUTS.items():
        table = pd.concat([read_pairs(d, kind).to_pandas() for d in directories])
        t = table[(table.truth_pt > pt_min) & (np.abs(table.truth_eta) < 2.5)]
        m = t[t.matched]
        label = f"{kind} (pT > {pt_min:g})"
        rows[f"{label}: objects"] = f"{len(t)}"
        rows[f"{label}: efficiency"] = _binomial(len(m), len(t))
        if kind != "jet":
            iso = t[t.truth_iso < 0.1]
            rows[f"{label}: efficiency, isolated"] = _binomial(int(iso.matched.sum()), len(iso))
        response = (m.reco_pt / m.truth_pt).to_numpy()
        median = float(np.median(response)) if response.size else float("nan")
        rows[f"{label}: median pT response"] = f"{median:.3f}"
        rows[f"{label}: pT resolution"] = f"{_half_range(response) / median:.3f}"
        if kind == "jet":
            for lo, hi in ((30, 50), (50, 100), (100, 200), (200, np.inf)):
                b = m[(m.truth_pt >= lo) & (m.truth_pt < hi)]
                r = (b.reco_pt / b.truth_pt).to_numpy()
                if r.size > 10:
                    med = float(np.median(r))
                    rows[f"jet {lo}-{hi:g} GeV: median response / resolution"] = (
                        f"{med:.3f} / {_half_range(r) / med:.3f}"
                    )
        deta = (m.reco_eta - m.truth_eta).to_numpy()
        dphi = wrap_phi((m.reco_phi - m.truth_phi).to_numpy())
        rows[f"{label}: eta smearing (exactly 0)"] = (
            f"{_half_range(deta):.2g} ({np.mean(deta == 0) if deta.size else 0:.2f})"
        )
        rows[f"{label}: phi smearing (exactly 0)"] = (
            f"{_half_range(dphi):.2g} ({np.mean(dphi == 0) if dphi.size else 0:.2f})"
        )
    met = pd.concat([read_pairs(d, "met").to_pandas() for d in directories])
    diff = (met.reco_pt - met.truth_pt).to_numpy()
    rows["MET: median reco - truth (GeV)"] = f"{np.median(diff):.1f}"
    rows["MET: half 16-84 % range (GeV)"] = f"{_half_range(diff):.1f}"
    return rows


def compare(groups: dict[str, Sequence[str]]) -> str:
    """Markdown table with one column per named group of pairs directories."""
    summaries = {name: summarise(dirs) for name, dirs in groups.items()}
    names = list(summaries)
    lines = ["| quantity | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in summaries[names[0]]:
        lines.append(f"| {key} | " + " | ".join(summaries[n].get(key, "–") for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", help="pairs directories: A B [A2 B2 ...]")
    parser.add_argument("--names", nargs=2, default=("A", "B"))
    args = parser.parse_args()
    if len(args.directories) % 2:
        parser.error("give the directories in pairs: A B [A2 B2 ...]")
    a, b = args.directories[0::2], args.directories[1::2]
    print(compare({args.names[0]: a, args.names[1]: b}))


if __name__ == "__main__":
    main()
