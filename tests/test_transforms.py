"""Input transforms: the quantile map equals np.interp bit for bit (repeated knots included)."""

from __future__ import annotations

import numpy as np

from mlsmear.transforms import InputFeature


def test_quantile_map_equals_np_interp_with_repeated_knots():
    rng = np.random.default_rng(0)
    # a fraction that is zero for 90 % of the jets: models fitted before knots were made unique
    # hold many repeated knots at 0
    train = np.where(rng.random(50_000) < 0.9, 0.0, rng.random(50_000))
    knots = np.quantile(train, np.linspace(0.0, 1.0, 513))
    feature = InputFeature("em_frac", "quantile", knots)
    assert np.count_nonzero(feature.knots == 0.0) > 100
    values = np.concatenate([
        train[:20_000], rng.random(1000), feature.knots, [-1.0, 0.0, 1.0, 2.0]
    ])
    grid = np.linspace(-1.0, 1.0, feature.knots.size)
    expected = np.interp(values, feature.knots, grid).astype(np.float32)
    np.testing.assert_array_equal(feature.columns(values)[:, 0], expected)
    assert feature.out_of_range(values) == 3  # -1, 1 and 2: the training values lie in [0, 1)


def test_a_point_mass_takes_one_knot_and_the_rest_spread_over_the_range():
    rng = np.random.default_rng(1)
    train = np.where(rng.random(50_000) < 0.9, 0.0, rng.random(50_000))
    feature = InputFeature.fit("em_frac", "quantile", train)
    assert np.count_nonzero(feature.knots == 0.0) == 1
    assert np.all(np.diff(feature.knots) > 0)
    mapped = feature.columns(np.array([0.0, np.quantile(train[train > 0], 0.5), 1.0]))[:, 0]
    assert mapped[0] == -1.0 and mapped[2] == 1.0
    # the median of the non-zero values lands near the middle of the range (one knot in ~52 at 0)
    assert abs(mapped[1]) < 0.1
