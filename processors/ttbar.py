"""A small semileptonic ttbar analysis: one lepton, at least four jets, b-tags, HT, MET, M3.

It reads only ``Electron``, ``Muon``, ``Jet`` and ``MET`` (pT, η, φ, mass in GeV), so it runs
unchanged on a file's own reconstruction and, through :class:`mlsmear.MLSmearProcessor`, on
smeared truth. Identification flags are applied where the collection has them (the file's reco:
``Electron.cutBased >= 3`` (tight), ``Muon.tightId``, ``Muon.pfRelIso04_all < 0.15``); smeared
objects are already the learnt detector's identified objects. b-tags: NanoAOD
``Jet.btagDeepFlavB`` above a working point (a learnt decision reads 1.0 / 0.0), Delphes
``Jet.BTag`` bit 0.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor

__all__ = ["TTbarLeptonJets"]


def _identified(leptons: ak.Array) -> ak.Array:
    keep = ak.ones_like(leptons.pt, dtype=bool)
    if "cutBased" in leptons.fields:
        keep = keep & (leptons.cutBased >= 3)
    if "tightId" in leptons.fields:
        keep = keep & leptons.tightId
    if "pfRelIso04_all" in leptons.fields:
        keep = keep & (leptons.pfRelIso04_all < 0.15)
    return leptons[keep]


def _btagged(jets: ak.Array, working_point: float) -> ak.Array:
    """Per jet: b-tagged (NanoAOD ``btagDeepFlavB`` > ``working_point``, Delphes ``BTag`` bit 0)."""
    if "btagDeepFlavB" in jets.fields:
        return jets.btagDeepFlavB > working_point
    if "BTag" in jets.fields:
        return (jets.BTag & 1) == 1
    raise ValueError(
        "the jets carry no b-tag (btagDeepFlavB or BTag): a model without a tag head? "
        "Use TTbarLeptonJets(min_btags=0) to select without b-tags"
    )


def _hadronic_top_mass(jets: ak.Array) -> ak.Array:
    """M3: the mass (GeV) of the three-jet system of largest pT, per event."""
    trijet = ak.combinations(jets, 3, fields=["a", "b", "c"])
    system = trijet.a + trijet.b + trijet.c
    best = ak.argmax(system.pt, axis=1, keepdims=True)
    return ak.flatten(system.mass[best], axis=1)


class TTbarLeptonJets(processor.ProcessorABC):
    """Semileptonic ttbar selection and histograms (GeV).

    Selection: exactly one electron or muon with pT > ``lepton_pt`` and \\|η\\| < ``max_eta``;
    at least ``min_jets`` jets with pT > ``jet_pt``, \\|η\\| < ``max_eta`` and ΔR > 0.4 to the
    leptons, of which at least ``min_btags`` b-tagged. Histograms (axis ``dataset``): b-tag
    multiplicity (before the b-tag requirement), then jet multiplicity, HT (scalar sum of selected
    jet pT), MET, hadronic top mass (M3); ``cutflow`` counts events after each step.

    Arguments:
        lepton_pt, jet_pt: thresholds (GeV); max_eta: \\|η\\| acceptance; min_jets: jet count;
        min_btags: b-tagged jets required (0: no b-tag needed, for models without tags);
        btag_wp: NanoAOD ``btagDeepFlavB`` working point (0.3, about CMS's medium one).
    """

    def __init__(
        self, *, lepton_pt: float = 30.0, jet_pt: float = 30.0, max_eta: float = 2.4,
        min_jets: int = 4, min_btags: int = 1, btag_wp: float = 0.3,
    ) -> None:
        self.lepton_pt, self.jet_pt, self.max_eta, self.min_jets = (
            lepton_pt, jet_pt, max_eta, min_jets
        )
        self.min_btags, self.btag_wp = min_btags, btag_wp

    def _histograms(self) -> dict[str, hist.Hist]:
        dataset = hist.axis.StrCategory([], growth=True, name="dataset")
        return {
            "njet": hist.Hist(dataset, hist.axis.Integer(0, 15, name="njet", label="jets")),
            "nbtag": hist.Hist(
                dataset, hist.axis.Integer(0, 6, name="nbtag", label="b-tagged jets")
            ),
            "ht": hist.Hist(dataset, hist.axis.Regular(30, 0, 1500, name="ht", label="HT [GeV]")),
            "met": hist.Hist(dataset, hist.axis.Regular(30, 0, 300, name="met", label="MET [GeV]")),
            "mtop": hist.Hist(
                dataset, hist.axis.Regular(30, 0, 600, name="mtop", label="M3 [GeV]")
            ),
        }

    def process(self, events: Any) -> dict[str, Any]:
        """Histograms and cut flow of one chunk."""
        dataset = events.metadata.get("dataset", "sample")
        leptons = []
        for name in ("Electron", "Muon"):
            objects = events[name]
            objects = objects[(objects.pt > self.lepton_pt) & (abs(objects.eta) < self.max_eta)]
            leptons.append(_identified(objects))
        n_leptons = ak.num(leptons[0]) + ak.num(leptons[1])
        jets = events.Jet[(events.Jet.pt > self.jet_pt) & (abs(events.Jet.eta) < self.max_eta)]
        for lepton in leptons:
            jets = jets[ak.all(jets.metric_table(lepton) > 0.4, axis=2)]
        one_lepton = n_leptons == 1
        enough_jets = one_lepton & (ak.num(jets) >= self.min_jets)
        n_btags = (
            ak.sum(_btagged(jets, self.btag_wp), axis=1) if self.min_btags
            else ak.zeros_like(ak.num(jets))
        )
        selected = enough_jets & (n_btags >= self.min_btags)
        out = self._histograms()
        out["nbtag"].fill(dataset=dataset, nbtag=n_btags[enough_jets])
        jets, met = jets[selected], events.MET[selected]
        out["njet"].fill(dataset=dataset, njet=ak.num(jets))
        out["ht"].fill(dataset=dataset, ht=ak.sum(jets.pt, axis=1))
        out["met"].fill(dataset=dataset, met=met.pt)
        out["mtop"].fill(dataset=dataset, mtop=_hadronic_top_mass(jets))
        out["cutflow"] = {
            dataset: {
                "events": len(events),
                "one lepton": int(np.sum(ak.to_numpy(one_lepton))),
                f">= {self.min_jets} jets": int(np.sum(ak.to_numpy(enough_jets))),
                f">= {self.min_btags} b-tags": int(np.sum(ak.to_numpy(selected))),
            }
        }
        return out

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        """Unchanged."""
        return accumulator
