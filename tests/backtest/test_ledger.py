"""backtest.ledger: trials recorded per period, a rerun replacing its row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from backtest.ledger import COLUMNS, record, trial_sharpes
from shared.errors import DataError

DEV = (dt.date(2017, 1, 1), dt.date(2022, 12, 31))
HELD_OUT = (dt.date(2023, 1, 1), dt.date(2026, 7, 31))


def _trials(period: tuple[dt.date, dt.date], sharpes: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"start": period[0], "end": period[1], "variant": v, "seed": 0, "cost_bps": 10.0,
             "n_days": 1500, "sharpe": s}
            for v, s in sharpes.items()
        ]
    )  # fmt: skip


def test_trials_are_counted_per_period_and_a_rerun_replaces_its_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    assert trial_sharpes(path, *DEV) == []  # no ledger yet: no trial
    record(path, _trials(DEV, {"a": 0.4, "b": 0.6}))
    record(path, _trials(HELD_OUT, {"a": 0.1}))
    assert sorted(trial_sharpes(path, *DEV)) == [0.4, 0.6]
    ledger = record(path, _trials(DEV, {"b": 0.7, "c": 0.2}))  # b again: the same trial
    assert sorted(trial_sharpes(path, *DEV)) == [0.2, 0.4, 0.7]
    assert trial_sharpes(path, *HELD_OUT) == [0.1]
    assert tuple(ledger.columns) == COLUMNS and ledger.height == 4


def test_a_broken_ledger_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("start,end\nnot a date,2020-01-01\n")
    with pytest.raises(DataError, match=r"ledger .*ledger\.csv: not a trial ledger"):
        trial_sharpes(path, *DEV)
