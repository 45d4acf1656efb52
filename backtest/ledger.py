"""The trial ledger: every variant ever run on a period, for the deflated Sharpe ratio.

A deflated Sharpe ratio (:mod:`backtest.statistics`) is only honest if it
counts every variant tried, including the ones that did not make the README.
The ledger is a CSV kept in the repository (``configs/experiments/ledger.csv``)
with one row per trial: the backtest period, the variant, its model seed and
cost, and the strategy's annual Sharpe ratio over the risk-free rate.
``deepquant sweep --ledger`` records every job it runs; ``[backtest] ledger``
makes a backtest deflate by the trials recorded for its period.

Rerunning a trial (same period, variant, seed and cost) replaces its row: it
is the same trial, not a new one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from shared.atomic import atomic_write_text
from shared.errors import DataError

__all__ = ["COLUMNS", "record", "trial_sharpes"]

COLUMNS = ("start", "end", "variant", "seed", "cost_bps", "n_days", "sharpe")
_KEY = ("start", "end", "variant", "seed", "cost_bps")
_SCHEMA = {
    "start": pl.Date, "end": pl.Date, "variant": pl.String, "seed": pl.Int64,
    "cost_bps": pl.Float64, "n_days": pl.Int64, "sharpe": pl.Float64,
}  # fmt: skip


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        return pl.DataFrame(schema=_SCHEMA)
    try:
        frame = pl.read_csv(path, schema=_SCHEMA)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataError(f"ledger {path}: not a trial ledger ({str(err).splitlines()[0]})") from None
    return frame


def trial_sharpes(path: str | Path, start: dt.date, end: dt.date) -> list[float]:
    """The annual Sharpe ratios of every trial recorded for ``[start, end]``."""
    frame = _read(Path(path))
    rows = frame.filter((pl.col("start") == start) & (pl.col("end") == end))
    return rows["sharpe"].drop_nulls().to_list()


def record(path: str | Path, trials: pl.DataFrame) -> pl.DataFrame:
    """Add ``trials`` (the :data:`COLUMNS`) to the ledger at ``path``; return the ledger."""
    path = Path(path)
    new = trials.select(COLUMNS).cast(_SCHEMA)  # type: ignore[arg-type]
    old = _read(path)
    kept = old.join(new.select(_KEY), on=list(_KEY), how="anti", nulls_equal=True)
    ledger = pl.concat([kept, new]).sort(["start", "end", "variant", "seed", "cost_bps"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, ledger.write_csv())
    return ledger
