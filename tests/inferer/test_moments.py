"""inferer.moments: each covariance estimator by hand or against its reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf as sklearn_ledoit_wolf

from inferer.moments import EWMA_SPAN, covariance, ledoit_wolf


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    rng = np.random.default_rng(8)
    return rng.normal(0.0003, 0.01, size=(400, 4)) @ np.array(
        [[1, 0.3, 0, 0], [0, 1, 0.2, 0], [0, 0, 1, 0.5], [0, 0, 0, 1]]
    )


def test_sample_covariance_is_numpys_annualised(returns: np.ndarray) -> None:
    np.testing.assert_allclose(
        covariance(returns, 252, "sample"), np.cov(returns, rowvar=False) * 252, rtol=1e-12
    )


def test_ledoit_wolf_is_scikit_learns_annualised(returns: np.ndarray) -> None:
    np.testing.assert_allclose(
        covariance(returns, 252, "ledoit_wolf"), sklearn_ledoit_wolf(returns)[0] * 252, rtol=1e-9
    )


def test_our_ledoit_wolf_is_scikit_learns_bit_for_bit(shared_panel_path) -> None:  # type: ignore[no-untyped-def]
    # On the shared panel's own windows: every year's last 252 days of 20 to 300
    # assets with complete returns, in both memory layouts, and one asset alone.
    from shared.prices.panel import read_panel
    from tests.cleaning import clean

    prices = clean(read_panel(shared_panel_path)).prices
    r = np.diff(np.log(prices.drop("date").to_numpy()), axis=0)
    checked = 0
    for end in range(600, r.shape[0], 252):
        window = r[end - 252 : end]
        full = window[:, ~np.isnan(window).any(axis=0)]
        for n in (1, 20, 300):
            x = np.asfortranarray(full[:, :n])
            assert np.array_equal(ledoit_wolf(x), sklearn_ledoit_wolf(x)[0])
            assert np.array_equal(
                ledoit_wolf(x.copy(order="C")), sklearn_ledoit_wolf(x.copy(order="C"))[0]
            )
            checked += 1
    assert checked >= 24


def test_ledoit_wolf_is_pypfopts_bit_for_bit(sp500_returns) -> None:  # type: ignore[no-untyped-def]
    # What the construction estimated through PyPortfolioOpt before: the same floats,
    # on real returns (20 stocks, two years) and on a short window of 30 days.
    import pandas as pd
    from pypfopt.risk_models import CovarianceShrinkage

    for days in (None, 30):
        x = sp500_returns.to_numpy()[-days:] if days else sp500_returns.to_numpy()
        ours = covariance(x, 252.0, "ledoit_wolf")
        theirs = CovarianceShrinkage(pd.DataFrame(x), returns_data=True, frequency=252.0)
        expected = theirs.ledoit_wolf().to_numpy()
        assert np.array_equal(ours, expected)
        # In the same memory layout, so what is computed from it is the same too.
        w = np.linspace(1.0, 2.0, x.shape[1])
        assert np.array_equal(ours @ w, expected @ w)


def test_ewma_weights_recent_days_by_hand(returns: np.ndarray) -> None:
    # PyPortfolioOpt's exp_cov: products of deviations from the plain mean,
    # averaged with weights (1 - a)^age, a = 2 / (span + 1), annualised.
    a = 2 / (EWMA_SPAN + 1)
    w = (1 - a) ** np.arange(returns.shape[0])[::-1]
    x, y = returns[:, 0] - returns[:, 0].mean(), returns[:, 1] - returns[:, 1].mean()
    expected = (w * x * y).sum() / w.sum() * 252
    assert covariance(returns, 252, "ewma")[0, 1] == pytest.approx(expected, rel=1e-9)


def test_an_unknown_estimator_is_refused(returns: np.ndarray) -> None:
    with pytest.raises(ValueError, match="covariance must be one of"):
        covariance(returns, 252, "shrunk")
