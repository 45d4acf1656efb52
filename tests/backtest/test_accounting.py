"""Portfolio accounting: a hand-computed example, an independent loop, schedules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.accounting import asset_returns, rebalance_indices, simulate, trade_indices
from shared.config import TradingSettings


def test_two_assets_three_rebalances_by_hand() -> None:
    prices = np.array(
        [
            [100.0, 50.0],
            [110.0, 50.0],  # A +10%
            [99.0, 55.0],  # A -10%, B +10%
            [99.0, 55.0],
            [108.9, 55.0],  # A +10%
            [108.9, 49.5],  # B -10%
            [119.79, 49.5],  # A +10%
        ]
    )
    targets = np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    sim = simulate(asset_returns(prices), np.array([0, 2, 4]), targets, cost_rate=0.001)
    # t0: from cash, one-way turnover 1 (all cash spent), cost 0.001 on 1 unit traded;
    #     wealth 0.999 * (0.5 * 1.1 + 0.5 * 1.0) on day 1.
    # t2: drifted weights A 0.495/1.045, B 0.55/1.045; to (1, 0): traded 1.1/1.045 = 20/19,
    #     one-way half that, 10/19.
    # t4: held (1, 0); to (0.25, 0.75): traded 1.5, one-way 0.75, cost 0.0015.
    c1 = 0.001 * 20 / 19
    expected = [
        0.999 * 1.05 - 1,
        1.045 / 1.05 - 1,
        -c1,
        0.1,
        0.9985 * (0.25 + 0.75 * 0.9) - 1,
        0.95 / 0.925 - 1,
    ]
    np.testing.assert_allclose(sim.returns, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sim.turnover, [1.0, 10 / 19, 0.75], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sim.costs, [0.001, c1, 0.0015], rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        sim.held, [[0, 0], [0.495 / 1.045, 0.55 / 1.045], [1, 0]], rtol=0, atol=1e-12
    )


def _loop(returns, reb, targets, cost_rate, cash_r):
    """Day by day: trade at the close of a rebalance day, drift otherwise."""
    t_count, n = returns.shape
    w, cash, wealth, out = np.zeros(n), 1.0, 1.0, []
    reported = wealth  # the close-of-day value returns are measured from (pre-cost)
    schedule = dict(zip(reb.tolist(), targets, strict=True))
    for t in range(reb[0], t_count):
        if t > reb[0]:
            grown = w * (1 + returns[t])
            grown_cash = cash * (1 + cash_r[t])
            total = grown.sum() + grown_cash
            wealth *= total
            out.append(wealth / reported - 1)
            reported = wealth
            w, cash = grown / total, grown_cash / total
        if t in schedule:
            # Paid at t's close, so it shows in t+1's return.
            target = schedule[t]
            wealth *= 1 - cost_rate * np.abs(target - w).sum()
            w, cash = target.copy(), 1 - target.sum()
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), k=st.integers(1, 6))
def test_matches_an_independent_daily_loop(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    t_count = 60
    r = rng.normal(0.0005, 0.02, (t_count, n))
    r[0] = 0
    reb = np.sort(rng.choice(np.arange(1, t_count - 1), size=k, replace=False))
    raw = rng.dirichlet(np.ones(n + 1), size=k)[:, :n]  # leaves some cash
    cash_r = np.full(t_count, 0.0001)
    sim = simulate(r, reb, raw, cost_rate=0.002, cash_returns=cash_r)
    np.testing.assert_allclose(sim.returns, _loop(r, reb, raw, 0.002, cash_r), rtol=0, atol=1e-12)


def test_a_gap_is_flat_then_credited_when_prices_resume() -> None:
    r = asset_returns(np.array([[10.0], [np.nan], [11.0]]))
    assert r[:, 0].tolist() == pytest.approx([0.0, 0.0, 0.1])  # 11 / 10, not lost


def test_returns_across_a_long_gap_compound_to_the_price_ratio() -> None:
    # A month without prices (longer than any forward-fill), as in the benchmark
    # case that showed -17.0% for the year instead of the price's -13.6%.
    p = np.linspace(100.0, 86.4, 250)
    p[100:121] = np.nan
    listed = np.r_[np.full(5, np.nan), np.linspace(50.0, 60.0, 245)]
    r = asset_returns(np.column_stack([p, listed]))
    assert np.prod(1 + r[:, 0]) == pytest.approx(86.4 / 100.0, rel=1e-12)
    assert np.prod(1 + r[:, 1]) == pytest.approx(60.0 / 50.0, rel=1e-12)
    assert (r[100:121, 0] == 0).all() and r[121, 0] == pytest.approx(p[121] / p[99] - 1)
    # Nothing after a day changes its return.
    later = p.copy()
    later[200:] *= 1.5
    np.testing.assert_array_equal(asset_returns(later[:, None])[:200], r[:200, :1])


def test_bad_targets_rejected() -> None:
    r = np.zeros((5, 2))
    with pytest.raises(ValueError, match="sum to at most 1"):
        simulate(r, np.array([1]), np.array([[0.7, 0.7]]))
    with pytest.raises(ValueError, match="increasing"):
        simulate(r, np.array([2, 1]), np.array([[0.5, 0.5], [0.5, 0.5]]))


def _days(start: str, end: str) -> np.ndarray:
    d = np.arange(np.datetime64(start), np.datetime64(end) + 1)
    return d[np.is_busday(d)]


def test_monthly_rebalances_on_last_trading_day_and_never_a_partial_month() -> None:
    d = _days("2023-12-01", "2024-04-15")
    idx = rebalance_indices(d, dt.date(2023, 12, 31), dt.date(2024, 12, 31), "monthly")
    # The first is the last trading day on or before --start (a Sunday), so January is earned.
    assert [str(x) for x in d[idx]] == ["2023-12-29", "2024-01-31", "2024-02-29", "2024-03-29"]
    mid = rebalance_indices(d, dt.date(2024, 1, 14), dt.date(2024, 2, 29), "monthly")
    assert [str(x) for x in d[mid]] == ["2024-01-12", "2024-01-31", "2024-02-29"]
    on_a_month_end = rebalance_indices(d, dt.date(2024, 1, 31), dt.date(2024, 2, 29), "monthly")
    assert [str(x) for x in d[on_a_month_end]] == ["2024-01-31", "2024-02-29"]


def test_weekly_and_quarterly() -> None:
    d = _days("2024-01-01", "2024-07-10")
    weekly = d[rebalance_indices(d, dt.date(2024, 1, 6), dt.date(2024, 1, 31), "weekly")]
    assert [str(x) for x in weekly] == ["2024-01-05", "2024-01-12", "2024-01-19", "2024-01-26"]
    quarterly = d[rebalance_indices(d, dt.date(2024, 1, 1), dt.date(2024, 12, 31), "quarterly")]
    assert [str(x) for x in quarterly] == ["2024-01-01", "2024-03-29", "2024-06-28"]


def test_trades_follow_decisions_by_the_lag_within_the_data() -> None:
    decisions = np.array([3, 8, 13])
    assert trade_indices(decisions, 0, 14).tolist() == [3, 8, 13]
    assert trade_indices(decisions, 1, 14).tolist() == [4, 9]  # day 14 is past the data
    with pytest.raises(ValueError, match="execution lag"):
        trade_indices(decisions, -1, 14)


def test_no_trade_band_and_partial_moves_by_hand() -> None:
    flat = np.zeros((5, 2))  # no price moves: the book stays where it was traded
    reb, targets = np.array([0, 2]), np.array([[0.5, 0.5], [0.55, 0.45]])
    full = simulate(flat, reb, targets, cost_rate=0.001)
    np.testing.assert_allclose(full.turnover, [1.0, 0.05])
    banded = simulate(
        flat, reb, targets, cost_rate=0.001, trading=TradingSettings(no_trade_band=0.1)
    )
    np.testing.assert_allclose(banded.turnover, [1.0, 0.0])  # 5% < the 10% band: no trade
    assert banded.costs[1] == 0.0
    half = simulate(
        flat, reb, targets, cost_rate=0.001, trading=TradingSettings(trade_fraction=0.5)
    )
    np.testing.assert_allclose(half.turnover, [1.0, 0.025])  # half way: 0.525 / 0.475
    np.testing.assert_allclose(half.costs, [0.001, 0.001 * 0.05])
    # The first rebalance, from cash, invests in full whatever the controls.
    assert half.costs[0] == banded.costs[0] == full.costs[0]
