"""Ready coffea processors (installed as ``mlsmear.processors``).

- :class:`TTbarLeptonJets`: a small semileptonic ttbar analysis (HT, MET, jet multiplicity,
  hadronic top mass);
- :class:`Response`: response and efficiency of a reco collection against truth (validation);
- :class:`METTail`: the generation-stage filter on predicted MET.

Each runs on a file's own reconstruction and, wrapped in :class:`mlsmear.MLSmearProcessor`, on
smeared truth.
"""

from .met_tail import METTail
from .response import Response
from .ttbar import TTbarLeptonJets

__all__ = ["METTail", "Response", "TTbarLeptonJets"]
