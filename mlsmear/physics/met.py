"""Transverse vector sums of objects per event (GeV)."""

from __future__ import annotations

import numpy as np

from .collection import Collection

__all__ = ["transverse_sum"]


def transverse_sum(objects: Collection) -> tuple[np.ndarray, np.ndarray]:
    """(sum px, sum py) per event in GeV."""
    n = objects.n_events
    event = objects.event_index
    px = np.bincount(event, weights=objects["pt"] * np.cos(objects["phi"]), minlength=n)
    py = np.bincount(event, weights=objects["pt"] * np.sin(objects["phi"]), minlength=n)
    return px, py
