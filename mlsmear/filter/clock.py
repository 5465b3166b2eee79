"""Wall-clock time per stage of the filter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Clock"]


class Clock:
    """Accumulates seconds per named stage.

    Example:
        >>> clock = Clock(("generator", "nn"))
        >>> with clock("nn"):
        ...     pass
        >>> sorted(clock.seconds)
        ['generator', 'nn']
    """

    def __init__(self, stages: tuple[str, ...]) -> None:
        self.seconds = dict.fromkeys(stages, 0.0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
