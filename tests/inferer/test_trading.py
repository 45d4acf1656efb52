"""inferer.trading: each control by hand, the budget's invariants, live trades = backtest trades."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from inferer.trading import execute
from shared.config import Settings, TradingSettings
from shared.turnover import one_way_turnover

HELD = np.array([0.30, 0.30, 0.20, 0.20, 0.00])
TARGET = np.array([0.35, 0.00, 0.205, 0.20, 0.245])


def test_with_the_defaults_the_book_trades_to_its_target() -> None:
    np.testing.assert_allclose(execute(TARGET, HELD, TradingSettings()), TARGET)


def test_each_control_by_hand() -> None:
    # The move turns over 0.30 one-way: under a 0.31 band nothing trades.
    assert one_way_turnover(TARGET - HELD) == pytest.approx(0.30)
    np.testing.assert_array_equal(execute(TARGET, HELD, TradingSettings(no_trade_band=0.31)), HELD)
    # A 1% asset band keeps the third name (+0.005); the second leaves, the fifth enters.
    banded = execute(TARGET, HELD, TradingSettings(asset_band=0.01))
    np.testing.assert_allclose(banded, [0.35, 0.0, 0.20, 0.20, 0.245])
    half = execute(TARGET, HELD, TradingSettings(trade_fraction=0.5))
    np.testing.assert_allclose(half, HELD + 0.5 * (TARGET - HELD))


def test_a_budget_goes_to_the_largest_trades_first() -> None:
    # Sells: the second name's 0.30. Buys: 0.245, 0.05, 0.005. A budget of 0.2 sells
    # 0.2 of the second name and buys 0.2 of the fifth (the largest buy).
    capped = execute(TARGET, HELD, TradingSettings(max_turnover=0.2))
    np.testing.assert_allclose(capped, [0.30, 0.10, 0.20, 0.20, 0.20])
    assert one_way_turnover(capped - HELD) == pytest.approx(0.2)
    # 0.29: sell 0.29 of the second; buy the fifth's 0.245, then 0.045 of the first's 0.05.
    more = execute(TARGET, HELD, TradingSettings(max_turnover=0.29))
    np.testing.assert_allclose(more, [0.345, 0.01, 0.20, 0.20, 0.245])
    # Buys never exceed the sells and the cash held: nothing is bought on credit.
    assert more.sum() == pytest.approx(1.0)


books = st.lists(st.floats(0, 1), min_size=2, max_size=8).map(
    lambda w: np.array(w) / max(1.0, float(np.sum(w)))
)


@settings(max_examples=200, deadline=None)
@given(held=books, target=books, budget=st.floats(0.01, 1.0), fraction=st.floats(0.05, 1.0))
def test_a_budget_is_never_exceeded_and_the_book_stays_whole(
    held: np.ndarray, target: np.ndarray, budget: float, fraction: float
) -> None:
    n = min(held.size, target.size)
    h, t = held[:n], target[:n]
    book = execute(t, h, TradingSettings(max_turnover=budget, trade_fraction=fraction))
    assert one_way_turnover(book - h) <= budget + 1e-9
    assert (book >= -1e-12).all() and book.sum() <= 1 + 1e-9
    # Every trade goes toward the target, never past it.
    assert (np.abs(t - book) <= np.abs(t - h) + 1e-12).all()


def test_the_live_trades_are_the_backtests(
    sample_prices: pl.DataFrame, sample_models: Path, tmp_path: Path
) -> None:
    from backtest.engine import run_backtest
    from deepquant.cli import cli
    from tests.backtest.conftest import SAMPLE_CONFIG

    trading = {"no_trade_band": 0.02, "asset_band": 0.01, "trade_fraction": 0.7,
               "max_turnover": 0.3}  # fmt: skip
    config = tmp_path / "trading.toml"
    text = SAMPLE_CONFIG.read_text().replace(
        'cache_dir = "../data/cache"', f'cache_dir = "{tmp_path}"'
    )
    lines = "".join(f"{k} = {v}\n" for k, v in trading.items())
    config.write_text(text + "\n[trading]\n" + lines)
    from shared.config import load_settings

    cfg: Settings = load_settings(config)
    run = run_backtest(sample_prices, cfg, sample_models, dt.date(2018, 1, 1), dt.date(2018, 6, 30))
    tickers = [c for c in sample_prices.columns if c != "date"]
    k = len(run.allocations) - 1
    alloc, held = run.allocations[k], run.held[k]
    holdings = tmp_path / "held.csv"
    rows = [f"{t},{float(w)!r}" for t, w in zip(tickers, held, strict=True) if w > 0]
    holdings.write_text("ticker,weight\n" + "\n".join(rows) + "\n")
    out = tmp_path / "live"
    args = ["infer", "--config", str(config), "--model", str(sample_models), "--asof",
            alloc.asof.isoformat(), "--holdings", str(holdings), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    trades = pl.read_csv(out / f"trades_{alloc.asof}.csv")
    live = dict(zip(trades["ticker"], trades["target"], strict=True))
    target = np.array([alloc.weights.get(t, 0.0) for t in tickers])
    backtest_book = execute(target, held, cfg.trading)
    for ticker, w in zip(tickers, backtest_book, strict=True):
        assert live.get(ticker, 0.0) == pytest.approx(w, abs=1e-12), ticker
    assert run.rebalances["turnover"][k] == pytest.approx(one_way_turnover(backtest_book - held))
    weights = pl.read_csv(out / f"weights_{alloc.asof}.csv")  # the book the next run holds
    assert dict(zip(weights["ticker"], weights["weight"], strict=True)) == pytest.approx(
        {t: w for t, w in zip(tickers, backtest_book, strict=True) if w > 1e-12}
    )
