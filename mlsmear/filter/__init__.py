"""The generation-stage Monte Carlo filter (``mlsmear filter``): predict each generated event's
reco with the learnt detector, keep the events that can pass an analysis selection, and write
them with their full generator record to HepMC3 for the expensive full simulation.

Needs the ``generate`` extra (pythia8mc, fastjet, pyhepmc): ``pip install "mlsmear[generate]"``.

Example:
    >>> from mlsmear.filter import run_filter
    >>> summary = run_filter("MET.pt > 250", "kept.hepmc", process="wjets", n_events=2000,
    ...                      seed=1, margin=0.2, validate=True)  # doctest: +SKIP
    >>> summary["keep_fraction"], summary["signal_efficiency"]  # doctest: +SKIP
"""

from .margin import scale_momenta
from .pipeline import run_filter
from .selection import COLLECTION_NAMES, Selection

__all__ = ["COLLECTION_NAMES", "Selection", "run_filter", "scale_momenta"]
