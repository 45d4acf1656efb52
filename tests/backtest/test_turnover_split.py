"""backtest.turnover_split: the parts by hand, label-free moves, and parts that add up on a run."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from click.testing import Result

from backtest.turnover_split import PARTS, moved_names, split_switch, split_trade
from shared.turnover import one_way_turnover


def test_a_renumbered_clustering_moves_no_one() -> None:
    before = {"A": 0, "B": 0, "C": 1, "D": 1}
    assert moved_names(before, {"A": 5, "B": 5, "C": 2, "D": 2}) == set()


def test_a_split_moves_the_names_that_lose_most_of_their_co_members() -> None:
    before = {"A": 0, "B": 0, "C": 0, "D": 0, "E": 1}
    after = {"A": 0, "B": 0, "C": 1, "D": 2, "E": 1}
    # A and B keep one of three co-members: 1/3 < 1/2. C joins E, which was alone, and D is.
    assert moved_names(before, after) == {"A", "B", "C", "D", "E"}
    merge = {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0}
    assert moved_names(before, merge) == {"E"}  # A..D keep 3 of 4; E had none, now 4


def test_the_parts_of_a_trade_by_hand() -> None:
    tickers = ["A", "B", "C", "D"]
    last = np.array([0.5, 0.5, 0.0, 0.0])  # what the last trade left
    held = np.array([0.6, 0.4, 0.0, 0.0])  # drifted since
    book = np.array([0.45, 0.0, 0.3, 0.2])  # A kept, B sold, C and D bought
    parts = split_trade(held, last, book, tickers, moved={"C"})
    # A: trade -0.15, of which -0.1 goes back to 0.5 (drift) and -0.05 is a new weight.
    assert parts["drift"] == pytest.approx(0.05)
    assert parts["weights"] == pytest.approx(0.025)
    assert parts["cluster"] == pytest.approx(0.15)  # C, whose cluster changed
    assert parts["picks"] == pytest.approx(0.30)  # B sold 0.4 and D bought 0.2, halved
    assert parts["cash"] == pytest.approx(0.025)  # 0.05 of the book left in cash
    assert sum(parts.values()) == pytest.approx(one_way_turnover(book - held))
    switch = split_switch(held, np.array([0.0, 0.0, 0.0, 1.0]))
    assert switch["regime"] == pytest.approx(1.0) and sum(switch.values()) == switch["regime"]


def test_the_parts_add_up_to_each_rebalances_turnover(backtest_run: Result) -> None:
    frame = pl.read_csv(backtest_run.out / "rebalances.csv")  # type: ignore[attr-defined]
    parts = frame.select([f"turnover_{p}" for p in PARTS]).to_numpy().sum(axis=1)
    np.testing.assert_allclose(parts, frame["turnover"].to_numpy(), atol=1e-12)
    assert frame["ari"][0] is None and frame["ari"][1:].is_between(-1, 1).all()
