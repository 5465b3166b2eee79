"""What one filter run is told: :class:`FilterOptions`, the arguments of ``run_filter``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak

from ..generate.runner import BATCH_SIZE, JOB_SIZE
from ..model import Bundle

__all__ = ["FilterOptions"]


@dataclass(frozen=True)
class FilterOptions:
    """The options of a filter run (each as documented in :func:`~.pipeline.run_filter`).

    Arguments:
        selection: expression or callable on the predicted reco collections.
        output: HepMC3 file for the kept events.
        process, hepmc, n_events: the input (a Pythia process and an event count, or a file).
        seed: master seed, 0 ... 2**31 - 1; margin: M >= 0 (momenta scaled by 1 + M).
        model: the model bundle; summary: JSON file for the summary (optional).
        validate, scan_margins, card: the reference-detector check and its margins.
        batch_size, job_size: events per batch and per Pythia job.
        device, threads: where and on how many threads the network runs.
        overwrite: replace existing outputs; progress: show a progress bar.
    """

    selection: str | Callable[[Mapping[str, ak.Array]], Any]
    output: str | os.PathLike[str]
    process: str | None = None
    hepmc: str | os.PathLike[str] | None = None
    n_events: int | None = None
    seed: int = 0
    margin: float = 0.0
    model: str | os.PathLike[str] | Bundle = "default"
    summary: str | os.PathLike[str] | None = None
    validate: bool = False
    scan_margins: Sequence[float] = ()
    card: str = "atlas-like"
    batch_size: int = BATCH_SIZE
    job_size: int = JOB_SIZE
    device: str = "cpu"
    threads: int = 1
    overwrite: bool = False
    progress: bool = False

    @property
    def model_name(self) -> str:
        """The model as named in the summary and the HepMC run attributes."""
        return self.model.name if isinstance(self.model, Bundle) else str(self.model)
