"""Throughput of the reference detector and of ``mlsmear generate`` on ttbar; prints JSON.

- ``detector_events_per_s``: ``Detector.run`` on pre-generated Pythia ttbar particles (Pythia,
  truth building and I/O excluded), batches of ``--batch`` events, one core.
- ``pythia_events_per_s``: Pythia 8 ttbar generation alone (``nextBatch``), one core.
- ``truth_events_per_s``: GenJets, prompt leptons/photons, GenMET, flavour hadrons.
- ``generate_events_per_s``: the whole ``generate`` (Pythia + truth + detector + matching +
  parquet) with ``--workers`` processes, including start-up and Pythia initialisation.

With ``--workers 1`` (default) the process is pinned to one CPU core.

Usage::

    python benchmarks/refdet_rate.py [--events 2000] [--generate-events 2000] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from mlsmear.generate.pythia import PROCESSES, PythiaGenerator
from mlsmear.generate.runner import generate_pairs
from mlsmear.physics.truth import flavour_hadrons, stable_particles, truth_objects
from mlsmear.refdet import Detector


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="ttbar events for the detector")
    parser.add_argument("--batch", type=int, default=250, help="events per Detector.run call")
    parser.add_argument("--generate-events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.workers == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    generator = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=4242)
    start = time.perf_counter()
    records = [generator.generate(args.batch) for _ in range(args.events // args.batch)]
    pythia_seconds = time.perf_counter() - start
    n_events = sum(r.n_events for r in records)

    detector = Detector.from_card("atlas-like")
    start = time.perf_counter()
    inputs = [(stable_particles(r), flavour_hadrons(r)) for r in records]
    truths = [truth_objects(r, hadrons) for r, (_, hadrons) in zip(records, inputs, strict=True)]
    truth_seconds = time.perf_counter() - start
    detector.run(inputs[0][0], 0, hadrons=inputs[0][1])  # warm up (numba cache, fastjet)
    start = time.perf_counter()
    for i, (particles, hadrons) in enumerate(inputs):
        detector.run(particles, i, hadrons=hadrons)
    detector_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as output:
        start = time.perf_counter()
        generate_pairs(
            output,
            process="ttbar",
            n_events=args.generate_events,
            seed=1,
            workers=args.workers,
            progress=False,
        )
        generate_seconds = time.perf_counter() - start

    result = {
        "process": "ttbar (Pythia 8, 13 TeV)",
        "card": "atlas-like",
        "events": n_events,
        "mean_stable_particles_per_event": round(sum(len(p) for p, _ in inputs) / n_events, 1),
        "truth_objects_per_event": {
            kind: round(sum(len(t[kind]) for t in truths) / n_events, 2)
            for kind in ("jet", "electron", "muon", "photon")
        },
        "batch": args.batch,
        "detector_events_per_s": _rate(n_events, detector_seconds),
        "pythia_events_per_s": _rate(n_events, pythia_seconds),
        "truth_events_per_s": _rate(n_events, truth_seconds),
        "generate_events": args.generate_events,
        "generate_workers": args.workers,
        "generate_wall_s": round(generate_seconds, 1),
        "generate_events_per_s": _rate(args.generate_events, generate_seconds),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
