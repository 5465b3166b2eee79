"""Detector response and efficiency inside coffea: validate a learnt detector (or a file's reco).

For every reco object linked to its truth object (NanoAOD ``genJetIdx``, which smeared jets carry
too) the response reco pT / truth pT is filled against truth pT and \\|η\\|; for every truth object
whether some reco object links to it (the efficiency). Run it on a file's own reconstruction and
through :class:`mlsmear.MLSmearProcessor` on the same file and compare.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
from coffea import processor

__all__ = ["Response"]

#: Truth pT bin edges (GeV) and \|η\| regions (the paper's \|η\| < 0.4 / > 0.8 test among them).
PT_EDGES = (20.0, 30.0, 50.0, 80.0, 120.0, 200.0, 500.0)
ETA_EDGES = (0.0, 0.4, 0.8, 1.5, 2.5, 4.7)


def _fill(histogram: hist.Hist, dataset: str, truth: ak.Array, **values: Any) -> None:
    histogram.fill(
        dataset=dataset, pt=ak.flatten(truth.pt), abseta=abs(ak.flatten(truth.eta)), **values
    )


class Response(processor.ProcessorABC):
    """Response and efficiency histograms of one reco collection against its truth collection.

    Arguments:
        reco, truth, link: reco collection, truth collection and the reco field holding the
            truth object's index in its event (``Jet``, ``GenJet``, ``genJetIdx``).
        truth_pt_min: truth objects below this pT (GeV) are not counted.
    """

    def __init__(
        self, *, reco: str = "Jet", truth: str = "GenJet", link: str = "genJetIdx",
        truth_pt_min: float = PT_EDGES[0],
    ) -> None:
        self.reco, self.truth, self.link, self.truth_pt_min = reco, truth, link, truth_pt_min

    def _axes(self) -> tuple[hist.axis.AxesMixin, ...]:
        return (
            hist.axis.StrCategory([], growth=True, name="dataset"),
            hist.axis.Variable(PT_EDGES, name="pt", label="truth pT [GeV]"),
            hist.axis.Variable(ETA_EDGES, name="abseta", label="truth |eta|"),
        )

    def process(self, events: Any) -> dict[str, hist.Hist]:
        """``response`` (reco/truth pT), ``truth`` and ``matched`` (efficiency) histograms."""
        dataset = events.metadata.get("dataset", "sample")
        truth, reco = events[self.truth], events[self.reco]
        index = reco[self.link]
        linked = reco[(index >= 0) & (index < ak.num(truth))]
        partner = truth[linked[self.link]]
        counted = truth.pt > self.truth_pt_min
        above = partner.pt > self.truth_pt_min
        linked, partner = linked[above], partner[above]
        is_matched = ak.any(
            ak.local_index(truth)[counted][:, :, None] == linked[self.link][:, None, :], axis=2
        )
        response = hist.axis.Regular(60, 0.0, 2.0, name="response", label="reco/truth pT")
        out = {
            "response": hist.Hist(*self._axes(), response),
            "truth": hist.Hist(*self._axes()),
            "matched": hist.Hist(*self._axes()),
        }
        _fill(out["response"], dataset, partner, response=ak.flatten(linked.pt / partner.pt))
        _fill(out["truth"], dataset, truth[counted])
        _fill(out["matched"], dataset, truth[counted][is_matched])
        return out

    def postprocess(self, accumulator: dict[str, hist.Hist]) -> dict[str, hist.Hist]:
        """Unchanged."""
        return accumulator
