"""backtest.report_data: the report's numbers, computed apart from its files and charts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.engine import BacktestResult, run_backtest
from backtest.report_data import report_data
from backtest.risk import target_risk
from shared.config import load_settings
from shared.metrics import max_drawdown
from shared.prices import load_prices
from tests.paths import ROOT


@pytest.fixture(scope="module")
def run(sample_models: Path) -> tuple[BacktestResult, pl.DataFrame, dict[str, str], object]:
    settings = load_settings(ROOT / "configs" / "sample.toml")
    data = load_prices(settings.data)
    start, end = dt.date(2018, 1, 1), dt.date(2019, 6, 30)
    result = run_backtest(data.prices, settings, sample_models, start, end)
    return result, data.prices, data.universe.asset_class, settings


def test_the_series_are_the_returns_compounded(run, tmp_path: Path, monkeypatch) -> None:
    result, prices, classes, settings = run
    monkeypatch.chdir(tmp_path)
    data = report_data(result, prices, classes, settings)
    assert not list(tmp_path.iterdir())  # computed, nothing written
    r = result.returns["strategy"].to_numpy()
    np.testing.assert_allclose(data.growth["strategy"].to_numpy(), np.cumprod(1 + r))
    assert data.drawdowns["strategy"].min() == pytest.approx(max_drawdown(r))
    assert data.yearly["year"].to_list() == [2018, 2019]
    assert set(data.class_weights.columns) - {"date"} <= set(classes.values()) | {"unknown"}


def test_the_ex_ante_risk_is_the_backtests_own(run) -> None:
    result, prices, classes, settings = run
    data = report_data(result, prices, classes, settings)
    # Computed once, by the backtest, for rebalances.csv: the report reads that.
    assert data.ex_ante is result.ex_ante
    assert data.ex_ante.vol == pytest.approx(result.rebalances["ex_ante_vol"][-1], rel=1e-12)
    last = result.allocations[-1]
    cfg = settings.inference
    past = prices.filter(pl.col("date") <= result.rebalances["date"][-1])
    again = target_risk(past, last.weights, cfg.lookback, last.periods_per_year, cfg.covariance)
    assert again.vol == data.ex_ante.vol and again.contributions == data.ex_ante.contributions
    assert sum(data.risk_by_class.values()) == pytest.approx(1.0)
