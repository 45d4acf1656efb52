"""shared.prices.PriceData.require: a run's missing ticker says why it is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shared.config import DataSettings
from shared.errors import DataError
from shared.prices import load_prices


def _panel(tmp_path: Path) -> Path:
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(200)]
    rng = np.random.default_rng(0)
    spy = 100 * np.cumprod(1 + rng.normal(0, 0.01, 200))
    spy[120] *= 1000  # a x1,000 tick, taken back the next day
    other = 50 * np.cumprod(1 + rng.normal(0, 0.01, 200))
    path = tmp_path / "panel.csv"
    pl.DataFrame({"date": days, "SPY": spy, "AGG": other}).write_csv(path)
    return path


def test_a_benchmark_dropped_as_a_bad_tick_says_so(tmp_path: Path) -> None:
    settings = DataSettings(start=dt.date(2020, 1, 1), calendar="union")
    data = load_prices(settings, _panel(tmp_path))
    assert "SPY" not in data.tickers and data.dropped["SPY"].startswith("bad tick")
    with pytest.raises(
        DataError, match=r"benchmark 'SPY' was dropped from the price data: bad tick"
    ):
        data.require("SPY", "benchmark")
    with pytest.raises(DataError, match=r"benchmark 'QQQ' is not in the price data"):
        data.require("QQQ", "benchmark")
    data.require("AGG", "benchmark")  # there: nothing to say
