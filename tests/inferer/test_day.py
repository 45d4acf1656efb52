"""inferer.day: one date's figures, computed once, read-only, and the same as computed apart."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from inferer.day import all_assets_of, day_of
from inferer.select import signals
from shared.config import InferenceSettings
from shared.returns import risk_free_returns, trailing_returns

CFG = InferenceSettings(lookback=60, min_history=20)


def _past(sample_prices: pl.DataFrame) -> pl.DataFrame:
    return sample_prices.filter(pl.col("date") <= dt.date(2020, 6, 30))


def test_a_day_holds_what_each_step_computes_apart(sample_prices: pl.DataFrame) -> None:
    past = _past(sample_prices)
    tickers = [c for c in past.columns if c != "date"][:8]
    day = day_of(past, tickers, CFG)
    r = trailing_returns(past, tickers, CFG.lookback)
    np.testing.assert_array_equal(day.returns, r)
    np.testing.assert_array_equal(day.rf, risk_free_returns(past, CFG.risk_free, day.ppy, 60, None))
    assert day.tickers == tuple(tickers) and day.eligible.all() and not day.cash_like
    want = signals(r, day.rf, day.ppy)
    for got, expected in zip(day.signals, want, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_days_arrays_are_read_only(sample_prices: pl.DataFrame) -> None:
    day = day_of(_past(sample_prices), ["AAPL", "AMD", "BAC"], CFG)
    every = all_assets_of(_past(sample_prices), ["AAPL", "AMD", "BAC"], CFG)
    for a in (day.returns, day.rf, day.eligible, day.signals.sharpe, every.returns, every.ok):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 0


def test_a_calm_asset_is_cash_like_and_not_eligible(sample_prices: pl.DataFrame) -> None:
    past = _past(sample_prices)
    calm = past.with_columns(pl.lit(100.0).alias("FLAT"))
    day = day_of(calm, ["AAPL", "FLAT"], CFG)
    assert list(day.eligible) == [True, False] and "FLAT" in day.cash_like
    every = all_assets_of(calm, ["AAPL", "FLAT"], CFG)
    assert list(every.ok) == [True, False]  # no variance: never held by a baseline


def test_a_cash_proxy_younger_than_the_window_is_named(sample_prices: pl.DataFrame) -> None:
    # Before its first price every excess return is undefined: the proxy is the cause.
    from shared.errors import DataError

    past = _past(sample_prices)
    young = past.with_columns(
        pl.when(pl.col("date") >= dt.date(2020, 5, 1)).then(pl.col("AAPL")).alias("BIL")
    )
    cfg = InferenceSettings(lookback=60, min_history=50, risk_free="BIL")
    with pytest.raises(DataError, match=r"risk-free ticker 'BIL' has \d+ returns in the 60 days"):
        day_of(young, ["AAPL", "AMD"], cfg)
    day_of(past.with_columns(pl.col("AAPL").alias("BIL")), ["AAPL", "AMD"], cfg)  # a full one


def test_a_fallback_rate_covers_the_proxys_missing_days_and_is_noted(
    sample_prices: pl.DataFrame,
) -> None:
    past = _past(sample_prices)
    young = past.with_columns(
        pl.when(pl.col("date") >= dt.date(2020, 5, 1)).then(pl.col("AAPL")).alias("BIL")
    )
    cfg = InferenceSettings(lookback=60, min_history=50, risk_free="BIL", risk_free_fallback=0.02)
    day = day_of(young, ["AAPL", "AMD"], cfg)
    assert np.isfinite(day.rf).all()
    filled = day.rf[:-41]  # the days before BIL's first returns: 2% a year, per day
    np.testing.assert_allclose(filled, (1.02) ** (1 / day.ppy) - 1, rtol=1e-12)
    assert "at the fallback rate 2.00% a year" in day.notes["(risk-free)"]
    assert not day_of(past.with_columns(pl.col("AAPL").alias("BIL")), ["AAPL"], cfg).notes
