"""Threads of one smearing process: torch's and numba's, set together.

torch and numba each start one thread per core. With one coffea or ``mlsmear smear`` worker per
core that oversubscribes the machine (3× slower on a busy 2-core machine here), so a worker
process smears single-threaded unless told otherwise. Outputs do not depend on the thread count.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import torch

__all__ = ["in_worker_process", "limited_threads", "set_threads"]


def in_worker_process() -> bool:
    """True in a process started by another Python process (a coffea futures or dask worker, a
    ``mlsmear smear --workers`` worker), False in the user's own process."""
    return multiprocessing.parent_process() is not None


def set_threads(n: int) -> None:
    """Use ``n`` threads for torch and numba (numba: at most the threads it was started with)."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


@contextmanager
def limited_threads(n: int) -> Iterator[None]:
    """Use ``n`` threads for torch and numba inside the block (:func:`set_threads`); the
    counts from before are restored afterwards."""
    before = torch.get_num_threads(), numba.get_num_threads()
    set_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
