"""The paper's generation-stage filter: keep the events whose predicted reco MET is large.

Run through :class:`mlsmear.MLSmearProcessor` on truth-level events, it lists the identities of
the events worth a full simulation (predicted MET above a threshold, e.g. 250 GeV), with the MET
spectrum around the threshold.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor

__all__ = ["METTail"]


class METTail(processor.ProcessorABC):
    """Events with MET above ``threshold`` (GeV).

    Output: ``met`` histogram (axis ``dataset``), ``counts`` {dataset: {events, selected}} and
    ``selected``: the set of ``(run, luminosityBlock, event)`` of the kept events (NanoAOD; the
    ``Event.Number`` for Delphes, with run = lumi = 0).

    Arguments:
        threshold: MET cut (GeV); met: the MET collection (``MET``, ``PuppiMET``, ``MissingET``).
    """

    def __init__(self, *, threshold: float = 250.0, met: str = "MET") -> None:
        self.threshold, self.met = threshold, met

    def process(self, events: Any) -> dict[str, Any]:
        """MET spectrum, counts and the identities of the selected events of one chunk."""
        dataset = events.metadata.get("dataset", "sample")
        met = events[self.met]
        met_pt = ak.to_numpy(met.MET if "MET" in met.fields else met.pt)
        keep = met_pt > self.threshold
        if "event" in events.fields:
            ids = [ak.to_numpy(events[f])[keep] for f in ("run", "luminosityBlock", "event")]
        else:
            number = ak.to_numpy(events.Event.Number)[keep]
            ids = [np.zeros_like(number), np.zeros_like(number), number]
        spectrum = hist.Hist(
            hist.axis.StrCategory([], growth=True, name="dataset"),
            hist.axis.Regular(40, 0.0, 2 * self.threshold, name="met", label="MET [GeV]"),
        )
        spectrum.fill(dataset=dataset, met=met_pt)
        return {
            "met": spectrum,
            "counts": {dataset: {"events": len(events), "selected": int(keep.sum())}},
            "selected": {tuple(int(v) for v in row) for row in zip(*ids, strict=True)},
        }

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        """Unchanged."""
        return accumulator
