"""Whole-event smearing rate of a bundle against another on the same Pythia events, one run.

Prints one JSON object: ``events_per_s`` of ``mlsmear.whole_event.smear_event`` (every kind the
bundle has, in its smearing order: e, μ, γ, jets that follow them, MET) for ``--model`` and for
``--compare`` on the same ttbar events (a 10⁴-event chunk of them), timed alternately (best of
``--repeat``), ``ratio_to_compare`` and ``torch_threads``.

Usage: ``python benchmarks/whole_event_rate.py --model weights/delphes-cms --compare OTHER``
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from smear_throughput import best_time  # noqa: E402

import mlsmear  # noqa: E402
from mlsmear.generate.pythia import PROCESSES, PythiaGenerator  # noqa: E402
from mlsmear.physics.truth import flavour_hadrons, truth_arrays, truth_objects  # noqa: E402
from mlsmear.whole_event import smear_event  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="delphes-cms")
    parser.add_argument("--compare", required=True, help="another bundle (e.g. the last release)")
    parser.add_argument("--events", type=int, default=1000, help="Pythia ttbar events")
    parser.add_argument("--chunk", type=int, default=10_000, help="events per smearing call")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=1).generate(args.events)
    arrays = truth_arrays(truth_objects(record, flavour_hadrons(record)))
    copies = max(1, args.chunk // args.events)
    chunk = {k: ak.concatenate([v] * copies) for k, v in arrays.items()}
    ids = np.arange(copies * args.events)
    bundles = {"model": mlsmear.load(args.model), "compare": mlsmear.load(args.compare)}
    times = {name: [] for name in bundles}
    for _ in range(args.repeat):  # alternate, so that load changes hit both alike
        for name, bundle in bundles.items():
            times[name].append(best_time(
                lambda b=bundle: smear_event(chunk, bundle=b, seed=1, event_id=ids), repeat=1
            ))
    rate = {name: round(ids.size / min(t)) for name, t in times.items()}
    print(json.dumps({
        "model": str(args.model), "compare": str(args.compare), "events": int(ids.size),
        "events_per_s": rate["model"], "compare_events_per_s": rate["compare"],
        "ratio_to_compare": round(rate["model"] / rate["compare"], 3),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
