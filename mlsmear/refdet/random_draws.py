"""Random draws of the detector stages."""

from __future__ import annotations

import numpy as np

__all__ = ["lognormal"]


def lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Positive random values with the given mean and standard deviation (Delphes' LogNormal).

    Entries with ``mean <= 0`` give 0; entries with ``sigma == 0`` give ``mean``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    positive = mean > 0.0
    safe = np.where(positive, mean, 1.0)
    s2 = np.log1p((np.asarray(sigma, dtype=np.float64) / safe) ** 2)
    draw = safe * np.exp(np.sqrt(s2) * rng.standard_normal(mean.shape) - 0.5 * s2)
    return np.where(positive, draw, 0.0)
