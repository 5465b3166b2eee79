"""``--validate``: the reference detector on the same events, the filter judged against it.

The selection is applied, without margin, to the reference detector's reco of every event (the
"truth" of what a full simulation would select). Reported:

- ``signal_efficiency``: events kept by the filter among those the reference selects, with its
  68.3 % Wilson score interval ``signal_efficiency_interval`` (sensible also at 0 or 1);
- ``reference_pass_fraction``: reference-selected / generated events, to compare with
  ``keep_fraction``; ``nn_pass_fraction``: the same selection on the predicted reco without margin;
- ``fullsim_saving_factor``: generated / kept events, the factor by which the filter divides the
  full-simulation CPU (assuming full simulation dominates the cost per event);
- ``margin_scan``: the same three figures for other margins (from the same predictions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np

from ..physics.collection import Collection
from ..physics.truth import stable_particles
from ..refdet.pipeline import Detector
from .margin import check_margin, scale_momenta
from .reco import reference_collections
from .selection import Selection

__all__ = ["ReferenceCheck", "wilson_interval"]


def _fraction(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def wilson_interval(k: int, n: int, z: float = 1.0) -> list[float] | None:
    """Wilson score interval of a binomial fraction k / n (``z`` = 1: 68.3 %); None if n = 0."""
    if n == 0:
        return None
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return [max(centre - half, 0.0), min(centre + half, 1.0)]


class ReferenceCheck:
    """Counts, batch by batch, how the filter's decisions compare with the reference detector.

    Arguments:
        detector: the reference detector.
        selection: the filter's selection.
        margin: the filter's margin.
        scan: further margins to report (evaluated on the same predicted reco).
    """

    def __init__(
        self, detector: Detector, selection: Selection, margin: float, scan: Sequence[float] = ()
    ) -> None:
        self.detector, self.selection = detector, selection
        self.margins = [margin, *(check_margin(m) for m in scan if m != margin)]
        self.kept = np.zeros(len(self.margins), dtype=np.int64)
        self.kept_passed = np.zeros(len(self.margins), dtype=np.int64)
        self.passed = self.nn_passed = 0

    def reference_pass(
        self, record: Collection, hadrons: Collection, rng: np.random.Generator
    ) -> np.ndarray:
        """Which events the selection keeps on the reference detector's reco (no margin)."""
        reco = self.detector.run(stable_particles(record), rng, hadrons=hadrons)
        return self.selection(reference_collections(reco), record.n_events)

    def add(self, passed: np.ndarray, reco: Mapping[str, ak.Array], keep: np.ndarray) -> None:
        """Count one batch: reference decision, predicted reco, the filter's decision."""
        n = passed.size
        self.passed += int(passed.sum())
        self.nn_passed += int(self.selection(reco, n).sum())
        for k, margin in enumerate(self.margins):
            kept = keep if k == 0 else self.selection(scale_momenta(reco, margin), n)
            self.kept[k] += int(kept.sum())
            self.kept_passed[k] += int((kept & passed).sum())

    def _figures(self, k: int, generated: int) -> dict[str, Any]:
        return {
            "margin": self.margins[k],
            "keep_fraction": int(self.kept[k]) / generated,
            "signal_efficiency": _fraction(int(self.kept_passed[k]), self.passed),
            "signal_efficiency_interval": wilson_interval(int(self.kept_passed[k]), self.passed),
            "fullsim_saving_factor": _fraction(generated, int(self.kept[k])),
        }

    def summary(self, generated: int) -> dict[str, Any]:
        """The validation keys of the filter summary (see the module docstring)."""
        own = self._figures(0, generated)
        result = {
            "reference_passed": self.passed,
            "reference_passed_kept": int(self.kept_passed[0]),
            "signal_efficiency": own["signal_efficiency"],
            "signal_efficiency_interval": own["signal_efficiency_interval"],
            "reference_pass_fraction": self.passed / generated,
            "nn_pass_fraction": self.nn_passed / generated,
            "fullsim_saving_factor": own["fullsim_saving_factor"],
        }
        if len(self.margins) > 1:
            order = np.argsort(self.margins, kind="stable")
            result["margin_scan"] = [self._figures(int(k), generated) for k in order]
        return result
