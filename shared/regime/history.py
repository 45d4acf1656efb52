"""The benchmark's daily closes a regime model learns from and reads: decades of them.

A regime model needs crises to learn what one looks like: fitted on the two
years the shared panel has before 2017 it read 65% of 2017-2022 as stressed.
So ``[regime] history`` names a file of the benchmark's closes since long
ago (``../shared/data/benchmark_1993_2026.csv.gz`` holds SPY's since 1993);
without one, the price panel's benchmark column serves, and a fit whose
span it does not cover stops with the dates it needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from shared.config import Settings
from shared.dates import years_before
from shared.errors import DataError
from shared.prices import PriceData

__all__ = [
    "History",
    "history_of_file",
    "history_of_prices",
    "history_of_yahoo",
    "load_history",
    "regime_history",
]


@dataclass(frozen=True)
class History:
    """Daily closes of the benchmark, oldest first; ``source`` names where they came from."""

    dates: npt.NDArray[np.datetime64]
    closes: npt.NDArray[np.float64]
    source: str

    def upto(self, day: dt.date) -> int:
        """Index of the last close on or before ``day`` (-1: none)."""
        return int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right")) - 1


def _history(frame: pl.DataFrame, column: str, source: str) -> History:
    frame = frame.select("date", column).drop_nulls().sort("date")
    closes = frame[column].cast(pl.Float64).to_numpy()
    dates = frame["date"].cast(pl.Date).to_numpy().astype("datetime64[D]")
    bad = ~np.isfinite(closes) | (closes <= 0)
    if bad.any():
        day = dates[int(np.argmax(bad))]
        raise DataError(f"{source}: close of {column} on {day} is not a positive number")
    if dates.size and (np.diff(dates) <= np.timedelta64(0, "D")).any():
        raise DataError(f"{source}: a date appears twice")
    return History(dates, closes, source)


def history_of_prices(prices: pl.DataFrame, benchmark: str) -> History:
    """The benchmark's closes in the price panel."""
    if benchmark not in prices.columns:
        raise DataError(f"benchmark {benchmark!r} is not in the price data")
    return _history(prices, benchmark, "the price panel")


def history_of_file(path: Path, benchmark: str) -> History:
    """The benchmark's closes in a CSV (or CSV.gz) with ``date`` and a ``benchmark`` column."""
    if not path.is_file():
        raise DataError(f"{path}: [regime] history file not found")
    try:
        frame = pl.read_csv(path, try_parse_dates=True)
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from None
    missing = {"date", benchmark} - set(frame.columns)
    if missing:
        raise DataError(
            f"{path}: no column {', '.join(sorted(missing))} (it needs date, {benchmark})"
        )
    if frame.schema["date"] != pl.Date:
        raise DataError(f"{path}: column date is not in YYYY-MM-DD form")
    return _history(frame, benchmark, str(path))


def regime_history(settings: Settings, prices: pl.DataFrame) -> History:
    """The closes the regime layer reads: ``[regime] history``'s file, else the panel's."""
    benchmark = settings.data.benchmark
    if settings.regime.history is not None:
        return history_of_file(settings.regime.history, benchmark)
    return history_of_prices(prices, benchmark)


def history_of_yahoo(settings: Settings, first: dt.date) -> History:
    """The benchmark's closes from ``first`` on, from Yahoo through the price cache."""
    from shared.prices.yahoo import fetch_prices  # yfinance is slow to import

    benchmark = settings.data.benchmark
    data = settings.data.model_copy(update={"start": first, "min_coverage": 1.0})
    frame, _ = fetch_prices([benchmark], data)
    return _history(frame, benchmark, f"Yahoo's {benchmark} from {first}")


def load_history(settings: Settings, data: PriceData) -> History | None:
    """What the regime layer reads for a run on ``data`` (None with the layer off).

    ``[regime] history``'s file when named; else, for prices fetched from
    Yahoo, the benchmark's closes fetched from ``train_years`` (plus one) before
    the prices begin, so a refit on the first day has its span; else the panel's.
    """
    if not settings.regime.enabled:
        return None
    if settings.regime.history is None and data.source == "yahoo":
        first = years_before(data.prices["date"][0], settings.regime.train_years + 1)
        return history_of_yahoo(settings, first)
    return regime_history(settings, data.prices)
