"""Rolling annualised volatility and beta to the benchmark over a trailing window."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["ROLLING_WINDOW", "rolling_beta", "rolling_vol"]

#: Trading days in each window: half a year, long enough for a beta, short enough to move.
ROLLING_WINDOW = 126


def rolling_vol(returns: npt.ArrayLike, window: int, periods_per_year: float) -> np.ndarray:
    """Sample standard deviation over each trailing window, annualised; NaN until full."""
    s = pl.Series(np.asarray(returns, dtype=np.float64)).fill_nan(None)
    std = s.rolling_std(window, min_samples=window).to_numpy().astype(np.float64)
    return std * math.sqrt(periods_per_year)


def rolling_beta(returns: npt.ArrayLike, benchmark: npt.ArrayLike, window: int) -> np.ndarray:
    """``cov(r, b) / var(b)`` over each trailing window; NaN until full or where undefined."""
    frame = pl.DataFrame(
        {
            "r": np.asarray(returns, dtype=np.float64),
            "b": np.asarray(benchmark, dtype=np.float64),
        }
    ).fill_nan(None)
    out = frame.select(
        pl.rolling_cov("r", "b", window_size=window, min_samples=window)
        / pl.col("b").rolling_var(window, min_samples=window)
    )
    beta = out.to_series().to_numpy().astype(np.float64)
    return np.where(np.isfinite(beta), beta, np.nan)
