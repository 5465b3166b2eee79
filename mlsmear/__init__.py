"""mlsmear: fast learnt detector simulation, per-object NN sampling inside coffea.

Three lines in an analysis::

    import mlsmear
    events["Jet"] = mlsmear.smear(events.GenJet, seed=1)
    jets = events.Jet[events.Jet.pt > 30]
"""

from .model import Bundle, KindModel, ModelFileError
from .registry import load, shipped
from .smear import OutOfRangeWarning, smear
from .training import TrainConfig, fit_model

__all__ = [
    "Bundle",
    "KindModel",
    "ModelFileError",
    "OutOfRangeWarning",
    "TrainConfig",
    "fit_model",
    "load",
    "shipped",
    "smear",
]

__version__ = "0.1.0"
