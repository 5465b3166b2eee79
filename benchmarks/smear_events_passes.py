"""``smear_events`` (every kind smeared once per chunk) against one ``smear()`` per collection.

With models that follow other objects (``delphes-cms``: jets follow e/μ/γ, MET follows jets and
muons, photons of lost electrons follow the electrons), smearing collection by collection smears
the followed kinds again inside each chunk; ``smear_events`` smears each kind once. Both give the
same collections (checked here). Runs both alternately on the same eager NanoEvents (the bundled
CMS NanoAOD ttbar file unless ``--file``), best of ``--repeat``; prints JSON with the events per
second of each, their ratio and the torch threads.

    python benchmarks/smear_events_passes.py --model delphes-cms
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import awkward as ak
import torch

sys.path.insert(0, str(Path(__file__).parent))

from smear_throughput import best_time  # noqa: E402

import mlsmear  # noqa: E402
from mlsmear.coffea.schemas import schema_of  # noqa: E402

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="delphes-cms")
    parser.add_argument("--file", type=Path, default=BUNDLED, help="a NanoAOD file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    events = NanoEventsFactory.from_root(
        {str(args.file): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    bundle = mlsmear.load(args.model)
    targets = [t for t in schema_of(events).targets if t.kind in bundle]

    def one_pass() -> dict[str, ak.Array]:
        out = mlsmear.smear_events(events, model=bundle, seed=1, replace=[t.name for t in targets])
        return {t.name: out[t.name] for t in targets}

    def per_collection() -> dict[str, ak.Array]:
        return {t.name: mlsmear.smear(events[t.source], model=bundle, kind=t.kind, seed=1)
                for t in targets}

    a, b = one_pass(), per_collection()
    same = all(ak.array_equal(a[n], b[n]) for n in a)
    times: dict[str, list[float]] = {"one_pass": [], "per_collection": []}
    for _ in range(args.repeat):  # alternate, so that load changes hit both alike
        times["one_pass"].append(best_time(one_pass, repeat=1))
        times["per_collection"].append(best_time(per_collection, repeat=1))
    rate = {name: len(events) / min(t) for name, t in times.items()}
    print(json.dumps({
        "model": str(args.model), "events": len(events), "collections": list(a),
        "identical": bool(same),
        "smear_events_events_per_s": round(rate["one_pass"]),
        "per_collection_events_per_s": round(rate["per_collection"]),
        "ratio": round(rate["one_pass"] / rate["per_collection"], 3),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
