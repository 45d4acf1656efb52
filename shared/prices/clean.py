"""Validate, align and clean a wide price frame.

Rules, in order:

1. Structure: a ``date`` column of dates, strictly increasing (a duplicate or
   out-of-order date is an error naming it), at least one numeric ticker
   column. Dates given as text are parsed as ISO ``YYYY-MM-DD``.
2. Prices must be positive: a zero or negative close is an error naming the
   ticker and date (adjusted closes are never <= 0; such a value is bad data
   and silently dropping it would hide that).
3. One calendar across asset classes: ``"union"`` keeps every date on which
   any asset has a price (FX trades on US holidays, US stocks do not); a ticker
   name keeps that ticker's trading days. Dates on which no asset has a price
   are removed; no date is removed because one asset lacks it.
4. Short gaps (at most ``ffill_limit`` consecutive missing days inside an
   asset's history) are filled with the last price, which is known at the time
   so it leaks nothing. Longer gaps stay missing.
5. Assets with fewer than ``min_history`` prices are dropped, with a warning
   naming them. Choosing ``min_history`` at least the feature warm-up plus one
   window means such an asset could never have a complete window anyway, so
   dropping it uses no future information.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import polars as pl

from shared.errors import DataError

log = logging.getLogger("deepquant.prices")


@dataclass(frozen=True)
class CleanPrices:
    """A cleaned wide price frame and what cleaning removed."""

    prices: pl.DataFrame
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(c for c in self.prices.columns if c != "date")


def _parse_dates(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    if "date" not in frame.columns:
        raise DataError(f"{source}: no 'date' column (columns: {', '.join(frame.columns[:5])}...)")
    dtype = frame.schema["date"]
    if dtype == pl.Date:
        return frame
    if dtype == pl.Datetime:
        return frame.with_columns(pl.col("date").dt.date())
    if dtype != pl.String:
        raise DataError(f"{source}: 'date' column has type {dtype}, expected dates")
    parsed = frame["date"].str.to_date("%Y-%m-%d", strict=False)
    bad = frame["date"].filter(parsed.is_null())
    if len(bad):
        raise DataError(f"{source}: bad date {bad[0]!r} (expected YYYY-MM-DD)")
    return frame.with_columns(parsed.alias("date"))


def validate_prices(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Check structure and values; return the frame with Date dates and Float64 prices.

    Raises
    ------
    DataError
        Missing/unparseable dates, duplicate or unsorted dates, no tickers,
        a non-numeric column, or a non-positive price.
    """
    frame = _parse_dates(frame, source)
    if frame.height == 0:
        raise DataError(f"{source}: no rows")
    tickers = [c for c in frame.columns if c != "date"]
    if not tickers:
        raise DataError(f"{source}: no ticker columns beside 'date'")
    # The schema is read once: each `frame.schema` builds it anew, so reading it
    # per column made validation quadratic in the number of assets.
    schema = frame.schema
    for ticker in tickers:
        if not schema[ticker].is_numeric():
            raise DataError(f"{source}: column {ticker!r} is not numeric")
    dates = frame["date"]
    dup = dates.filter(dates.is_duplicated())
    if len(dup):
        raise DataError(f"{source}: duplicate date {dup[0]}")
    backwards = dates.diff().dt.total_days() < 0
    if backwards.any():
        first = dates.filter(backwards)[0]
        raise DataError(f"{source}: dates are not sorted (first out of order: {first})")
    # NaN in a file means "no price", like an empty cell.
    frame = frame.with_columns(pl.col(tickers).cast(pl.Float64).fill_nan(None))
    # One vectorised pass; only a failing column is looked at again for the message.
    bad_cols = frame.select((pl.col(tickers) <= 0).any()).row(0, named=True)
    for ticker in (t for t, bad in bad_cols.items() if bad):
        row = frame.filter(pl.col(ticker) <= 0).row(0, named=True)
        raise DataError(f"{source}: non-positive price {row[ticker]} for {ticker} on {row['date']}")
    return frame


def align_calendar(frame: pl.DataFrame, calendar: str, source: str) -> pl.DataFrame:
    """Keep the rows of the chosen calendar (see module docstring)."""
    tickers = [c for c in frame.columns if c != "date"]
    if calendar == "union":
        return frame.filter(pl.any_horizontal(pl.col(tickers).is_not_null()))
    if calendar not in tickers:
        raise DataError(f"{source}: calendar ticker {calendar!r} is not in the data")
    return frame.filter(pl.col(calendar).is_not_null())


def fill_short_gaps(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """Forward-fill runs of at most ``limit`` missing prices inside each history.

    Longer runs are left entirely missing rather than partly filled, so a
    long suspension never shows up as a stretch of flat, fake prices.
    """
    if limit == 0:
        return frame
    tickers = [c for c in frame.columns if c != "date"]
    exprs = []
    for t in tickers:
        col = pl.col(t)
        run_id = col.is_not_null().cum_sum()
        run_len = col.is_null().sum().over(run_id)
        seen = col.is_not_null().cum_max()
        fillable = col.is_null() & seen & (run_len <= limit)
        exprs.append(pl.when(fillable).then(col.forward_fill()).otherwise(col).alias(t))
    return frame.with_columns(exprs)


def drop_short_histories(
    frame: pl.DataFrame, min_history: int
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Drop assets with fewer than ``min_history`` prices; return the frame and their reasons."""
    counts = frame.select(pl.exclude("date").count()).row(0, named=True)
    dropped = {
        t: f"only {n} prices (< min_history {min_history})"
        for t, n in counts.items()
        if n < min_history
    }
    if dropped:
        log.warning(
            "dropped %d assets with too little history: %s",
            len(dropped),
            ", ".join(sorted(dropped)),
        )
    return frame.drop(list(dropped)), dropped


def restrict_dates(
    frame: pl.DataFrame, start: dt.date | None, end: dt.date | None, source: str
) -> pl.DataFrame:
    """Keep rows dated within ``[start, end]``; DataError if none are left."""
    if start is not None:
        frame = frame.filter(pl.col("date") >= start)
    if end is not None:
        frame = frame.filter(pl.col("date") <= end)
    if frame.height == 0:
        raise DataError(f"{source}: no prices between {start} and {end}")
    return frame


def clean_prices(
    frame: pl.DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    calendar: str = "union",
    ffill_limit: int = 5,
    min_history: int = 100,
    source: str = "prices",
) -> CleanPrices:
    """Validate, align and clean a raw wide price frame (see module docstring).

    Raises
    ------
    DataError
        Any structural problem, or no asset left with enough history.
    """
    frame = validate_prices(frame, source)
    frame = restrict_dates(frame, start, end, source)
    frame = align_calendar(frame, calendar, source)
    frame = fill_short_gaps(frame, ffill_limit)
    frame, dropped = drop_short_histories(frame, min_history)
    if frame.width < 2:
        raise DataError(f"{source}: no asset has at least {min_history} prices")
    return CleanPrices(frame, dropped)
