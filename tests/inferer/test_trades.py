"""Trades and share counts against hand-computed examples."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from inferer.output import previous_weights
from inferer.trades import (
    Holdings,
    make_orders,
    read_holdings,
    share_counts,
    trades_frame,
    turnover_and_cost,
)
from shared.errors import DataError

PRICES = {"SPY": 500.0, "TLT": 90.0, "GLD": 200.0}


def test_trades_from_weights_by_hand() -> None:
    current = {"SPY": 0.6, "TLT": 0.4}
    target = {"SPY": 0.5, "GLD": 0.3, "TLT": 0.2}
    trades = trades_frame(current, target)
    assert trades["ticker"].to_list() == ["GLD", "TLT", "SPY"]  # largest change first
    assert trades["change"].to_list() == pytest.approx([0.3, -0.2, -0.1])
    # Sum |change| = 0.6, no cash moved: one-way 0.3; cost on every unit: 0.6 x 10 bps.
    turnover, cost = turnover_and_cost(trades, 10.0)
    assert turnover == pytest.approx(0.3) and cost == pytest.approx(0.0006)


def test_from_cash_and_a_full_switch_are_both_a_turnover_of_one() -> None:
    assert turnover_and_cost(trades_frame({}, {"SPY": 0.7, "TLT": 0.3}), 0)[0] == pytest.approx(1)
    assert turnover_and_cost(trades_frame({"SPY": 1.0}, {"TLT": 1.0}), 0)[0] == pytest.approx(1)


def test_share_counts_by_hand() -> None:
    # 10,000 at 60% SPY (500), 40% TLT (90): 12 SPY = 6,000; 44 TLT = 3,960; 40 left.
    shares, leftover = share_counts({"SPY": 0.6, "TLT": 0.4}, PRICES, 10_000)
    assert shares == {"SPY": 12, "TLT": 44}
    assert leftover == pytest.approx(10_000 - 12 * 500 - 44 * 90)


def test_holdings_in_shares_are_valued_at_the_latest_prices(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("ticker,shares\nSPY,6\nTLT,50\n")  # 3,000 + 4,500
    held = read_holdings(path, PRICES)
    assert held.weights == pytest.approx({"SPY": 0.4, "TLT": 0.6})
    orders = make_orders(held, {"SPY": 0.5, "GLD": 0.5}, PRICES, 10.0, capital=7_500)
    rows = {r["ticker"]: r for r in orders.trades.iter_rows(named=True)}
    assert rows["GLD"]["target_shares"] == 18 and rows["SPY"]["target_shares"] == 7
    assert rows["TLT"]["shares_change"] == -50 and rows["SPY"]["shares_change"] == 1
    assert orders.leftover_cash == pytest.approx(7_500 - 18 * 200 - 7 * 500)
    assert orders.turnover == pytest.approx(0.6)  # (0.1 + 0.5 + 0.6) / 2


def test_held_tickers_are_matched_whatever_their_spaces_and_case(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("ticker,weight\n spy ,0.4\ntlt,0.6\n")
    assert read_holdings(path, PRICES).weights == pytest.approx({"SPY": 0.4, "TLT": 0.6})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ticker,amount\nSPY,1\n", "needs a 'ticker' column and 'weight' or 'shares'"),
        ("ticker,weight\nSPY,0.7\nSPY,0.2\n", "a ticker appears more than once"),
        ("ticker,weight\nSPY,-0.1\n", "weight -0.1 for SPY is not >= 0"),
        ("ticker,weight\nSPY,0.8\nTLT,0.4\n", "weights sum to 1.2000 > 1"),
        ("ticker,shares\nQQQ,3\n", "'QQQ' has no price in the data"),
        ("ticker,weight\nSPYY,0.5\n", "'SPYY' has no price in the data"),
        ("ticker,weight\nSPY,half\n", "weight 'half' for SPY is not a number"),
        ("ticker,weight\nSPY,50%\n", "weight '50%' for SPY is not a number"),
    ],
)
def test_bad_holdings_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "book.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_holdings(path, PRICES)


def test_default_book_is_the_last_weights_written_on_or_before_the_day(tmp_path: Path) -> None:
    assert previous_weights(tmp_path, dt.date(2024, 5, 31)) == Holdings({}, "none (all cash)")
    for day, w in (("2024-05-30", 0.25), ("2024-05-31", 0.5), ("2024-06-03", 0.75)):
        (tmp_path / f"weights_{day}.csv").write_text(f"asof,ticker,weight\n{day},SPY,{w}\n")
    held = previous_weights(tmp_path, dt.date(2024, 6, 2))
    assert held.weights == {"SPY": 0.5} and held.source == "weights_2024-05-31.csv"


def test_capital_far_from_the_held_books_value_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "book.csv"
    path.write_text("ticker,shares\nSPY,10\nTLT,20\n")  # worth 10 x 500 + 20 x 90 = 6,800
    held = read_holdings(path, PRICES)
    make_orders(held, {"SPY": 0.5, "GLD": 0.5}, PRICES, 10.0, capital=7_500)
    assert not [r for r in caplog.records if "--capital" in r.getMessage()]
    make_orders(held, {"SPY": 0.5, "GLD": 0.5}, PRICES, 10.0, capital=1e9)
    warned = [r.getMessage() for r in caplog.records if "--capital" in r.getMessage()]
    assert warned and "1.47e+05 times the held book's value 6,800.00" in warned[0]
