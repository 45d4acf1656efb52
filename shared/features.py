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


def ewm_mean(x: np.ndarray, alpha: float, min_samples: int, last: int | None = None) -> np.ndarray:
    """Exponential moving average of each column of ``x``, NaN meaning "no price".

    ``polars.Expr.ewm_mean(alpha, adjust=False, ignore_nulls=False)`` step for
    step, vectorised across columns: the first value seeds the average; each
    later day the previous weight decays by ``1 - alpha`` (missing days too, so
    a gap counts as time passing) and a present value moves the average by
    ``(x - m) * alpha / (w + alpha)``. The result is NaN where ``x`` is missing
    or fewer than ``min_samples`` values have been seen. Looping over days
    instead of over columns keeps the cost per asset constant as the universe
    grows (polars evaluates one expression per column).

    Parameters
    ----------
    x : numpy.ndarray
        ``(T, N)`` float64.
    alpha : float
        Smoothing factor.
    min_samples : int
    last : int, optional
        Return only the last ``last`` rows (the average still runs over all of them).
    """
    decay = 1.0 - alpha
    present = ~np.isnan(x)
    first = 0 if last is None else max(0, x.shape[0] - last)
    out = np.empty_like(x[first:])
    # Starting from mean 0 and weight 0, the general step gives the seed exactly:
    # 0 + (v - 0) * (alpha / (0 + alpha)) == v.
    mean, weight, gain = np.zeros(x.shape[1]), np.zeros(x.shape[1]), np.empty(x.shape[1])
    for t in range(x.shape[0]):
        np.multiply(weight, decay, out=weight)
        np.divide(alpha, weight + alpha, out=gain)
        step = x[t] - mean
        step *= gain
        step += mean
        np.copyto(mean, step, where=present[t])
        np.copyto(weight, 1.0, where=present[t])
        if t >= first:
            out[t - first] = mean
    seen = np.cumsum(present, axis=0, dtype=np.int32)[first:]
    out[~present[first:] | (seen < min_samples)] = np.nan
    return out


def _diff(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    out[0] = np.nan
    np.subtract(x[1:], x[:-1], out=out[1:])
    return out


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing ``window``-day maximum of each column; NaN unless all those days have prices."""
    missing = np.isnan(x)
    out = np.full(x.shape, np.nan)
    t = x.shape[0]
    if t >= window:
        # Van Herk / Gil-Werman: in blocks of `window` days, the running maximum
        # forward and backward; a window straddles at most two blocks, so its
        # maximum is the backward one at its start and the forward one at its end.
        v = np.where(missing, -np.inf, x)
        pad = np.full(((-t) % window, *x.shape[1:]), -np.inf)
        blocks = np.concatenate([v, pad]).reshape(-1, window, *x.shape[1:])
        forward = np.maximum.accumulate(blocks, axis=1).reshape(-1, *x.shape[1:])[:t]
        backward = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]
        backward = backward.reshape(-1, *x.shape[1:])[:t]
        out[window - 1 :] = np.maximum(backward[: t - window + 1], forward[window - 1 :])
    gaps = np.cumsum(missing, axis=0, dtype=np.int32)
    gaps[window:] -= gaps[:-window].copy()
    out[gaps > 0] = np.nan
    out[: window - 1] = np.nan
    return out


def compute_features(
    prices: pl.DataFrame, spec: FeatureSettings, *, last: int | None = None
) -> FeatureCube:
    """Compute all features for every asset and day of a cleaned price frame.

    Whole-panel operations, one per step of a formula, so the cost grows with
    the number of prices and not with the number of expressions; the results
    equal, to the last float32 bit, polars' per-column expressions of the same
    formulas (``tests/shared/test_features.py``).

    Parameters
    ----------
    prices : polars.DataFrame
        ``date`` column (``pl.Date``) then one Float64 column of adjusted closes
        per ticker, as returned by :func:`shared.prices.load_prices`.
    spec : FeatureSettings
        Indicator periods.
    last : int, optional
        Only the last ``last`` dates (inference needs one window). The
        averages still run over the whole history and the rolling features
        read the same days, so these rows equal those of the full cube bit
        for bit.

    Returns
    -------
    FeatureCube
    """
    closes = prices.drop("date")
    height = prices.height
    keep = height if last is None else min(last, height)
    # Rows before the kept ones that the rolling features read.
    lo = max(0, height - keep - max(spec.vol_window + 1, spec.drawdown_window))
    # polars' rolling standard deviation is kept (numpy has none); its running
    # sums carry rounding from earlier rows, so it always sees the whole history.
    log_frame = closes.select(pl.all().log().diff())
    vol = log_frame.select(pl.all().rolling_std(spec.vol_window, ddof=1)).to_numpy()[lo:]
    log_ret = log_frame.slice(lo).to_numpy()
    p_all = closes.to_numpy().astype(np.float64, copy=False)
    p, n, rows = p_all[lo:], p_all.shape[1], height - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        change = _diff(p_all)
        rsi_alpha = 1.0 / spec.rsi_period
        gain = ewm_mean(np.maximum(change, 0.0), rsi_alpha, round(1 / rsi_alpha), rows)
        loss = ewm_mean(np.maximum(-change, 0.0), rsi_alpha, round(1 / rsi_alpha), rows)
        fast = ewm_mean(p_all, 2.0 / (spec.macd_fast + 1.0), spec.macd_fast)
        slow = ewm_mean(p_all, 2.0 / (spec.macd_slow + 1.0), spec.macd_slow)
        macd = fast - slow
        signal = ewm_mean(macd, 2.0 / (spec.macd_signal + 1.0), spec.macd_signal, rows)
        hist = macd[lo:] - signal
        columns = (
            log_ret,
            gain * 100.0 / (gain + loss),
            hist / p,
            vol,
            p / rolling_max(p, spec.drawdown_window) - 1.0,
        )
    values = np.empty((keep, n, len(FEATURE_NAMES)), dtype=np.float32)
    for j, column in enumerate(columns):
        values[:, :, j] = column[rows - keep :]
    # 0/0 in the RSI (a flat stretch) and similar give NaN, never inf; keep it that way.
    values[~np.isfinite(values)] = np.nan
    dates = prices["date"].to_numpy().astype("datetime64[D]")[height - keep :]
    return FeatureCube(dates=dates, tickers=tuple(closes.columns), values=values)


def warmup_days(spec: FeatureSettings) -> int:
    """Prices needed before every feature is defined on the last of them."""
    macd = spec.macd_slow + spec.macd_signal - 1
    return max(spec.rsi_period + 1, macd, spec.vol_window + 1, spec.drawdown_window)


def feature_params(spec: FeatureSettings) -> dict[str, Any]:
    """Feature names and parameters, as stored in a model bundle's manifest."""
    params = spec.model_dump(mode="json")
    params.pop("clip", None)
    return {"names": list(FEATURE_NAMES), **params}
