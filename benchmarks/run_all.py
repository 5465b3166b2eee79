"""All speed figures in one run, printed as one JSON object.

Keys: ``objects_per_s`` (end-to-end ``smear()`` jets/s at the largest size),
``gaussian_objects_per_s`` (numpy Gaussian smearing of the same jets), ``torch_threads`` (used by
every mlsmear figure; the reference detector and Delphes run in one thread),
``refdet_speedup_per_event`` (reference detector stage time per ttbar event / mlsmear time per
event for every kind, on the same Pythia events), ``delphes_speedup_per_event`` (real Delphes'
wall time per event, reading its HepMC input included, / the same mlsmear time, on the same
events; ``null`` with ``delphes_skipped`` saying why when Delphes is not built),
``compute_limit_fraction`` (end-to-end rate / the network's bare forward rate), ``peak_rss_ratio``
(peak memory at the largest size / at 10⁴ jets), and the figures behind them.

Usage: ``python benchmarks/run_all.py [--quick] [--model default]`` (``--quick``: under 2 minutes
on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from peak_memory import peak_rss_mib  # noqa: E402
from smear_throughput import best_time, throughput  # noqa: E402

import mlsmear  # noqa: E402
from mlsmear.engine import DEFAULT_BATCH_SIZE  # noqa: E402


def refdet_speedup(
    bundle: mlsmear.Bundle, n_events: int, seed: int = 1, chunk_events: int = 10_000
) -> dict:
    """Per-event time of the reference detector stage vs mlsmear (all kinds) on ttbar events.

    The detector runs on the ``n_events`` Pythia events at once. mlsmear runs on them too, and
    on a chunk of ``chunk_events`` made of the same events repeated under distinct event
    identities (a typical coffea chunk, where per-call overheads are amortised as in an
    analysis); the speed-up quoted is the chunk's.
    """
    from mlsmear.filter.reco import predict
    from mlsmear.generate.pythia import PROCESSES, PythiaGenerator
    from mlsmear.physics.truth import (
        flavour_hadrons,
        stable_particles,
        truth_arrays,
        truth_objects,
    )
    from mlsmear.refdet import Detector

    record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=seed).generate(n_events)
    hadrons = flavour_hadrons(record)
    particles = stable_particles(record)
    detector = Detector.from_card("atlas-like")
    arrays = truth_arrays(truth_objects(record, hadrons))
    ids = np.arange(n_events)
    kinds = [k for k in arrays if k in bundle]
    t_ref = best_time(lambda: detector.run(particles, 1, hadrons=hadrons), repeat=3)
    t_nn = best_time(
        lambda: predict(arrays, kinds, bundle=bundle, seed=1, identity=ids, device="cpu"),
        repeat=3,
    )
    copies = max(1, chunk_events // n_events)
    chunk = {k: ak.concatenate([arrays[k]] * copies) for k in kinds}
    chunk_ids = np.arange(copies * n_events)
    t_chunk = (
        best_time(
            lambda: predict(chunk, kinds, bundle=bundle, seed=1, identity=chunk_ids, device="cpu"),
            repeat=3,
        )
        / copies
    )
    return {
        "events": n_events,
        "kinds": kinds,
        "chunk_events": copies * n_events,
        "objects_per_event": {
            k: round(len(ak.flatten(arrays[k], axis=1)) / n_events, 2)
            if arrays[k].ndim > 1
            else 1.0
            for k in kinds
        },
        "refdet_events_per_s": round(n_events / t_ref),
        "mlsmear_events_per_s": round(n_events / t_chunk),
        "mlsmear_events_per_s_unchunked": round(n_events / t_nn),
        "refdet_speedup_per_event": round(t_ref / t_chunk, 1),
        "refdet_speedup_per_event_unchunked": round(t_ref / t_nn, 1),
    }


def delphes_speedup(n_events: int, mlsmear_events_per_s: float, card: str = "delphes-cms") -> dict:
    """Real Delphes (``card``) on the ttbar events of :func:`refdet_speedup` (same seed and count)
    against mlsmear's per-event rate measured there, in this run."""
    from delphes_rate import delphes_ms_per_event

    from mlsmear.delphes.locate import DelphesNotBuilt

    try:
        delphes = delphes_ms_per_event(n_events, card=card)
    except DelphesNotBuilt as error:
        return {"delphes_speedup_per_event": None, "delphes_skipped": str(error)}
    def speedup(key: str) -> float:  # Delphes ms per event over mlsmear's
        return round(delphes[key] * mlsmear_events_per_s / 1e3, 1)

    return {
        "delphes_speedup_per_event": speedup("delphes_ms_per_event"),
        "delphes_speedup_per_event_proctime": speedup("delphes_proctime_ms_per_event"),
        "delphes_comparison": delphes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (< 2 min)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
    bundle = mlsmear.load(args.model)
    jet = bundle["jet"]
    sizes = [10_000, 1_000_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    result = {
        "model": str(args.model),
        **throughput(jet, sizes, repeat=2 if args.quick else 3, batch_size=DEFAULT_BATCH_SIZE),
    }
    peaks = {n: peak_rss_mib(str(args.model), n) for n in (10_000, max(sizes))}
    result["peak_rss_mib"] = {str(n): round(v, 1) for n, v in peaks.items()}
    result["peak_rss_ratio"] = round(peaks[max(sizes)] / peaks[10_000], 3)
    speed = refdet_speedup(bundle, 1000 if args.quick else 3000)
    result["refdet_speedup_per_event"] = speed.pop("refdet_speedup_per_event")
    result["refdet_comparison"] = speed
    result.update(delphes_speedup(speed["events"], speed["mlsmear_events_per_s"]))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
