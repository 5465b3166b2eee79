"""coffea integration: smeared reco collections for NanoEvents, whole events, and a processor.

- ``mlsmear.smear(events.GenJet)`` (eager, virtual or dask-awkward NanoEvents) returns a NanoAOD
  ``Jet`` (Delphes ``Jet`` for ``DelphesSchema``): assign it with ``events["Jet"] = ...``;
- :func:`smear_events` replaces every reco collection at once;
- :class:`MLSmearProcessor` wraps a coffea processor so that it runs on smeared events.

See ``docs/coffea.md`` for the spelling that works, links, executors and reproducibility.
"""

from .events import smear_events
from .nanoevents import smear_collection
from .processor import MLSmearProcessor

__all__ = ["MLSmearProcessor", "smear_collection", "smear_events"]
