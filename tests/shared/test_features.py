"""Features against hand-computed values and against independent formulas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import FeatureSettings
from shared.features import (
    FEATURE_NAMES,
    compute_features,
    ewm_mean,
    feature_params,
    rolling_max,
    warmup_days,
)
from tests.cleaning import clean

TINY = FeatureSettings(
    window=2,
    rsi_period=2,
    macd_fast=2,
    macd_slow=3,
    macd_signal=2,
    vol_window=2,
    drawdown_window=3,
)


def _frame(values: list[float | None], name: str = "X") -> pl.DataFrame:
    start = dt.date(2020, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(len(values))]
    return pl.DataFrame({"date": dates, name: pl.Series(values, dtype=pl.Float64)})


def _feature(cube, name: str) -> np.ndarray:
    return cube.values[:, 0, FEATURE_NAMES.index(name)].astype(np.float64)


def test_hand_computed_tiny_series() -> None:
    prices = [10.0, 11.0, 10.5, 11.5, 12.0]
    cube = compute_features(_frame(prices), TINY)
    nan = np.nan
    np.testing.assert_allclose(
        _feature(cube, "log_return"),
        [nan, np.log(1.1), np.log(10.5 / 11), np.log(11.5 / 10.5), np.log(12 / 11.5)],
        rtol=1e-6,
    )
    # Wilder averages with alpha 1/2, seeded on the first change:
    # gains 1, 0, 1, .5 -> G = 1, .5, .75, .625; losses 0, .5, 0, 0 -> L = 0, .25, .125, .0625
    np.testing.assert_allclose(
        _feature(cube, "rsi"),
        [nan, nan, 100 * 0.5 / 0.75, 100 * 0.75 / 0.875, 100 * 0.625 / 0.6875],
        rtol=1e-6,
    )
    # drawdown over 3 days: defined from the third price
    np.testing.assert_allclose(
        _feature(cube, "drawdown"), [nan, nan, 10.5 / 11 - 1, 0.0, 0.0], atol=1e-7
    )
    r = np.log(np.array(prices[1:]) / np.array(prices[:-1]))
    vol = [nan, nan, *[np.std(r[i - 1 : i + 1], ddof=1) for i in range(1, 4)]]
    np.testing.assert_allclose(_feature(cube, "volatility"), vol, rtol=1e-5)
    # EMA span 2 -> alpha 2/3, span 3 -> 1/2, seeded with the first price.
    fast, slow = [10.0], [10.0]
    for p in prices[1:]:
        fast.append(fast[-1] + 2 / 3 * (p - fast[-1]))
        slow.append(slow[-1] + 0.5 * (p - slow[-1]))
    macd = np.array(fast) - np.array(slow)  # defined from index 2 (span 3 warm-up)
    sig = [macd[2]]
    for m in macd[3:]:
        sig.append(sig[-1] + 2 / 3 * (m - sig[-1]))
    hist = [nan, nan, nan, (macd[3] - sig[1]) / 11.5, (macd[4] - sig[2]) / 12.0]
    np.testing.assert_allclose(_feature(cube, "macd_hist"), hist, rtol=1e-5, atol=1e-9)


def _wilder_rsi_loop(p: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(p), np.nan)
    g = l_ = None
    for t in range(1, len(p)):
        d = p[t] - p[t - 1]
        up, down = max(d, 0.0), max(-d, 0.0)
        g = up if g is None else g + (up - g) / n
        l_ = down if l_ is None else l_ + (down - l_) / n
        if t >= n:
            out[t] = 100.0 * g / (g + l_)
    return out


def test_against_independent_formulas_on_real_prices(sample_prices: pl.DataFrame) -> None:
    spec = FeatureSettings()
    frame = sample_prices.select("date", "AAPL", "XOM")
    cube = compute_features(frame, spec)
    for j, ticker in enumerate(["AAPL", "XOM"]):
        p = frame[ticker].to_numpy()
        s = pd.Series(p)
        got = {
            name: cube.values[:, j, k].astype(np.float64) for k, name in enumerate(FEATURE_NAMES)
        }
        logret = np.r_[np.nan, np.diff(np.log(p))]
        np.testing.assert_allclose(got["log_return"], logret, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got["rsi"], _wilder_rsi_loop(p, 14), rtol=1e-4, atol=1e-4)
        ema = lambda x, span: x.ewm(span=span, adjust=False, min_periods=span).mean()  # noqa: E731
        macd = ema(s, 12) - ema(s, 26)
        hist = ((macd - ema(macd, 9)) / s).to_numpy()
        np.testing.assert_allclose(got["macd_hist"], hist, rtol=1e-4, atol=1e-7)
        vol = pd.Series(logret).rolling(20).std(ddof=1).to_numpy()
        np.testing.assert_allclose(got["volatility"], vol, rtol=1e-4, atol=1e-8)
        dd = (s / s.rolling(63).max() - 1).to_numpy()
        np.testing.assert_allclose(got["drawdown"], dd, rtol=1e-5, atol=1e-7)


def test_warmup_matches_first_complete_day(sample_prices: pl.DataFrame) -> None:
    spec = FeatureSettings()
    cube = compute_features(sample_prices.select("date", "AAPL"), spec)
    defined = np.isfinite(cube.values[:, 0, :]).all(axis=1)
    assert np.argmax(defined) + 1 == warmup_days(spec)


def test_features_are_causal(sample_prices: pl.DataFrame) -> None:
    cube = compute_features(sample_prices, FeatureSettings())
    cut = 1000
    shocked = (
        sample_prices.with_row_index()
        .with_columns(
            [
                pl.when(pl.col("index") > cut).then(pl.col(c) * 1.7).otherwise(pl.col(c)).alias(c)
                for c in sample_prices.columns[1:]
            ]
        )
        .drop("index")
    )
    cube2 = compute_features(shocked, FeatureSettings())
    np.testing.assert_array_equal(cube.values[: cut + 1], cube2.values[: cut + 1])
    assert not np.allclose(cube.values[cut + 2 :], cube2.values[cut + 2 :], equal_nan=True)


def test_gap_beyond_fill_limit_leaves_features_undefined() -> None:
    prices = list(np.linspace(10, 20, 120))
    prices[80:90] = [None] * 10
    cube = compute_features(_frame(prices), FeatureSettings())
    assert np.isnan(cube.values[80:90, 0, 0]).all()
    assert np.isfinite(cube.values[79, 0]).all()


def test_feature_params_for_manifest() -> None:
    params = feature_params(FeatureSettings())
    assert params["names"] == list(FEATURE_NAMES)
    assert params["window"] == 30 and params["rsi_period"] == 14


@pytest.mark.parametrize("bad", [{"window": 1}, {"macd_fast": 30}, {"vol_window": -3}])
def test_bad_feature_settings_rejected(bad: dict) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        FeatureSettings(**bad)


def _per_column_reference(prices: pl.DataFrame, spec: FeatureSettings) -> np.ndarray:
    """The same formulas as one polars expression per column (the implementation
    before whole-panel operations), as the independent reference."""

    def ema(expr: pl.Expr, span: int | None = None, alpha: float | None = None) -> pl.Expr:
        warmup = span if span is not None else round(1 / alpha)  # type: ignore[operator]
        return expr.ewm_mean(span=span, alpha=alpha, adjust=False, min_samples=warmup)

    exprs = []
    tickers = [c for c in prices.columns if c != "date"]
    for i, t in enumerate(tickers):
        price = pl.col(t)
        log_ret, change = price.log().diff(), price.diff()
        gain = ema(change.clip(lower_bound=0.0), alpha=1.0 / spec.rsi_period)
        loss = ema((-change).clip(lower_bound=0.0), alpha=1.0 / spec.rsi_period)
        macd = ema(price, span=spec.macd_fast) - ema(price, span=spec.macd_slow)
        hist = macd - ema(macd, span=spec.macd_signal)
        features = [
            log_ret,
            100.0 * gain / (gain + loss),
            hist / price,
            log_ret.rolling_std(spec.vol_window, ddof=1),
            price / price.rolling_max(spec.drawdown_window) - 1.0,
        ]
        exprs += [e.alias(f"{i}:{j}") for j, e in enumerate(features)]
    flat = prices.select(exprs).to_numpy().astype(np.float32)
    values = flat.reshape(prices.height, len(tickers), len(FEATURE_NAMES))
    values[~np.isfinite(values)] = np.nan
    return values


def _with_gaps(frame: pl.DataFrame) -> pl.DataFrame:
    # Long gaps (left missing by cleaning), a late listing and an early delisting.
    tickers = frame.columns[1:]
    i = pl.col("index")
    return (
        frame.with_row_index()
        .with_columns(
            pl.when(i.is_between(300, 320))
            .then(None)
            .otherwise(pl.col(tickers[0]))
            .alias(tickers[0]),
            pl.when(i < 700).then(None).otherwise(pl.col(tickers[1])).alias(tickers[1]),
            pl.when(i > 1500).then(None).otherwise(pl.col(tickers[2])).alias(tickers[2]),
        )
        .drop("index")
    )


def test_whole_panel_features_equal_per_column_expressions_bit_for_bit(
    sample_prices: pl.DataFrame,
) -> None:
    spec = FeatureSettings()
    frame = _with_gaps(sample_prices)
    np.testing.assert_array_equal(
        compute_features(frame, spec).values, _per_column_reference(frame, spec)
    )


def test_whole_panel_features_equal_per_column_on_the_shared_panel(shared_panel_path) -> None:
    from shared.prices.panel import read_panel

    prices = clean(read_panel(shared_panel_path)).prices
    spec = FeatureSettings()
    np.testing.assert_array_equal(
        compute_features(prices, spec).values, _per_column_reference(prices, spec)
    )


@pytest.mark.parametrize("rows", [None, 1900, 400, 95, 40])
def test_last_rows_equal_the_tail_of_the_full_cube(sample_prices: pl.DataFrame, rows) -> None:
    frame = _with_gaps(sample_prices)
    frame = frame if rows is None else frame.head(rows)
    spec = FeatureSettings()
    full = compute_features(frame, spec)
    tail = compute_features(frame, spec, last=30)
    np.testing.assert_array_equal(tail.values, full.values[-30:])
    np.testing.assert_array_equal(tail.dates, full.dates[-30:])
    assert tail.tickers == full.tickers
    assert compute_features(frame.head(20), spec, last=30).values.shape[0] == 20


def test_ewm_mean_gap_rules_worked_example() -> None:
    # alpha 0.5, no adjustment: a missing day decays the old weight to 0.25, so
    # 2 arrives with weight 0.5 / (0.25 + 0.5): 6 + (2 - 6) * 2/3 = 3.333...
    x = np.array([np.nan, np.nan, 5.0, 7.0, np.nan, 2.0, 1.0, 4.0])[:, None]
    got = ewm_mean(x, 0.5, 1)[:, 0]
    want = [np.nan, np.nan, 5.0, 6.0, np.nan, 10 / 3, 13 / 6, 37 / 12]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert np.isnan(ewm_mean(x, 0.5, 3)[:4, 0]).all()  # 5 and 7 are the 1st and 2nd values
    np.testing.assert_allclose(ewm_mean(x, 0.5, 3, last=3)[:, 0], want[-3:], rtol=1e-15)


def test_ewm_mean_equals_pandas_with_gaps() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(100, 5, size=(300, 4))
    x[:40, 1] = np.nan
    x[rng.random(x.shape) < 0.1] = np.nan
    got = ewm_mean(x, 0.2, 5)
    for j in range(x.shape[1]):
        s = pd.Series(x[:, j])
        want = s.ewm(alpha=0.2, adjust=False, ignore_na=False, min_periods=5).mean()
        want[s.isna()] = np.nan  # pandas repeats the last average on a missing day
        np.testing.assert_allclose(got[:, j], want.to_numpy(), rtol=1e-12)


def test_rolling_max_needs_every_day_of_the_window() -> None:
    x = np.array([1.0, 3.0, 2.0, np.nan, 5.0, 4.0, 1.0])[:, None]
    got = rolling_max(x, 3)[:, 0]
    np.testing.assert_array_equal(got, [np.nan, np.nan, 3.0, np.nan, np.nan, np.nan, 5.0])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=2**31 - 1),
)
def test_rolling_max_is_the_trailing_windows_max_by_hand(t: int, window: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 3))
    x[rng.random((t, 3)) < 0.1] = np.nan
    got = rolling_max(x, window)
    for i in range(t):
        for j in range(3):
            days = x[max(0, i - window + 1) : i + 1, j]
            full = i >= window - 1 and not np.isnan(days).any()
            expected = days.max() if full else np.nan
            assert got[i, j] == expected or (np.isnan(expected) and np.isnan(got[i, j]))
