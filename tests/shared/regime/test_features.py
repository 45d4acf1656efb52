"""shared.regime.features: the recursive filter against its definition, causality, scaling."""

from __future__ import annotations

import numpy as np

from shared.regime.features import CLIP, _ewm, market_features, standardiser


def test_the_filter_is_the_recursion_it_names() -> None:
    x = np.random.default_rng(0).normal(size=300)
    alpha = 1.0 - 0.5 ** (1.0 / 20)
    level, expected = x[0], []
    for v in x:
        level = level + alpha * (v - level)
        expected.append(level)
    np.testing.assert_allclose(_ewm(x, 20), expected, rtol=1e-12, atol=1e-15)


def test_features_are_causal() -> None:
    r = np.random.default_rng(2).normal(0.0003, 0.01, 400)
    f = market_features(r)
    shocked = r.copy()
    shocked[300:] = -0.2
    np.testing.assert_array_equal(market_features(shocked)[:300], f[:300])
    assert f.shape == (400, 9) and np.isfinite(f).all()


def test_the_standardiser_scales_a_window_and_clips_a_crash() -> None:
    f = np.random.default_rng(3).normal(5.0, 2.0, size=(500, 3))
    scale = standardiser(f)
    z = scale(f)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.05)
    assert scale(np.full((1, 3), 1e6)).tolist() == [[CLIP] * 3]
    assert standardiser(np.ones((10, 2))).std.tolist() == [1.0, 1.0]  # constant: scale 1
