"""A synthetic truth→reco detector with known physics, for closure tests and benchmarks.

Jets with a steep pT spectrum from 20 GeV (GeV throughout) and:

- efficiency ``ε(pT) = 0.97 / (1 + exp(−(pT − 30) / 5))``;
- pT residual ``log(reco/truth)``: a Gaussian core of width σ(η) = 0.07 + 0.016 η² mixed with a
  one-sided low exponential tail (fraction 5 %, mean 0.3);
- mass residual ``(m_reco − m_truth)/pT``: Gaussian of width 0.02;
- the two residuals joined by a Gaussian copula with ρ = 0.5 (so the normal scores of the
  residuals, computed with the known conditional CDFs, have correlation exactly 0.5);
- η and φ residuals: independent Gaussians of width 0.01.

and a MET toy: truth MET ∝ exponential (mean 40 GeV), HT, jet count; reco MET = |truth vector +
Gaussian noise of width 0.5·√HT per component|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["SyntheticDetector"]


def _bisect(below, shape) -> np.ndarray:
    """Solve a monotone condition by bisection on [−20, 2] (60 halvings)."""
    lo, hi = np.full(shape, -20.0), np.full(shape, 2.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        is_below = below(mid)
        lo, hi = np.where(is_below, mid, lo), np.where(is_below, hi, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class SyntheticDetector:
    """Known-physics toy detector (see the module docstring)."""

    rho: float = 0.5
    tail_fraction: float = 0.05
    tail_mean: float = 0.3
    mass_width: float = 0.02
    angle_width: float = 0.01
    width_const: float = 0.07
    width_eta2: float = 0.016

    def efficiency(self, pt: np.ndarray) -> np.ndarray:
        """Reconstruction efficiency at truth pT (GeV)."""
        return 0.97 / (1.0 + np.exp(-(pt - 30.0) / 5.0))

    def core_width(self, eta: np.ndarray) -> np.ndarray:
        """Width of the Gaussian core of log(reco/truth pT) at truth η."""
        return self.width_const + self.width_eta2 * np.square(eta)

    def pt_residual_cdf(self, r: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Known CDF of the pT residual at truth η."""
        core = special.ndtr(r / self.core_width(eta))
        tail = np.where(r < 0, np.exp(np.minimum(r, 0) / self.tail_mean), 1.0)
        return (1 - self.tail_fraction) * core + self.tail_fraction * tail

    def pt_residual_quantile(self, p: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`pt_residual_cdf` (vectorised bisection to 1e-12)."""
        return _bisect(lambda r: self.pt_residual_cdf(r, eta) < p, np.shape(p))

    def pooled_pt_residual_quantile(self, p: float, eta: np.ndarray) -> float:
        """Quantile ``p`` of the pT residual pooled over objects at truth ``eta`` (known CDF)."""
        return float(_bisect(lambda r: np.mean(self.pt_residual_cdf(r, eta)) < p, ()))

    def truth(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` truth jets: pT (GeV) ∝ pT^−3 from 20 GeV, |η| < 2.5, mass ≈ 0.1–0.2 pT."""
        pt = 20.0 * (1 - rng.random(n)) ** (-1 / 2.0)
        pt = np.minimum(pt, 2000.0)
        return {
            "pt": pt,
            "eta": rng.uniform(-2.5, 2.5, n),
            "phi": rng.uniform(-np.pi, np.pi, n),
            "mass": pt * rng.uniform(0.1, 0.2, n),
        }

    def reconstruct(
        self, truth: dict[str, np.ndarray], rng: np.random.Generator
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Reco columns and the matched flag for each truth jet."""
        n = truth["pt"].size
        matched = rng.random(n) < self.efficiency(truth["pt"])
        z1 = rng.standard_normal(n)
        z2 = self.rho * z1 + np.sqrt(1 - self.rho**2) * rng.standard_normal(n)
        r_pt = self.pt_residual_quantile(special.ndtr(z1), truth["eta"])
        reco = {
            "pt": truth["pt"] * np.exp(r_pt),
            "eta": truth["eta"] + self.angle_width * rng.standard_normal(n),
            "phi": truth["phi"] + self.angle_width * rng.standard_normal(n),
            "mass": truth["mass"] + self.mass_width * z2 * truth["pt"],
        }
        return reco, matched

    def normal_scores(
        self, truth: dict[str, np.ndarray], reco: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Normal scores of the pT and mass residuals under the known conditional CDFs."""
        r_pt = np.log(reco["pt"] / truth["pt"])
        p = np.clip(self.pt_residual_cdf(r_pt, truth["eta"]), 1e-15, 1 - 1e-15)
        return special.ndtri(p), (reco["mass"] - truth["mass"]) / (self.mass_width * truth["pt"])

    def met(self, n: int, rng: np.random.Generator) -> tuple[dict, dict]:
        """``n`` events of (truth, reco) MET: ``pt``, ``phi`` (GeV, rad), ``ht``, ``njet``."""
        truth = {
            "pt": rng.exponential(40.0, n),
            "phi": rng.uniform(-np.pi, np.pi, n),
            "ht": rng.exponential(300.0, n) + 30.0,
            "njet": rng.integers(0, 8, n).astype(np.float64),
        }
        noise = 0.5 * np.sqrt(truth["ht"])[:, None] * rng.standard_normal((n, 2))
        px = truth["pt"] * np.cos(truth["phi"]) + noise[:, 0]
        py = truth["pt"] * np.sin(truth["phi"]) + noise[:, 1]
        return truth, {"pt": np.hypot(px, py), "phi": np.arctan2(py, px)}
