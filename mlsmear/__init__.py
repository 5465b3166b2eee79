"""mlsmear: fast learnt detector simulation, per-object NN sampling inside coffea.

Three lines in an analysis::

    import mlsmear
    events["Jet"] = mlsmear.smear(events.GenJet, seed=1)
    jets = events.Jet[events.Jet.pt > 30]
"""

from typing import Any

from . import (
    _checkout,
    _numba_cache,  # noqa: F401  (first: numba's cache where one can be written)
)
from .columnar import OutOfRangeWarning
from .model import Bundle, KindModel, ModelFileError
from .registry import load, shipped
from .smear import smear
from .training import TrainConfig, fit_model

_checkout.install()  # a source checkout maps processors/ and weights/ as an install does

__all__ = [
    "Bundle",
    "KindModel",
    "MLSmearProcessor",
    "ModelFileError",
    "OutOfRangeWarning",
    "TrainConfig",
    "fit_model",
    "load",
    "shipped",
    "smear",
    "smear_events",
]

__version__ = "0.1.0"

#: Exported lazily: importing coffea's processor machinery adds ~0.4 s to ``import mlsmear``.
_COFFEA_EXPORTS = ("MLSmearProcessor", "smear_events")


def __getattr__(name: str) -> Any:
    if name in _COFFEA_EXPORTS:
        from . import coffea

        return getattr(coffea, name)
    raise AttributeError(f"module 'mlsmear' has no attribute {name!r}")
