"""Prices with their future perturbed: what every look-ahead test compares against."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl


def shock_after(
    prices: pl.DataFrame, cut: dt.date, seed: int, low: float, high: float
) -> pl.DataFrame:
    """``prices`` with every price after ``cut`` multiplied by a seeded draw in ``[low, high)``."""
    rng = np.random.default_rng(seed)
    later = (prices["date"] > cut).to_numpy()
    return prices.with_columns(
        pl.Series(c, np.where(later, v * rng.uniform(low, high, v.size), v))
        for c in prices.columns[1:]
        for v in [prices[c].to_numpy()]
    )
