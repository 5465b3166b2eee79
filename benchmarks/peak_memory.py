"""Peak memory of ``smear()`` against input size: each size in a fresh process.

Prints JSON: peak resident set size (MiB) per number of jets, and ``peak_rss_ratio`` = peak at the
largest size / peak at the smallest. The network runs in fixed batches, so beyond the input and
output arrays themselves memory must stay flat.

Usage: ``python benchmarks/peak_memory.py [--model default] [--sizes 10000 1000000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = """
import resource, sys, warnings
import mlsmear
sys.path.insert(0, {bench!r})
from smear_throughput import jet_model, truth_jets
warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
model = jet_model({model!r})
jets = truth_jets({n})
mlsmear.smear(jets, model=model, seed=1, device="cpu")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_rss_mib(model: str, n: int) -> float:
    """Peak RSS (MiB) of a fresh process that builds ``n`` truth jets and smears them."""
    from pathlib import Path

    code = _CHILD.format(bench=str(Path(__file__).parent), model=model, n=n)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    peaks = {n: peak_rss_mib(args.model, n) for n in args.sizes}
    lo, hi = min(args.sizes), max(args.sizes)
    print(json.dumps({
        "peak_rss_mib": {str(n): round(v, 1) for n, v in peaks.items()},
        "peak_rss_ratio": round(peaks[hi] / peaks[lo], 3),
    }, indent=1))


if __name__ == "__main__":
    main()
