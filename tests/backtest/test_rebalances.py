"""rebalances.csv: a two-rebalance case recomputed by hand, and its sums against metrics.json."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import Result
from sklearn.covariance import ledoit_wolf

from backtest.engine import run_backtest
from backtest.rebalances import COLUMNS, KEPT, kept_row, rebalances_frame, yearly_trading
from backtest.turnover_split import PARTS
from shared.config import Settings
from shared.metrics import periods_per_year

SETTINGS = Settings.model_validate(
    {
        "data": {"benchmark": "SP500"},
        "inference": {"min_clusters": 3, "max_clusters": 6},
        "backtest": {"cost_bps": 10, "slippage_bps": 5},
    }
)
JAN, FEB = dt.date(2018, 1, 31), dt.date(2018, 2, 28)


@pytest.fixture(scope="module")
def two(sample_prices: pl.DataFrame, sample_models: Path):
    # The March period is incomplete on the 15th: two rebalances, January and February.
    return run_backtest(sample_prices, SETTINGS, sample_models, JAN, dt.date(2018, 3, 15))


def _targets(result, day: dt.date) -> dict[str, float]:
    rows = result.weights.filter(pl.col("date") == day)
    return dict(zip(rows["ticker"], rows["weight"], strict=True))


def test_two_rebalances_by_hand(two, sample_prices: pl.DataFrame) -> None:
    reb = two.rebalances
    assert reb.columns == list(COLUMNS)
    assert reb["date"].to_list() == [JAN, FEB]
    w1, w2 = _targets(two, JAN), _targets(two, FEB)
    # Each decision trades at the next close (execution lag 1).
    dates = sample_prices["date"].to_list()
    t1, t2 = (dates[dates.index(d) + 1] for d in (JAN, FEB))
    price = {d: sample_prices.filter(pl.col("date") == d).row(0, named=True) for d in (t1, t2)}
    # Jan's book, bought at t1, drifts with prices to t2's close, then trades to Feb's targets.
    grown = {t: w * price[t2][t] / price[t1][t] for t, w in w1.items()}
    total = sum(grown.values()) + (1 - sum(w1.values()))
    held = {t: g / total for t, g in grown.items()}
    change = [w2.get(t, 0.0) - held.get(t, 0.0) for t in set(w1) | set(w2)]
    traded = sum(abs(c) for c in change)
    one_way = (traded + abs(sum(change))) / 2
    rate = (10 + 5) / 1e4
    np.testing.assert_allclose(reb["turnover"].to_numpy(), [1.0, one_way], rtol=1e-12)
    np.testing.assert_allclose(reb["cost"].to_numpy(), [rate, rate * traded], rtol=1e-12)
    assert reb["picks"].to_list() == [len(w1), len(w2)]
    for row, alloc in zip(reb.iter_rows(named=True), two.allocations, strict=True):
        assert row["k"] == alloc.clustering.n_clusters == len(set(alloc.clusters.values()))
        assert row["candidates"] == len(alloc.clusters)
        assert row["silhouette"] == pytest.approx(alloc.clustering.silhouette)
        assert row["bundle"] == "2017-12-29"
        assert row["method"] == row["method_used"] == "hrp" and row["fallback"] == ""


def test_ex_ante_vol_by_hand(two, sample_prices: pl.DataFrame) -> None:
    """sqrt(w' S w) with scikit-learn's Ledoit-Wolf over the 252 days to the rebalance."""
    w = _targets(two, FEB)
    tickers = list(w)
    past = sample_prices.filter(pl.col("date") <= FEB).tail(253)
    prices = past.select(tickers).to_numpy()
    r = prices[1:] / prices[:-1] - 1
    r = r[np.isfinite(r).all(axis=1)]
    ppy = periods_per_year(past["date"].to_numpy())
    cov = ledoit_wolf(r)[0] * ppy
    x = np.array([w[t] for t in tickers])
    assert two.rebalances["ex_ante_vol"][-1] == pytest.approx(math.sqrt(x @ cov @ x), rel=1e-6)


def test_columns_sum_to_metrics_json(backtest_run: Result) -> None:
    out = backtest_run.out  # type: ignore[attr-defined]
    reb = pl.read_csv(out / "rebalances.csv", try_parse_dates=True)
    metrics = json.loads((out / "metrics.json").read_text())["strategy"]
    returns = pl.read_csv(out / "returns.csv", try_parse_dates=True)
    years = returns.height / periods_per_year(returns["date"].to_numpy())
    assert reb["turnover"].sum() / years == pytest.approx(metrics["turnover"], rel=1e-12)
    assert reb["cost"].sum() / years == pytest.approx(metrics["cost_drag"], rel=1e-12)
    # The first decision is on or before --start 2018-01-01: the last close of 2017.
    assert reb.height == 18 and reb["date"][0] == dt.date(2017, 12, 29)
    yearly = yearly_trading(reb)
    assert yearly["rebalances"].to_list() == [1, 12, 5]
    assert yearly["turnover"].sum() == pytest.approx(reb["turnover"].sum(), rel=1e-12)


def test_kept_row_says_why() -> None:
    row = kept_row(JAN, "/models/2017-12-29", "hrp", 4, "only 1 asset(s) have a window", 0.12)
    frame = rebalances_frame([row], np.array([0.0]), np.array([0.0]))
    assert frame.row(0, named=True) == {
        "date": JAN, "bundle": "2017-12-29", "k": None, "silhouette": None, "candidates": None,
        "picks": 4, "method": "hrp", "method_used": KEPT,
        "fallback": "only 1 asset(s) have a window", "turnover": 0.0, "cost": 0.0,
        "ex_ante_vol": 0.12, "stress": None, "exposure": None,
        **{f"turnover_{part}": None for part in PARTS}, "ari": None,
    }  # fmt: skip
    with pytest.raises(ValueError, match="1 rebalances but 2 turnovers"):
        rebalances_frame([row], np.zeros(2), np.zeros(1))
