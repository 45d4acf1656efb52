"""Walk-forward backtest on the embedded sample with linear ONNX encoders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.baselines import BASELINES
from backtest.engine import run_backtest
from shared.config import Settings
from shared.errors import BundleError, DataError
from tests.bundles import make_bundle
from tests.shocks import shock_after

SETTINGS = Settings.model_validate(
    {
        "data": {"benchmark": "SP500"},
        "inference": {"min_clusters": 3, "max_clusters": 6},
        "backtest": {"cost_bps": 10},
    }
)
START, END = dt.date(2018, 1, 1), dt.date(2019, 6, 30)


@pytest.fixture(scope="module")
def models(sample_prices: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wf")
    for year in (2017, 2018):
        make_bundle(
            root / f"{year}-12-29", sample_prices, dt.date(year - 1, 1, 1), dt.date(year, 12, 29)
        )
    return root


@pytest.fixture(scope="module")
def result(sample_prices: pl.DataFrame, models: Path):
    return run_backtest(sample_prices, SETTINGS, models, START, END)


def test_outputs_cover_every_series_and_day(result) -> None:
    frame = result.returns
    # No SPY or AGG in the sample, and no classes given: those two are left out, and said so.
    gone = ("sixty_forty", "class_cluster")
    assert frame.columns == [
        "date",
        "strategy",
        "benchmark",
        *(b for b in BASELINES if b not in gone),
    ]
    assert result.notes[:2] == [
        "baseline sixty_forty left out: SPY, AGG not in the prices",
        "baseline class_cluster left out: no asset class known for any ticker (no universe file)",
    ]
    assert frame["date"][0] == dt.date(2018, 1, 3)
    assert frame["date"][-1] == dt.date(2019, 6, 28)
    assert all(frame.drop("date").select(pl.all().is_finite().all()).row(0))
    assert result.weights["date"].n_unique() == 18  # Dec 2017 .. May 2019 month ends
    sums = result.weights.group_by("date").agg(pl.col("weight").sum())["weight"]
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    for name, m in result.metrics.items():
        assert {"total_return", "cagr", "sharpe", "max_drawdown", "var_95", "cvar_95"} <= set(m)
        assert m["max_drawdown"] <= 0 and m["cvar_95"] >= m["var_95"], name
    assert (
        result.metrics["strategy"]["turnover"] > 0 and "turnover" not in result.metrics["benchmark"]
    )


def test_models_trained_before_each_rebalance_are_used(result) -> None:
    used = {a.asof: Path(a.bundle_path).name for a in result.allocations}
    assert used[dt.date(2017, 12, 29)] == "2017-12-29"  # trained on prices up to that close
    assert used[dt.date(2018, 11, 30)] == "2017-12-29"
    assert used[dt.date(2018, 12, 31)] == "2018-12-29"
    assert all(dt.date.fromisoformat(b) <= d for d, b in used.items())


def test_execution_lag_delays_the_trades_not_the_decisions(sample_prices, models, result) -> None:
    same_close = SETTINGS.model_copy(
        update={"backtest": SETTINGS.backtest.model_copy(update={"execution_lag": 0})}
    )
    lag0 = run_backtest(sample_prices, same_close, models, START, END)
    assert lag0.weights.equals(result.weights)
    assert lag0.returns["date"][0] == dt.date(2018, 1, 2)  # the day after 2017-12-29
    # Same days from 2018-01-03 on, different returns: the trades are a day apart.
    tail = lag0.returns.filter(pl.col("date") >= dt.date(2018, 1, 3))
    assert tail["date"].equals(result.returns["date"])
    assert not np.allclose(tail["strategy"].to_numpy(), result.returns["strategy"].to_numpy())
    np.testing.assert_array_equal(
        tail["benchmark"].to_numpy(), result.returns["benchmark"].to_numpy()
    )


def test_no_look_ahead(sample_prices: pl.DataFrame, models: Path, result) -> None:
    # The cut is a decision day: its trade, a day later, sees shocked prices; its weights must not.
    cut = dt.date(2018, 9, 28)
    shocked = shock_after(sample_prices, cut, 7, 0.7, 1.4)
    other = run_backtest(shocked, SETTINGS, models, START, END)
    before = pl.col("date") <= cut
    assert result.returns.filter(before).equals(other.returns.filter(before))
    assert result.weights.filter(before).equals(other.weights.filter(before))
    assert not result.returns.filter(~before).equals(other.returns.filter(~before))


def test_a_model_trained_after_the_rebalance_is_refused(sample_prices, models: Path) -> None:
    with pytest.raises(DataError, match="after rebalance date 2017-12-29"):
        run_backtest(sample_prices, SETTINGS, models / "2018-12-29", START, END)
    with pytest.raises(BundleError, match="no bundle trained on or before 2016-12-30"):
        run_backtest(sample_prices, SETTINGS, models, dt.date(2017, 1, 1), END)


def test_missing_benchmark_and_empty_period(sample_prices, models: Path) -> None:
    spy = SETTINGS.model_copy(
        update={"data": SETTINGS.data.model_copy(update={"benchmark": "SPY"})}
    )
    with pytest.raises(DataError, match="benchmark 'SPY' is not in the price data"):
        run_backtest(sample_prices, spy, models, START, END)
    with pytest.raises(DataError, match="no monthly rebalance date"):
        run_backtest(sample_prices, SETTINGS, models, dt.date(2030, 1, 1), dt.date(2030, 6, 1))


def test_ratios_are_measured_over_the_risk_free_rate(sample_prices, models: Path) -> None:
    from shared.metrics import sharpe

    five = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"risk_free": 0.05})}
    )
    res = run_backtest(sample_prices, five, models, START, END)
    ppy = res.periods_per_year
    daily = 1.05 ** (1 / ppy) - 1
    bench = res.returns["benchmark"].to_numpy()
    assert res.metrics["benchmark"]["sharpe"] == pytest.approx(sharpe(bench, daily, ppy))
    assert res.metrics["benchmark"]["sharpe"] < sharpe(bench, 0.0, ppy)
