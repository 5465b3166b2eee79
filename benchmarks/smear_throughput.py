"""End-to-end ``smear()`` throughput against plain Gaussian smearing and the network's bare rate.

Prints one JSON object. Every figure is measured in this run on the same truth jets:

- ``objects_per_s``: ``mlsmear.smear`` jets/s, awkward in → awkward out, at the largest size;
- ``gaussian_objects_per_s``: numpy Gaussian truth smearing of the same jets (awkward in → out);
- ``compute_limit_objects_per_s``: the same network's forward pass alone (trunk + every head,
  softmax, no sampling, no I/O; the card's back end) — the rate the matrix multiplications allow;
- ``compute_limit_fraction``: ``objects_per_s / compute_limit_objects_per_s``;
- ``objects_per_s_by_size``: objects/s per input size;
- with ``--compare OTHER``: ``compare_objects_per_s`` of another jet model (e.g. the previous
  release) on the same jets in the same run, and ``ratio_to_compare``.

Usage: ``python benchmarks/smear_throughput.py [--model default] [--sizes 1000 ... 1000000]
[--device cuda] [--compare OTHER_BUNDLE]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import awkward as ak
import numpy as np
import torch

import mlsmear
from mlsmear.engine import DEFAULT_BATCH_SIZE
from mlsmear.physics.collection import Collection
from mlsmear.physics.truth import neighbour_context
from mlsmear.synthetic import SyntheticDetector

PER_EVENT = 10


def truth_jets(n: int, seed: int = 1) -> ak.Array:
    """``n`` truth jets (synthetic spectrum from 20 GeV) in events of 10, with their
    neighbourhood inputs."""
    truth = SyntheticDetector().truth(n, np.random.default_rng(seed))
    truth["hadronFlavour"] = np.zeros(n)  # light hadronic jets: no prompt leptons or photons
    truth["muon_frac"] = truth["em_frac"] = np.zeros(n)
    truth["claimed_em"] = truth["claimed_muon"] = np.zeros(n)  # nor reconstructed ones
    offsets = np.arange(0, n + 1, PER_EVENT)
    kinematics = {k: truth[k] for k in ("pt", "eta", "phi")}
    truth.update(neighbour_context(Collection(offsets, kinematics)))
    return ak.unflatten(ak.zip(truth), np.full(n // PER_EVENT, PER_EVENT))


def jet_model(name: str) -> mlsmear.KindModel:
    """The jet model of a bundle (name or path), or the model a path holds alone."""
    loaded = mlsmear.load(name)
    return loaded if isinstance(loaded, mlsmear.KindModel) else loaded["jet"]


def gaussian_smear(jets: ak.Array, rng: np.random.Generator) -> ak.Array:
    """The hand-written alternative: flat efficiency, Gaussian pT/η/φ/m smearing."""
    counts = ak.to_numpy(ak.num(jets))
    flat = {f: ak.to_numpy(ak.flatten(jets[f])) for f in ("pt", "eta", "phi", "mass")}
    n = flat["pt"].size
    pt = flat["pt"] * (1 + 0.1 * rng.standard_normal(n))
    keep = (rng.random(n) < 0.95) & (pt > 20.0)
    reco = {
        "pt": pt, "eta": flat["eta"] + 0.01 * rng.standard_normal(n),
        "phi": flat["phi"] + 0.01 * rng.standard_normal(n),
        "mass": flat["mass"] * (1 + 0.1 * rng.standard_normal(n)),
    }
    event = np.repeat(np.arange(counts.size), counts)
    out = ak.zip({k: v[keep] for k, v in reco.items()}, with_name="Momentum4D")
    return ak.unflatten(out, np.bincount(event[keep], minlength=counts.size))


def best_time(fn, repeat: int) -> float:
    """Shortest of ``repeat`` timed calls (s), after one warm-up call (numba, allocator)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compute_limit(model: mlsmear.KindModel, batch: int, n: int, device: str = "cpu") -> float:
    """Objects/s of the bare forward pass (trunk + all heads, softmax included) in evaluation
    batches, with the engine's evaluator of the model (its card's back end and precision) on
    ``device``, threaded as the engine threads it (onnxruntime: batches side by side)."""
    x = np.random.default_rng(0).uniform(-1, 1, (batch, model.net.n_inputs)).astype(np.float32)
    scores = torch.randn(batch, model.net.n_quantities, device=device)
    batches = max(1, n // batch)  # at least one batch: fewer jets than a batch gave 0 / 0
    workers = torch.get_num_threads() if model.evaluates_per_thread(device) else 1

    def one_batch(_: int) -> None:
        evaluator = model.evaluator(torch.device(device))
        with torch.inference_mode():
            evaluator.start(x)
            for k in range(model.net.n_quantities):
                evaluator.probs(k, scores)

    def forward() -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one_batch, range(batches)))
        if device != "cpu":
            torch.cuda.synchronize()

    return batches * batch / best_time(forward, repeat=5)


def throughput(
    model: mlsmear.KindModel, sizes: list[int], *, repeat: int, batch_size: int,
    device: str = "cpu", compare: mlsmear.KindModel | None = None,
) -> dict:
    """The figures of this benchmark for a jet model (best of ``repeat`` timings per size) on
    ``device`` (``cpu`` or ``cuda``; smear() returns host arrays, so its timing is complete)."""
    warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
    by_size = {}
    for n in sizes:
        jets = truth_jets(n)
        by_size[n] = n / best_time(
            lambda jets=jets: mlsmear.smear(
                jets, model=model, seed=1, device=device, batch_size=batch_size
            ),
            repeat,
        )
    largest = max(sizes)
    jets = truth_jets(largest)
    other = {}
    if compare is not None:  # interleaved with the model's own timing: the same machine state
        rate = largest / best_time(
            lambda: mlsmear.smear(jets, model=compare, seed=1, device=device,
                                  batch_size=batch_size), repeat)
        again = largest / best_time(
            lambda: mlsmear.smear(jets, model=model, seed=1, device=device,
                                  batch_size=batch_size), repeat)
        by_size[largest] = max(by_size[largest], again)
        other = {"compare_objects_per_s": round(rate),
                 "ratio_to_compare": round(by_size[largest] / rate, 3)}
    rng = np.random.default_rng(0)
    gaussian = largest / best_time(lambda: gaussian_smear(jets, rng), repeat=3)
    limit = compute_limit(model, batch_size, min(largest, 200_000), device)
    return {
        "device": device,
        "network": model.net.config(),
        "precision": model.precision,
        "backend": model.backend,
        "torch_threads": torch.get_num_threads(),
        "objects_per_s": round(by_size[largest]),
        "gaussian_objects_per_s": round(gaussian),
        "gaussian_over_mlsmear": round(gaussian / by_size[largest], 2),
        "compute_limit_objects_per_s": round(limit),
        "compute_limit_fraction": round(by_size[largest] / limit, 3),
        "objects_per_s_by_size": {str(k): round(v) for k, v in by_size.items()},
        **other,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="bundle name/path (jet model used)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--compare", help="another bundle/path whose jet model is timed too")
    args = parser.parse_args()
    result = throughput(
        jet_model(args.model), args.sizes, repeat=3, batch_size=args.batch_size,
        device=args.device, compare=jet_model(args.compare) if args.compare else None,
    )
    print(json.dumps({"model": str(args.model), **result}, indent=1))


if __name__ == "__main__":
    main()
