"""Input transforms: the quantile map equals np.interp bit for bit (repeated knots included)."""

from __future__ import annotations

import numpy as np

from mlsmear.transforms import InputFeature


def test_quantile_map_equals_np_interp_with_repeated_knots():
    rng = np.random.default_rng(0)
    # a fraction that is zero for 90 % of the jets: many repeated knots at 0
    train = np.where(rng.random(50_000) < 0.9, 0.0, rng.random(50_000))
    feature = InputFeature.fit("em_frac", "quantile", train)
    assert np.count_nonzero(feature.knots == 0.0) > 100
    values = np.concatenate([
        train[:20_000], rng.random(1000), feature.knots, [-1.0, 0.0, 1.0, 2.0]
    ])
    grid = np.linspace(-1.0, 1.0, feature.knots.size)
    expected = np.interp(values, feature.knots, grid).astype(np.float32)
    np.testing.assert_array_equal(feature.columns(values)[:, 0], expected)
    assert feature.out_of_range(values) == 3  # -1, 1 and 2: the training values lie in [0, 1)
