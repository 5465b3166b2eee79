"""The README's three-line analysis, runnable: smeared jets from GenJets, then a cut.

    python examples/snippet.py [--model default|PATH] [FILE]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import awkward as ak
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

import mlsmear

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"


def main(argv: list[str] | None = None) -> ak.Array:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=BUNDLED)
    parser.add_argument("--model", default="default", help="'default' or a bundle directory")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)
    events = NanoEventsFactory.from_root(
        {str(args.file): "Events"}, schemaclass=NanoAODSchema, mode="virtual"
    ).events()

    events["Jet"] = mlsmear.smear(events.GenJet, model=args.model, seed=1)
    jets = events.Jet[events.Jet.pt > 30]
    print("jets with pT > 30 GeV in the first events:", ak.num(jets)[:10].tolist())

    print("their GenJets' pT [GeV]:", [round(pt, 1) for pt in jets.matched_gen.pt[0].tolist()])
    return jets


if __name__ == "__main__":
    main()
