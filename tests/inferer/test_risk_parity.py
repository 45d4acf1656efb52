"""inferer.risk_parity: equal risk contributions, by hand and against skfolio."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferer.risk_parity import risk_parity
from shared.errors import EstimationError


def _contributions(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return w * (cov @ w) / (w @ cov @ w)


def test_uncorrelated_assets_get_inverse_volatility() -> None:
    w = risk_parity(np.diag([0.04, 0.01, 0.0025]))  # vols 20%, 10%, 5%
    np.testing.assert_allclose(w, np.array([1, 2, 4]) / 7, rtol=1e-10)


def test_two_correlated_assets_by_hand() -> None:
    # With two assets equal risk means w1 s1 = w2 s2, whatever the correlation.
    s = np.array([0.2, 0.1])
    cov = np.outer(s, s) * np.array([[1, 0.6], [0.6, 1]])
    np.testing.assert_allclose(risk_parity(cov), [1 / 3, 2 / 3], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10_000))
def test_risk_contributions_are_equal(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n + 5, n))
    cov = a.T @ a / (n + 5) + 1e-4 * np.eye(n)
    w = risk_parity(cov)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    np.testing.assert_allclose(_contributions(w, cov), 1 / n, atol=1e-8)


def test_matches_skfolio_risk_budgeting_on_the_same_covariance(sp500_returns) -> None:
    from skfolio.optimization import RiskBudgeting

    r = sp500_returns.iloc[:, :15]  # real daily returns of 15 US stocks over two years
    ours = risk_parity(np.cov(r.to_numpy(), rowvar=False))
    theirs = RiskBudgeting().fit(r).weights_  # variance, empirical covariance
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_bad_covariances_are_refused() -> None:
    with pytest.raises(ValueError, match="square"):
        risk_parity(np.ones((2, 3)))
    with pytest.raises(EstimationError, match="positive variance"):
        risk_parity(np.diag([0.01, 0.0]))
