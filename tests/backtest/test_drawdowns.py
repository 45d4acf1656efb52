"""Worst drawdowns against a hand-made series."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from backtest.drawdowns import worst_drawdowns
from shared.metrics import max_drawdown

DAYS = [dt.date(2021, 1, d) for d in range(4, 16) if dt.date(2021, 1, d).weekday() < 5]
START = dt.date(2021, 1, 1)


def test_hand_made_series() -> None:
    # Wealth: 1 | 0.9 0.99 1.0 | 1.1 0.88 0.968 1.1 | 1.21 1.089
    r = [-0.1, 0.1, 1 / 0.99 - 1, 0.1, -0.2, 0.1, 1.1 / 0.968 - 1, 0.1, -0.1]
    table = worst_drawdowns(DAYS[: len(r)], r, START)
    rows = table.rows(named=True)
    assert [row["depth"] for row in rows] == pytest.approx([-0.2, -0.1, -0.1])
    deepest = rows[0]
    assert (deepest["start"], deepest["trough"], deepest["recovery"]) == (DAYS[3], DAYS[4], DAYS[6])
    assert deepest["length"] == 3  # peak to recovery, in trading days
    # The first loss starts from the wealth before the first return.
    first = next(row for row in rows if row["start"] == START)
    assert (first["trough"], first["recovery"], first["length"]) == (DAYS[0], DAYS[2], 3)
    # Still under water at the end: no recovery, length to the last day.
    last = next(row for row in rows if row["recovery"] is None)
    assert (last["start"], last["trough"], last["length"]) == (DAYS[7], DAYS[8], 1)


def test_deepest_equals_max_drawdown_and_n_caps() -> None:
    r = np.random.default_rng(4).normal(0.0003, 0.012, 500)
    days = [START + dt.timedelta(days=k + 1) for k in range(500)]
    table = worst_drawdowns(days, r, START, n=5)
    assert table.height == 5
    assert table["depth"][0] == pytest.approx(max_drawdown(r), rel=1e-12)
    assert table["depth"].is_sorted()
    assert worst_drawdowns(days[:3], [0.01, 0.02, 0.0], START).height == 0
