"""Monthly and yearly returns recomputed from returns.csv with pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from click.testing import Result

from backtest.periods import monthly_returns, yearly_returns


def _compound(x: pd.Series) -> float:
    x = x.dropna()
    return float((1 + x).prod() - 1) if len(x) else np.nan


def test_tables_recompute_from_returns_csv(backtest_run: Result) -> None:
    frame = pl.read_csv(backtest_run.out / "returns.csv", try_parse_dates=True)  # type: ignore[attr-defined]
    df = frame.to_pandas().set_index("date")
    df.index = pd.to_datetime(df.index)
    by_month = df["strategy"].groupby([df.index.year, df.index.month]).apply(_compound)
    table = monthly_returns(frame, "strategy")
    for (year, month), value in by_month.items():
        got = table.filter(pl.col("year") == year)[str(month)][0]
        assert got == pytest.approx(value, rel=1e-12), (year, month)
    by_year = df.groupby(df.index.year).agg(_compound)
    yearly = yearly_returns(frame)
    for name in df.columns:
        np.testing.assert_allclose(yearly[name].to_numpy(), by_year[name].to_numpy(), rtol=1e-12)
    # A year's total is its months compounded.
    months = table.select([str(m) for m in range(1, 13)]).to_numpy().astype(float)
    totals = np.nanprod(1 + months, axis=1) - 1
    np.testing.assert_allclose(table["total"].to_numpy(), totals, rtol=1e-12)


def test_months_without_data_are_null_not_zero() -> None:
    frame = pl.DataFrame(
        {
            "date": [dt.date(2020, 11, 30), dt.date(2020, 12, 1), dt.date(2021, 1, 4)],
            "strategy": [0.1, -0.1, 0.05],
            "late": [None, None, 0.02],
        }
    )
    table = monthly_returns(frame, "strategy")
    assert table["year"].to_list() == [2020, 2021]
    assert table["11"].to_list()[0] == pytest.approx(0.1)
    assert table["2"].to_list() == [None, None]
    yearly = yearly_returns(frame)
    assert yearly["late"].to_list()[0] is None
    assert yearly["strategy"].to_list() == pytest.approx([1.1 * 0.9 - 1, 0.05])
    with pytest.raises(ValueError, match="no series 'nope'"):
        monthly_returns(frame, "nope")
