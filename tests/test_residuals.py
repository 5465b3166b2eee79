"""mlsmear.residuals: ``apply`` after ``residual`` gives the reco value back, for every kind."""

import numpy as np
import pytest

from mlsmear.residuals import RESIDUAL_KINDS, apply, residual, wrap_phi


@pytest.mark.parametrize("kind", RESIDUAL_KINDS)
def test_apply_inverts_residual(kind):
    rng = np.random.default_rng(5)
    n = 1000
    pt = rng.uniform(10, 500, n)  # GeV
    if kind == "delta_phi":
        truth, reco = rng.uniform(-np.pi, np.pi, n), rng.uniform(-np.pi, np.pi, n)
    else:  # positive values: pT, masses, MET (norm_diff, diff_over_pt keep reco >= 0)
        truth, reco = pt, pt * rng.lognormal(0, 0.2, n)
    back = apply(kind, truth, residual(kind, truth, reco, pt), pt)
    expected = wrap_phi(reco) if kind == "delta_phi" else reco
    np.testing.assert_allclose(back, expected, rtol=1e-12, atol=1e-12)


def test_wrap_phi_range_and_unknown_kind():
    phi = wrap_phi(np.array([-3 * np.pi, -np.pi, 0.0, np.pi, 7.0]))
    assert np.all(phi >= -np.pi) and np.all(phi < np.pi)
    with pytest.raises(ValueError, match="unknown residual kind 'ratio'"):
        residual("ratio", np.ones(1), np.ones(1), np.ones(1))
