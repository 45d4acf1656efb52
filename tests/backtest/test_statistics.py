"""backtest.statistics: PSR and DSR by hand and against skfolio; bootstrap coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from backtest.statistics import (
    block_length,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    sharpe_draws,
    sharpe_statistics,
)


@pytest.fixture(scope="module")
def stock(sp500_returns) -> np.ndarray:
    """Two years of one real stock's daily returns (skfolio's S&P 500 dataset)."""
    return sp500_returns.iloc[:, 0].to_numpy()


def test_psr_by_hand(stock: np.ndarray) -> None:
    sr = stock.mean() / stock.std(ddof=1)
    g3, g4 = stats.skew(stock), stats.kurtosis(stock, fisher=False)
    z = sr * math.sqrt(stock.size - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe(stock) == pytest.approx(stats.norm.cdf(z), rel=1e-12)


def test_psr_and_dsr_match_skfolio(stock: np.ndarray) -> None:
    from skfolio.measures import deflated_sharpe_ratio, probabilistic_sharpe_ratio

    assert probabilistic_sharpe(stock) == pytest.approx(probabilistic_sharpe_ratio(stock), abs=1e-6)
    assert probabilistic_sharpe(stock, 0.02) == pytest.approx(
        probabilistic_sharpe_ratio(stock, benchmark_sharpe_ratio=0.02), abs=1e-6
    )
    trials = [0.01, 0.03, -0.02, 0.05, 0.0, 0.02]
    assert deflated_sharpe(stock, trials) == pytest.approx(
        deflated_sharpe_ratio(stock, trials), abs=1e-6
    )


def test_expected_max_sharpe_worked_example() -> None:
    from skfolio.measures import expected_max_sharpe_ratio

    # 10 trials of dispersion 0.1: 0.1 x (0.4228 x 1.2816 + 0.5772 x 1.7894) = 0.1575.
    assert expected_max_sharpe(10, 0.1) == pytest.approx(0.15747, abs=1e-4)
    assert expected_max_sharpe(10, 0.1) == pytest.approx(expected_max_sharpe_ratio(10, 0.1))
    assert expected_max_sharpe(1, 0.1) == 0.0 and expected_max_sharpe(5, 0.0) == 0.0


def test_more_trials_deflate_more(stock: np.ndarray) -> None:
    few = deflated_sharpe(stock, [0.01, 0.03])
    many = deflated_sharpe(stock, list(np.linspace(-0.03, 0.05, 40)))
    assert many < few < probabilistic_sharpe(stock)


def test_draws_are_seeded_and_paired() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0005, 0.01, size=(400, 2))
    a = sharpe_draws(x, reps=200, seed=1)
    np.testing.assert_array_equal(a, sharpe_draws(x, reps=200, seed=1))
    assert not np.array_equal(a, sharpe_draws(x, reps=200, seed=2))
    # The same column twice: identical draws, so their difference is exactly 0.
    same = sharpe_draws(np.column_stack([x[:, 0], x[:, 0]]), reps=50, seed=1)
    np.testing.assert_array_equal(same[:, 0], same[:, 1])
    assert block_length(x) >= 1.0


def test_intervals_of_a_sharpe_difference_cover_at_their_nominal_rate() -> None:
    """90% intervals cover the true difference in 85-95% of 200 simulated pairs."""
    rng = np.random.default_rng(42)
    days, ppy = 750, 252
    mu, sigma, rho = np.array([0.0006, 0.0003]), np.array([0.01, 0.008]), 0.6
    cov = np.outer(sigma, sigma) * np.array([[1, rho], [rho, 1]])
    true_diff = (mu[0] / sigma[0] - mu[1] / sigma[1]) * math.sqrt(ppy)
    covered = 0
    for k in range(200):
        x = rng.multivariate_normal(mu, cov, size=days)
        got = sharpe_statistics(
            {"strategy": x[:, 0], "benchmark": x[:, 1]}, np.zeros(days), ppy, reps=400, seed=k
        )["strategy"]
        covered += got["sharpe_diff_benchmark_lo"] <= true_diff <= got["sharpe_diff_benchmark_hi"]
    assert 170 <= covered <= 190, covered


def test_every_series_gets_its_interval_and_each_reference_difference() -> None:
    rng = np.random.default_rng(3)
    names = ("strategy", "benchmark", "sixty_forty", "equal_weight", "momentum")
    series = {n: rng.normal(0.0004, 0.01, 500) for n in names}
    out = sharpe_statistics(series, np.full(500, 0.0001), 252, reps=300, trial_sharpes=[0.5, 0.2])
    for name in names:
        row = out[name]
        assert row["sharpe_lo"] < row["sharpe_hi"] and 0 <= row["psr"] <= 1
        assert row["dsr"] <= row["psr"] and row["dsr_trials"] == 2
        refs = {k for k in row if k.startswith("sharpe_diff_") and not k.endswith(("_lo", "_hi"))}
        expected = {f"sharpe_diff_{r}" for r in ("benchmark", "sixty_forty", "equal_weight")}
        assert refs == expected - {f"sharpe_diff_{name}"}
