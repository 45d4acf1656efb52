"""Returns and the risk-free rate: one home for their conventions.

* A return is a simple return, ``p_t / p_{t-1} - 1``, NaN when either price
  is missing. Accounting may read a missing return as 0 (a position held at
  its last price); that rule lives in ``backtest.accounting``, not here.
  What a holder earns across a gap is :func:`credited_returns`: the whole
  move on the day prices resume, so nothing is lost.
* A risk-free rate is always handled as an array of per-period returns, one
  per return: the returns of a cash proxy ticker (``"BIL"``), or a constant
  annual rate turned into a per-period one.
* Annual and per-period rates convert geometrically, both ways:
  ``(1 + annual) ** (1 / P) - 1`` and ``(1 + periodic) ** P - 1``, so a rate
  converted down and back up is the rate itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from shared.errors import DataError

__all__ = [
    "annual_risk_free",
    "annual_to_periodic",
    "credited_returns",
    "periodic_to_annual",
    "risk_free_returns",
    "simple_returns",
    "trailing_returns",
]

FloatArray = npt.NDArray[np.float64]


def simple_returns(prices: npt.ArrayLike) -> FloatArray:
    """``(T, N)`` prices -> ``(T - 1, N)`` simple returns, NaN where a price is missing."""
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(p[1:] / p[:-1] - 1.0)


def credited_returns(prices: npt.ArrayLike) -> FloatArray:
    """Like :func:`simple_returns`, with a gap's whole move credited when prices resume.

    Across a gap the return of the day prices resume is ``p_resume / p_last - 1``
    against the last price before the gap, and the missing days return 0
    (the position is held at its last price), so the returns compound to
    the price ratio. Before an asset's first price they stay NaN. Only past
    prices are carried forward: nothing after a day changes its return.
    """
    p = np.asarray(prices, dtype=np.float64)
    present = np.isfinite(p)
    index = np.where(present, np.arange(p.shape[0]).reshape(-1, *([1] * (p.ndim - 1))), 0)
    last = np.maximum.accumulate(index, axis=0)
    carried = np.take_along_axis(p, last, axis=0)
    carried[~np.maximum.accumulate(present, axis=0)] = np.nan
    return simple_returns(carried)


def trailing_returns(prices: pl.DataFrame, tickers: Sequence[str], lookback: int) -> FloatArray:
    """Returns of ``tickers`` over the last ``lookback`` days of ``prices`` (fewer if shorter)."""
    # One multi-column expression: a name per expression costs more than the returns.
    return simple_returns(prices.tail(lookback + 1).select(pl.col(list(tickers))).to_numpy())


def annual_to_periodic(rate: float, periods_per_year: float) -> float:
    """Per-period rate that compounds to the annual ``rate``."""
    return float((1.0 + rate) ** (1.0 / periods_per_year) - 1.0)


def periodic_to_annual(rate: float, periods_per_year: float) -> float:
    """Annual rate from a per-period one, compounded."""
    return float((1.0 + rate) ** periods_per_year - 1.0)


def risk_free_returns(
    prices: pl.DataFrame,
    risk_free: float | str,
    periods_per_year: float,
    lookback: int,
    fallback_rate: float | None,
) -> FloatArray:
    """Per-period risk-free returns aligned with :func:`trailing_returns` of ``prices``.

    Parameters
    ----------
    prices : polars.DataFrame
        Wide prices up to the decision date.
    risk_free : float or str
        An annual rate, or a cash proxy ticker whose returns are the rate
        (NaN on days it has no price, unless ``fallback_rate``).
    periods_per_year : float
        Converts an annual rate to a per-period one.
    lookback : int
        Number of trailing returns.
    fallback_rate : float, optional
        The annual rate of the days a proxy ticker has no return
        (``[inference] risk_free_fallback``).

    Raises
    ------
    DataError
        ``risk_free`` names a ticker that is not in ``prices``.
    """
    if isinstance(risk_free, str):
        if risk_free not in prices.columns:
            raise DataError(f"risk-free ticker {risk_free!r} is not in the price data")
        proxy = trailing_returns(prices, [risk_free], lookback)[:, 0]
        if fallback_rate is None:
            return proxy
        return np.where(np.isnan(proxy), annual_to_periodic(fallback_rate, periods_per_year), proxy)
    n = max(0, min(lookback + 1, prices.height) - 1)
    return np.full(n, annual_to_periodic(risk_free, periods_per_year))


def annual_risk_free(rf: npt.ArrayLike, periods_per_year: float) -> float:
    """The annual rate of per-period risk-free returns (their mean, compounded); 0 if none."""
    arr = np.asarray(rf, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    return periodic_to_annual(float(finite.mean()), periods_per_year) if finite.size else 0.0
