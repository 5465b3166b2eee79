"""``MLSmearProcessor``: run a user's coffea processor on smeared events."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from coffea import processor

from ..engine import DEFAULT_BATCH_SIZE
from ..options import check_options
from ..threads import in_worker_process, set_threads
from .events import smear_events

__all__ = ["MLSmearProcessor"]


class MLSmearProcessor(processor.ProcessorABC):
    """A coffea processor that smears each chunk's truth, then hands it to ``analysis``.

    ``process`` replaces the reco collections (:func:`mlsmear.smear_events`) and returns
    ``analysis.process(events)``; ``postprocess`` is the analysis's own. It pickles small: the
    model travels as its name or path and each worker process loads it once (:func:`mlsmear.load`
    caches), on CUDA when ``device`` asks for it and one is present. Works with every coffea
    executor (iterative, futures, dask) and on dask-awkward events.

    Arguments:
        analysis: the coffea processor to run on the smeared events.
        model: ``"default"`` (the shipped bundle), a shipped bundle name, or a bundle directory.
        seed: user seed; outputs are identical for any chunking, executor and worker count.
        replace: reco collections to replace (default: all the schema has, see
            :mod:`mlsmear.coffea.schemas`).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        batch_size: rows per network evaluation.
        torch_threads: torch and numba threads of the process running ``process``
            (process-wide, :mod:`mlsmear.threads`). ``"auto"``: 1 in a worker process (futures
            and dask executors: one worker per core, 3× faster than oversubscribed on a busy
            2-core machine here), unchanged in your own process (iterative executor); an int:
            that many; ``None``: never set.
        precision: network evaluation precision, ``"float32"`` or ``"bfloat16"`` (default the
            model card's); ``"float32"`` for bit-identical output on a cluster of mixed CPUs.

    Example:
        >>> runner(fileset, processor_instance=MLSmearProcessor(MyAnalysis(), seed=1),
        ...        treename="Events")  # doctest: +SKIP
    """

    def __init__(
        self,
        analysis: processor.ProcessorABC,
        *,
        model: str | Path = "default",
        seed: int = 0,
        replace: Iterable[str] | None = None,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        torch_threads: int | Literal["auto"] | None = "auto",
        precision: str | None = None,
    ) -> None:
        if not isinstance(model, str | Path):
            raise TypeError(
                "MLSmearProcessor takes the model by name or path (it is loaded once on each "
                f"worker), not a {type(model).__name__}"
            )
        self.analysis = analysis
        self.model = str(model)
        self.seed = seed
        self.replace = None if replace is None else tuple(replace)
        self.device = device
        self.batch_size = batch_size
        self.torch_threads = torch_threads
        check_options(seed, batch_size, precision)
        self.precision = precision

    def process(self, events: Any) -> Any:
        """Smear, replace, and run the analysis on one chunk (or on dask-awkward events)."""
        threads = self.torch_threads
        if threads == "auto":
            threads = 1 if in_worker_process() else None
        if threads is not None:
            set_threads(int(threads))
        smeared = smear_events(
            events, model=self.model, seed=self.seed, replace=self.replace, device=self.device,
            batch_size=self.batch_size, precision=getattr(self, "precision", None),
        )
        return self.analysis.process(smeared)

    def postprocess(self, accumulator: Any) -> Any:
        """The analysis's ``postprocess``."""
        return self.analysis.postprocess(accumulator)

    def __repr__(self) -> str:
        return (
            f"MLSmearProcessor({self.analysis!r}, model={self.model!r}, seed={self.seed}, "
            f"replace={self.replace}, device={self.device!r})"
        )
