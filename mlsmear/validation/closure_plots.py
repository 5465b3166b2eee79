"""Figures of the analysis closure: teacher and learnt distributions with ratio panels."""

from __future__ import annotations

from collections.abc import Mapping

import hist
import numpy as np
from matplotlib.figure import Figure

from .closure import DISTRIBUTIONS
from .plots import ratio_figure

__all__ = ["closure_figures"]

#: Observables drawn on log axes (falling spectra).
_LOG = ("ht", "met", "lead_jet_pt")
_MASKS = {"dphi_min": lambda o: o["met"] > 50.0}


def _hist(values: np.ndarray, edges: np.ndarray) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    h.fill(values[np.isfinite(values)])
    return h


def closure_figures(
    teacher: Mapping[str, np.ndarray], learnt: Mapping[str, np.ndarray], title: str
) -> dict[str, Figure]:
    """One figure per :data:`~mlsmear.validation.closure.DISTRIBUTIONS` entry (file stem →
    figure): the teacher's events as the reference, the learnt detector's on the same events."""
    figures = {}
    for name, (label, edges) in DISTRIBUTIONS.items():
        select = _MASKS.get(name)
        t, lt = teacher[name].astype(np.float64), learnt[name].astype(np.float64)
        if select is not None:
            t, lt = t[select(teacher)], lt[select(learnt)]
        figures[f"closure_{name}"] = ratio_figure(
            _hist(t, edges), {"mlsmear": _hist(lt, edges)}, title, xlabel=label,
            ylabel="events / bin", logx=name in _LOG, logy=name in _LOG or name.startswith("n_"),
        )
    return figures
