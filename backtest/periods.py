"""Returns compounded by calendar month and year, from the daily returns of a backtest.

A period's return is ``prod(1 + r) - 1`` over its days. Days before a
series starts (NaN) are left out; a period with no day of a series is null,
not 0, so a late-starting baseline does not show months it never lived.
"""

from __future__ import annotations

import polars as pl

__all__ = ["monthly_returns", "yearly_returns"]


def _compound(name: str) -> pl.Expr:
    r = pl.col(name).fill_nan(None)
    growth = (r + 1.0).product() - 1.0
    return pl.when(r.count() > 0).then(growth).otherwise(None).alias(name)


def _series(returns: pl.DataFrame) -> list[str]:
    if "date" not in returns.columns:
        raise ValueError("returns needs a 'date' column")
    return [c for c in returns.columns if c != "date"]


def yearly_returns(returns: pl.DataFrame) -> pl.DataFrame:
    """``year`` then one compounded return per series, a row per calendar year."""
    names = _series(returns)
    return (
        returns.group_by(pl.col("date").dt.year().alias("year"))
        .agg(*(_compound(n) for n in names))
        .sort("year")
    )


def monthly_returns(returns: pl.DataFrame, series: str) -> pl.DataFrame:
    """``year``, then columns ``1`` .. ``12`` of one series' monthly returns, and ``year``'s total.

    Parameters
    ----------
    returns : polars.DataFrame
        ``date`` then daily simple returns per series.
    series : str
        The column to tabulate.

    Returns
    -------
    polars.DataFrame
        One row per year; a month without a day in the data is null. The last
        column, ``total``, compounds the year's months.
    """
    if series not in _series(returns):
        raise ValueError(f"no series {series!r} in returns")
    months = (
        returns.select("date", series)
        .group_by(pl.col("date").dt.year().alias("year"), pl.col("date").dt.month().alias("month"))
        .agg(_compound(series))
    )
    wide = months.pivot(on="month", index="year", values=series, sort_columns=True).sort("year")
    for m in range(1, 13):
        if str(m) not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(str(m)))
    totals = yearly_returns(returns.select("date", series)).rename({series: "total"})
    return wide.select("year", *(str(m) for m in range(1, 13))).join(totals, on="year")
