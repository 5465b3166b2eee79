"""The dask-awkward path: smeared truth on a dask LocalCluster with ``apply_to_fileset``.

The same ``MLSmearProcessor`` as with the coffea ``Runner``, here on dask-awkward events: the
smearing is one more lazy step in the task graph, only the columns it needs are read, and the
numbers are those of any other executor or partitioning (the event identity travels with the
rows). Replace the LocalCluster with any dask cluster's client to scale out.

    python examples/dask_example.py [--model default|PATH] [--step-size 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import dask
import dask_awkward as dak
import hist.dask
from coffea import processor
from coffea.dataset_tools import DataGroupSpec, apply_to_fileset, preprocess
from coffea.nanoevents import NanoAODSchema
from dask.distributed import Client, LocalCluster

import mlsmear

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"


class JetActivity(processor.ProcessorABC):
    """Lazy histograms of HT (jets with pT > 30 GeV) and MET, and the number of jets."""

    def process(self, events: Any) -> dict[str, Any]:
        jets = events.Jet[events.Jet.pt > 30]
        ht = hist.dask.Hist.new.Reg(30, 0, 1500, name="ht", label="HT [GeV]").Double()
        met = hist.dask.Hist.new.Reg(30, 0, 300, name="met", label="MET [GeV]").Double()
        return {
            "ht": ht.fill(ht=dak.sum(jets.pt, axis=1)),
            "met": met.fill(met=events.MET.pt),
            "jets": dak.sum(dak.num(jets, axis=1)),
        }

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=BUNDLED)
    parser.add_argument("--model", default="default", help="'default' or a bundle directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--step-size", type=int, default=50, help="events per partition")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)

    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        fileset = DataGroupSpec.model_validate({"ttbar": {"files": {str(args.file): "Events"}}})
        available, _ = preprocess(fileset, step_size=args.step_size, align_clusters=False)
        smearing = mlsmear.MLSmearProcessor(JetActivity(), model=args.model, seed=args.seed)
        lazy = apply_to_fileset(smearing, available, schemaclass=NanoAODSchema)
        (columns,) = dak.necessary_columns(lazy["ttbar"]["jets"]).values()
        print("columns the jet count reads:", ", ".join(sorted(columns)))
        (result,) = dask.compute(lazy)
    out = result["ttbar"]
    met = out["met"]
    mean_met = (met.axes[0].centers * met.values()).sum() / met.values().sum()
    print(f"{int(out['jets'])} smeared jets with pT > 30 GeV in {int(met.sum())} events; "
          f"mean MET {mean_met:.1f} GeV")
    return out


if __name__ == "__main__":
    main()
