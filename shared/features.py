"""Close-only features of every asset on every day.

Five features, all computed from adjusted closes alone so that instruments
without volume (FX pairs, some indices) are treated like any other:

``log_return``
    :math:`\\ln(P_t / P_{t-1})`.
``rsi``
    Wilder's RSI over ``rsi_period`` days: average gain :math:`G_t` and loss
    :math:`L_t` are exponential averages with :math:`\\alpha = 1/n` seeded with
    the first change, and :math:`RSI_t = 100\\,G_t / (G_t + L_t)` (the same as
    :math:`100 - 100/(1 + G_t/L_t)`); defined once ``n`` changes are seen.
``macd_hist``
    MACD histogram divided by price, so assets of any price level compare:
    :math:`(M_t - S_t) / P_t` with :math:`M = EMA_{fast}(P) - EMA_{slow}(P)` and
    :math:`S = EMA_{signal}(M)`; EMAs use ``span`` (:math:`\\alpha = 2/(span+1)`),
    seeded with the first value, as ``pandas.ewm(span, adjust=False)``.
``volatility``
    Sample standard deviation (ddof 1) of the last ``vol_window`` log returns.
``drawdown``
    :math:`P_t / \\max(P_{t-w+1..t}) - 1` over ``drawdown_window`` days (<= 0).

Every feature at day ``t`` reads prices up to ``t`` only (EMAs, rolling
windows and differences are all trailing), which is what makes windows as of
a date free of look-ahead. A feature is NaN until it has its full warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from shared.config import FeatureSettings

FEATURE_NAMES: tuple[str, ...] = ("log_return", "rsi", "macd_hist", "volatility", "drawdown")


@dataclass(frozen=True)
class FeatureCube:
    """Features of every asset on every day.

    Attributes
    ----------
    dates : numpy.ndarray
        ``(T,)`` ``datetime64[D]``, strictly increasing.
    tickers : tuple of str
        ``N`` asset names, in the price frame's column order.
    values : numpy.ndarray
        ``(T, N, F)`` float32, NaN where a feature is undefined.
    """

    dates: np.ndarray
    tickers: tuple[str, ...]
    values: np.ndarray

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURE_NAMES


def _ema(expr: pl.Expr, *, span: int | None = None, alpha: float | None = None) -> pl.Expr:
    # min_samples = span (or 1/alpha) keeps the first, poorly seeded values out.
    warmup = span if span is not None else round(1 / alpha) if alpha else 1
    return expr.ewm_mean(span=span, alpha=alpha, adjust=False, min_samples=warmup)


def feature_exprs(column: str, spec: FeatureSettings) -> list[pl.Expr]:
    """Polars expressions for the five features of one price column.

    Parameters
    ----------
    column : str
        Name of the price column.
    spec : FeatureSettings
        Periods of each indicator.

    Returns
    -------
    list of polars.Expr
        One expression per name in :data:`FEATURE_NAMES`, in that order.
    """
    price = pl.col(column)
    log_ret = price.log().diff()
    change = price.diff()
    gain = _ema(change.clip(lower_bound=0.0), alpha=1.0 / spec.rsi_period)
    loss = _ema((-change).clip(lower_bound=0.0), alpha=1.0 / spec.rsi_period)
    macd = _ema(price, span=spec.macd_fast) - _ema(price, span=spec.macd_slow)
    hist = macd - _ema(macd, span=spec.macd_signal)
    return [
        log_ret,
        100.0 * gain / (gain + loss),
        hist / price,
        log_ret.rolling_std(spec.vol_window, ddof=1),
        price / price.rolling_max(spec.drawdown_window) - 1.0,
    ]


def compute_features(prices: pl.DataFrame, spec: FeatureSettings) -> FeatureCube:
    """Compute all features for every asset and day of a cleaned price frame.

    Parameters
    ----------
    prices : polars.DataFrame
        ``date`` column (``pl.Date``) then one Float64 column of adjusted closes
        per ticker, as returned by :func:`shared.prices.load_prices`.
    spec : FeatureSettings
        Indicator periods.

    Returns
    -------
    FeatureCube
    """
    tickers = tuple(c for c in prices.columns if c != "date")
    exprs = [
        expr.alias(f"{i}:{j}")
        for i, ticker in enumerate(tickers)
        for j, expr in enumerate(feature_exprs(ticker, spec))
    ]
    flat = prices.select(exprs).to_numpy().astype(np.float32, copy=False)
    values = flat.reshape(prices.height, len(tickers), len(FEATURE_NAMES))
    # 0/0 in the RSI (a flat stretch) and similar give NaN, never inf; keep it that way.
    values[~np.isfinite(values)] = np.nan
    dates = prices["date"].to_numpy().astype("datetime64[D]")
    return FeatureCube(dates=dates, tickers=tickers, values=values)


def warmup_days(spec: FeatureSettings) -> int:
    """Prices needed before every feature is defined on the last of them."""
    macd = spec.macd_slow + spec.macd_signal - 1
    return max(spec.rsi_period + 1, macd, spec.vol_window + 1, spec.drawdown_window)


def feature_params(spec: FeatureSettings) -> dict[str, Any]:
    """Feature names and parameters, as stored in a model bundle's manifest."""
    params = spec.model_dump(mode="json")
    params.pop("clip", None)
    return {"names": list(FEATURE_NAMES), **params}
