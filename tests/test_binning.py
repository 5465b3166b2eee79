"""mlsmear.binning: positions and values are inverse maps (the sampler relies on it)."""

import numpy as np
import pytest

from mlsmear.binning import ResidualBinning


@pytest.mark.parametrize("scheme", ["quantile", "clipped"])
def test_values_invert_positions(scheme):
    rng = np.random.default_rng(3)
    r = np.concatenate([rng.normal(0, 0.1, 20_000), rng.exponential(0.5, 500) - 2.0])
    binning = ResidualBinning.fit(r, scheme=scheme)
    inside = r[(r > binning.knots[0]) & (r < binning.knots[-1])]
    back = binning.values(binning.positions(inside))
    np.testing.assert_allclose(back, inside, rtol=0, atol=1e-9)
    c = np.linspace(0.0, 1.0, 1001, endpoint=False)
    np.testing.assert_allclose(binning.positions(binning.values(c)), c, rtol=0, atol=1e-9)


def test_tails_invert_beyond_the_grid():
    rng = np.random.default_rng(4)
    binning = ResidualBinning.fit(rng.normal(0, 1, 20_000))
    assert binning.tail_lo > 0 and binning.tail_hi > 0
    far = np.array([binning.knots[0] - 1.0, binning.knots[-1] + 1.0])
    np.testing.assert_allclose(binning.values(binning.positions(far)), far, rtol=1e-9)
    c = binning.positions(np.sort(rng.normal(0, 1, 1000)))
    assert np.all(np.diff(c) >= 0) and c.min() >= 0 and c.max() < 1  # monotone, in [0, 1)


def test_categories_count_from_one():
    binning = ResidualBinning(np.linspace(-1, 1, 101), n_bins=100)
    assert binning.categories(np.array([-1.0, 0.0, 0.999])).tolist() == [1, 51, 100]
