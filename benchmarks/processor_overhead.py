"""Overhead of MLSmearProcessor: (smear + analysis on truth) / (analysis on the file's own reco).

Both run in this process, alternately, on the same NanoAOD file with the same executor and chunk
size: the ttbar analysis of ``mlsmear.processors`` once on the file's reco collections and once
wrapped in ``MLSmearProcessor`` (all reco collections replaced by smeared truth). Each is repeated
``--repeats`` times after one untimed warm-up run (model loading, compilation); the medians give
the ratio. Prints JSON.

    python benchmarks/processor_overhead.py --model DIR     # e.g. a tiny bundle
    python benchmarks/processor_overhead.py                 # the shipped default bundle
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import uproot
from coffea import processor
from coffea.nanoevents import NanoAODSchema

import mlsmear
from mlsmear import processors

BUNDLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "nano_tt_v12.root"


def _timed(path: Path, analysis: processor.ProcessorABC, chunksize: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one Runner pass; CPU time is less sensitive to a busy machine."""
    runner = processor.Runner(
        processor.IterativeExecutor(status=False), schema=NanoAODSchema, chunksize=chunksize
    )
    wall, cpu = time.perf_counter(), time.process_time()
    runner({"tt": [str(path)]}, treename="Events", processor_instance=analysis)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(
    path: Path, model: str, *, repeats: int, chunksize: int, seed: int, threads: int | None
) -> dict[str, Any]:
    """Median wall and CPU times (s) of both runs and their ratios."""
    plain = processors.TTbarLeptonJets()
    smeared = mlsmear.MLSmearProcessor(
        processors.TTbarLeptonJets(), model=model, seed=seed, torch_threads=threads
    )
    _timed(path, plain, chunksize), _timed(path, smeared, chunksize)  # warm-up
    times: dict[str, list[tuple[float, float]]] = {"reco": [], "smeared": []}
    for _ in range(repeats):
        times["reco"].append(_timed(path, plain, chunksize))
        times["smeared"].append(_timed(path, smeared, chunksize))
    wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
    cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
    events = uproot.open(path)["Events"].num_entries
    loaded = mlsmear.load(model)
    return {
        "benchmark": "processor_overhead",
        "file": path.name,
        "events": events,
        "analysis": "mlsmear.processors.TTbarLeptonJets",
        "executor": "IterativeExecutor",
        "chunksize": chunksize,
        "repeats": repeats,
        "model": model,
        "model_bundle": loaded.name if isinstance(loaded, mlsmear.Bundle) else loaded.kind,
        "model_is_shipped": model == "default" or model in mlsmear.shipped(),
        "analysis_on_reco_s": round(wall["reco"], 4),
        "mlsmear_processor_s": round(wall["smeared"], 4),
        "ratio": round(wall["smeared"] / wall["reco"], 3),
        "cpu_ratio": round(cpu["smeared"] / cpu["reco"], 3),
        "smearing_ms_per_event": round(1e3 * (wall["smeared"] - wall["reco"]) / events, 3),
        "wall_and_cpu_s": {k: [[round(w, 4), round(c, 4)] for w, c in v] for k, v in times.items()},
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=BUNDLED, help="NanoAOD with reco and truth")
    parser.add_argument("--model", default="default", help="'default' or a bundle directory")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunksize", type=int, default=100_000, help="default: whole file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="MLSmearProcessor(torch_threads=...)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)
    warnings.filterwarnings("ignore", category=mlsmear.OutOfRangeWarning)
    with contextlib.redirect_stdout(sys.stderr):  # coffea draws progress bars: keep stdout JSON
        result = measure(
            args.file, args.model, repeats=args.repeats, chunksize=args.chunksize, seed=args.seed,
            threads=args.torch_threads,
        )
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
