"""``smear()`` jets/s at 1 and 2 threads, on an idle machine and with the machine loaded.

Prints one JSON object. All figures come from one run on the same truth jets
(:func:`smear_throughput.truth_jets`), best of ``--repeat`` timings each:

- ``objects_per_s``: ``{"idle": {"1": ..., "2": ...}, "loaded": {"1": ..., "2": ...}}`` — jets/s
  with torch and numba at 1 and 2 threads (:func:`mlsmear.threads.limited_threads`), first with
  nothing else running, then while ``--load`` other processes each spin one core (a busy loop,
  started before and stopped after the loaded timings);
- ``loaded_over_idle``: the loaded rate / the idle rate, per thread count;
- ``two_over_one``: the 2-thread rate / the 1-thread rate, idle and loaded.

Usage: ``python benchmarks/thread_contention.py [--model default] [--jets 200000] [--load 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from smear_throughput import best_time, jet_model, truth_jets  # noqa: E402

import mlsmear  # noqa: E402
from mlsmear.threads import limited_threads  # noqa: E402

THREADS = (1, 2)


def _count(jets: ak.Array) -> int:
    return int(ak.sum(ak.num(jets)))


def rates(model: mlsmear.KindModel, jets: ak.Array, repeat: int) -> dict[str, int]:
    """Jets/s per thread count."""
    out, events = {}, np.arange(len(jets))
    for n in THREADS:
        with limited_threads(n):
            seconds = best_time(lambda: mlsmear.smear(jets, model=model, seed=1, device="cpu",
                                                      event_id=events), repeat)
        out[str(n)] = round(_count(jets) / seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="bundle name/path (jet model used)")
    parser.add_argument("--jets", type=int, default=200_000,
                        help="truth jets (in events of 10)")
    parser.add_argument("--load", type=int, default=1, help="busy processes while loaded")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
    model = jet_model(args.model)
    jets = truth_jets(args.jets)
    result = {"idle": rates(model, jets, args.repeat)}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(args.load)]
    try:
        result["loaded"] = rates(model, jets, args.repeat)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(json.dumps({
        "model": str(args.model), "jets": _count(jets), "cores": os.cpu_count(),
        "busy_processes": args.load, "objects_per_s": result,
        "loaded_over_idle": {n: round(result["loaded"][n] / result["idle"][n], 3)
                             for n in result["idle"]},
        "two_over_one": {state: round(r["2"] / r["1"], 3) for state, r in result.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
