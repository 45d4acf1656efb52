"""backtest.frontier: Dirichlet sampling, vectorised stats, analytical curve and markers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from backtest.frontier import (
    Frontier,
    analytical_frontier,
    efficient_frontier,
    portfolio_stats,
    random_portfolios,
)
from shared.errors import DataError

FrontierFixture = tuple[Frontier, np.ndarray, np.ndarray]


def moments(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Annual mu and a well-conditioned one-factor annual covariance."""
    rng = np.random.default_rng(seed)
    vols = rng.uniform(0.05, 0.35, n)
    loadings = rng.uniform(0.2, 0.9, n)
    corr = np.outer(loadings, loadings)
    np.fill_diagonal(corr, 1.0)
    cov = corr * np.outer(vols, vols)
    mu = 0.01 + 0.3 * vols + rng.normal(0, 0.02, n)
    return mu, cov


@pytest.fixture(scope="module")
def frontier() -> FrontierFixture:
    mu, cov = moments(8)
    f = efficient_frontier(
        mu, cov, n_portfolios=20_000, seed=1, rf=0.02, n_points=20,
        extra_markers={"equal": np.full(8, 1 / 8), "first": np.eye(8)[0]},
    )  # fmt: skip
    return f, mu, cov


# --------------------------------------------------------------------------- sampling


def test_random_portfolios_on_simplex() -> None:
    w = random_portfolios(1000, 7, rng=np.random.default_rng(0))
    assert w.shape == (1000, 7)
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_dirichlet_marginal_moments(n: int) -> None:
    w = random_portfolios(100_000, n, rng=np.random.default_rng(n))
    np.testing.assert_allclose(w.mean(axis=0), 1 / n, rtol=0.02)
    np.testing.assert_allclose(w.var(axis=0), (n - 1) / (n**2 * (n + 1)), rtol=0.04)


def test_dirichlet_marginal_is_beta() -> None:
    # Under Dirichlet(1, ..., 1) each weight is Beta(1, N - 1).
    n = 4
    w = random_portfolios(5_000, n, rng=np.random.default_rng(7))
    assert stats.kstest(w[:, 0], stats.beta(1, n - 1).cdf).pvalue > 1e-3


def test_normalised_uniforms_are_not_uniform_on_simplex() -> None:
    # The shortcut the seed project used crowds weights towards 1/N.
    n = 5
    rng = np.random.default_rng(0)
    u = rng.random((100_000, n))
    u /= u.sum(axis=1, keepdims=True)
    target = (n - 1) / (n**2 * (n + 1))
    assert u[:, 0].var() < 0.6 * target
    assert stats.kstest(u[:5_000, 0], stats.beta(1, n - 1).cdf).pvalue < 1e-6


def test_sampling_is_reproducible() -> None:
    a = random_portfolios(10, 4, rng=np.random.default_rng(3))
    b = random_portfolios(10, 4, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- stats


def test_portfolio_stats_matches_loop() -> None:
    mu, cov = moments(12, 2)
    w = random_portfolios(200, 12, rng=np.random.default_rng(2))
    ret, vol, sr = portfolio_stats(w, mu, cov, rf=0.03)
    for i, row in enumerate(w):
        r_i = float(sum(row[j] * mu[j] for j in range(12)))
        v_i = float(np.sqrt(row @ cov @ row))
        assert ret[i] == pytest.approx(r_i, rel=1e-12)
        assert vol[i] == pytest.approx(v_i, rel=1e-12)
        assert sr[i] == pytest.approx((r_i - 0.03) / v_i, rel=1e-12)


def test_portfolio_stats_single_vector_and_zero_vol() -> None:
    mu = np.array([0.05, 0.1])
    cov = np.array([[0.0, 0.0], [0.0, 0.04]])
    ret, vol, sr = portfolio_stats(np.array([1.0, 0.0]), mu, cov)
    assert ret.shape == (1,) and vol[0] == 0.0 and np.isnan(sr[0])


def test_bad_shapes_and_values() -> None:
    mu, cov = moments(3)
    with pytest.raises(ValueError):
        portfolio_stats(np.ones((2, 4)) / 4, mu, cov)
    with pytest.raises(ValueError):
        portfolio_stats(np.ones((2, 3)) / 3, mu, cov[:2, :2])
    with pytest.raises(DataError):
        portfolio_stats(np.ones((2, 3)) / 3, np.array([0.1, np.nan, 0.1]), cov)


# --------------------------------------------------------------------------- frontier


def test_two_asset_min_vol_marker_is_closed_form() -> None:
    # Uncorrelated assets: w1 = s2^2 / (s1^2 + s2^2).
    s1, s2 = 0.1, 0.2
    mu, cov = np.array([0.04, 0.08]), np.diag([s1**2, s2**2])
    f = efficient_frontier(mu, cov, n_portfolios=500, n_points=5)
    w1 = s2**2 / (s1**2 + s2**2)
    vol = np.sqrt(w1**2 * s1**2 + (1 - w1) ** 2 * s2**2)
    assert f.markers["min_vol"] == pytest.approx((vol, w1 * 0.04 + (1 - w1) * 0.08), rel=1e-5)


def test_random_portfolios_never_beat_max_sharpe(frontier: FrontierFixture) -> None:
    f, _, _ = frontier
    vol, ret = f.markers["max_sharpe"]
    best = (ret - 0.02) / vol
    assert np.nanmax(f.sharpes) <= best + 1e-6
    # ... and with enough samples in 8 dimensions they come reasonably close.
    assert np.nanmax(f.sharpes) > best - 0.3 * abs(best)


def test_min_vol_marker_below_every_random_portfolio(frontier: FrontierFixture) -> None:
    f, _, _ = frontier
    assert f.markers["min_vol"][0] <= f.vols.min() + 1e-9
    assert f.markers["min_vol"][0] <= f.curve_vols.min() + 1e-7


def test_random_portfolios_lie_below_curve(frontier: FrontierFixture) -> None:
    f, _, _ = frontier
    assert f.curve_vols.size >= 15
    assert (np.diff(f.curve_returns) > 0).all()
    assert (np.diff(f.curve_vols) > -1e-7).all()
    inside = f.vols <= f.curve_vols.max()
    # The curve is concave, so linear interpolation between its points lies below it.
    bound = np.interp(f.vols[inside], f.curve_vols, f.curve_returns)
    assert (f.returns[inside] <= bound + 2e-3).all()


def test_extra_markers_and_shapes(frontier: FrontierFixture) -> None:
    f, mu, cov = frontier
    assert set(f.markers) == {"min_vol", "max_sharpe", "equal", "first"}
    assert f.markers["first"] == pytest.approx((np.sqrt(cov[0, 0]), mu[0]))
    assert f.weights.shape == (20_000, 8)
    assert f.returns.shape == f.vols.shape == f.sharpes.shape == (20_000,)
    assert all(isinstance(x, float) for pt in f.markers.values() for x in pt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.markers = {}  # type: ignore[misc]


def test_analytical_frontier_direct() -> None:
    mu, cov = moments(6, 4)
    vols, rets = analytical_frontier(mu, cov, n_points=10)
    assert vols.size == 10
    assert rets[-1] == pytest.approx(mu.max(), abs=1e-6)
    assert vols[0] == pytest.approx(float(vols.min()), abs=1e-9)


def test_max_sharpe_fallback_when_no_asset_beats_rf() -> None:
    mu, cov = moments(5, 5)
    f = efficient_frontier(mu, cov, n_portfolios=1000, rf=1.0, n_points=8)
    vol, ret = f.markers["max_sharpe"]
    # Falls back to the curve point with the highest (least negative) Sharpe.
    curve_sr = (f.curve_returns - 1.0) / f.curve_vols
    assert (ret - 1.0) / vol == pytest.approx(curve_sr.max())
