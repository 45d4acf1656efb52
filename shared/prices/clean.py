"""Validate, align and clean a wide price frame.

Rules, in order:

1. Structure: a ``date`` column of dates, strictly increasing (a duplicate or
   out-of-order date is an error naming it), at least one numeric ticker
   column. Dates given as text are parsed as ISO ``YYYY-MM-DD``.
2. Prices must be positive and finite: a zero, negative or infinite close is
   an error naming the ticker and date (adjusted closes are never <= 0; such
   a value is bad data and silently dropping it would hide that). A column
   name that repeats another, is empty, or is another spelling of ``date`` is
   an error too.
3. One calendar across asset classes: ``"benchmark"`` (the default) keeps the
   benchmark's trading days (FX trades on US holidays, a US benchmark does
   not; a move across such a day counts on the next); ``"union"`` keeps every
   date on which any asset has a price; a ticker name keeps that ticker's
   trading days. Dates on which no asset has a price
   are removed; no date is removed because one asset lacks it.
4. Gaps: the first ``ffill_limit`` missing days after an asset's last price
   are filled with that price, which is known at the time; later days of a
   longer gap stay missing. The rule reads the past only: whether day D is
   filled depends on the days up to D, never on when prices resume, so the
   cleaned panel up to D is the one a job run on D would have seen.
5. Assets with fewer than ``min_history`` prices are dropped, with a warning
   naming them. Choosing ``min_history`` at least the feature warm-up plus one
   window means such an asset could never have a complete window anyway, so
   dropping it uses no future information.
6. Suspect prices: a one-day move beyond ``max_jump`` taken back the next day
   (a bad tick), or a price unchanged for more than ``max_stale_days`` days (a
   stale series), is reported by ticker and date; with ``suspect_prices =
   "drop"`` the asset leaves the run. In a backtest that is a choice of
   universe made with the whole panel in view.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from shared.config import DataSettings
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


@dataclass(frozen=True)
class _Panel:
    """Prices as one ``(dates, tickers)`` float64 matrix, NaN for no price.

    Cleaning works on this matrix with whole-panel numpy operations, so each
    step touches every price once whatever the number of columns; polars
    evaluates one expression per column, which made cleaning grow with the
    number of expressions as much as with the data.
    """

    dates: pl.Series
    tickers: list[str]
    values: np.ndarray

    def rows(self, keep: np.ndarray) -> _Panel:
        if keep.all():
            return self  # the common case; a copy of the whole matrix for nothing
        return _Panel(self.dates.filter(pl.Series(keep)), self.tickers, self.values[keep])

    def frame(self) -> pl.DataFrame:
        body = pl.DataFrame(self.values, schema=self.tickers, orient="row", nan_to_null=True)
        return body.insert_column(0, self.dates)

    @classmethod
    def of(cls, frame: pl.DataFrame) -> _Panel:
        tickers = [c for c in frame.columns if c != "date"]
        values = frame.select(tickers).to_numpy().astype(np.float64, copy=False)
        return cls(frame["date"], tickers, values)


def _check_values(panel: _Panel, source: str) -> None:
    # NaN compares false, so missing prices never count as non-positive; an
    # infinite price is as impossible as a negative one.
    with np.errstate(invalid="ignore"):
        bad = (panel.values <= 0) | np.isinf(panel.values)
    columns = np.flatnonzero(bad.any(axis=0))
    if columns.size:
        col = int(columns[0])
        row = int(np.argmax(bad[:, col]))
        value = float(panel.values[row, col])
        kind = "non-finite" if np.isinf(value) else "non-positive"
        raise DataError(
            f"{source}: {kind} price {value} for {panel.tickers[col]} on {panel.dates[row]}"
        )


#: How polars names the second column of a header that repeats a name.
_DUPLICATE = re.compile(r"^(?P<name>.*)_duplicated_\d+$")


def _check_names(tickers: list[str], source: str) -> None:
    for ticker in tickers:
        repeated = _DUPLICATE.match(ticker)
        if repeated:
            raise DataError(f"{source}: column {repeated['name']!r} appears more than once")
        if not ticker.strip():
            raise DataError(f"{source}: a column has an empty name")
        if ticker.strip().lower() == "date":
            raise DataError(f"{source}: column {ticker!r} is reserved for the dates")


def _validated(frame: pl.DataFrame, source: str) -> _Panel:
    frame = _parse_dates(frame, source)
    if frame.height == 0:
        raise DataError(f"{source}: no rows")
    tickers = [c for c in frame.columns if c != "date"]
    if not tickers:
        raise DataError(f"{source}: no ticker columns beside 'date'")
    _check_names(tickers, source)
    # The schema is read once: each `frame.schema` builds it anew.
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
    # NaN in a file means "no price", like an empty cell: both are NaN here.
    panel = _Panel.of(frame)
    _check_values(panel, source)
    return panel


def validate_prices(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Check structure and values; return the frame with Date dates and Float64 prices.

    Raises
    ------
    DataError
        Missing/unparseable dates, duplicate or unsorted dates, no tickers,
        a non-numeric column, or a non-positive price.
    """
    return _validated(frame, source).frame()


def _calendar_rows(
    panel: _Panel, calendar: str, source: str, benchmark: str | None = None
) -> np.ndarray:
    if calendar == "benchmark":
        if benchmark in panel.tickers:
            calendar = benchmark
        else:
            # Inference needs no benchmark; a backtest stops on its own one-line
            # error about the missing benchmark.
            log.warning(
                "%s: benchmark %s not in the data; calendar is every date any asset traded",
                source,
                benchmark,
            )
            calendar = "union"
    if calendar == "union":
        return ~np.isnan(panel.values).all(axis=1)
    if calendar not in panel.tickers:
        raise DataError(f"{source}: calendar ticker {calendar!r} is not in the data")
    own = ~np.isnan(panel.values[:, panel.tickers.index(calendar)])
    return own | _calendar_gaps(panel, own, calendar, source)


#: A calendar ticker's run of missing days longer than this, while most assets
#: traded, is a gap in its data, not holidays: those days stay in the calendar.
CALENDAR_GAP = 5


def _calendar_gaps(panel: _Panel, own: np.ndarray, ticker: str, source: str) -> np.ndarray:
    """Days inside ``ticker``'s history it has no price for while most assets traded,
    in runs longer than :data:`CALENDAR_GAP` days: kept, with a warning naming them."""
    busy = (~np.isnan(panel.values)).mean(axis=1) >= 0.5
    listed = np.logical_or.accumulate(own) & np.logical_or.accumulate(own[::-1])[::-1]
    missing = ~own & busy & listed
    keep = np.zeros_like(own)
    edges = np.flatnonzero(np.diff(np.r_[0, missing.astype(np.int8), 0]))
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - first > CALENDAR_GAP:
            keep[first:stop] = True
            log.warning(
                "%s: %s has no price %s .. %s (%d days other assets traded): a gap in its "
                "data, not holidays; those days stay in the calendar",
                source, ticker, panel.dates[int(first)], panel.dates[int(stop) - 1], stop - first,
            )  # fmt: skip
    return keep


def align_calendar(frame: pl.DataFrame, calendar: str, source: str) -> pl.DataFrame:
    """Keep the rows of the chosen calendar (see module docstring)."""
    panel = _Panel.of(frame)
    return panel.rows(_calendar_rows(panel, calendar, source)).frame()


def _fill_gaps(values: np.ndarray, limit: int) -> np.ndarray:
    if limit == 0:
        return values
    missing = np.isnan(values)
    listed = np.logical_or.accumulate(~missing, axis=0)
    # Only columns with a gap after their first price can change; usually few.
    cols = np.flatnonzero((missing & listed).any(axis=0))
    if cols.size == 0:
        return values
    sub = values[:, cols]
    present = ~missing[:, cols]
    index = np.arange(values.shape[0], dtype=np.int32)[:, None]
    last = np.maximum.accumulate(np.where(present, index, -1), axis=0)
    # Days since the last price: known on the day, unlike the gap's full length.
    fill = ~present & (last >= 0) & (index - last <= limit)
    rows, at = np.nonzero(fill)
    sub[rows, at] = sub[last[rows, at], at]
    out = values.copy()
    out[:, cols] = sub
    return out


def fill_short_gaps(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """Forward-fill the first ``limit`` missing prices after each last price.

    The rule looks back only (see the module docstring, rule 4): a long
    suspension shows at most ``limit`` flat days, then goes missing.
    """
    panel = _Panel.of(frame)
    return _Panel(panel.dates, panel.tickers, _fill_gaps(panel.values, limit)).frame()


def _short_histories(panel: _Panel, min_history: int) -> dict[str, str]:
    counts = np.count_nonzero(~np.isnan(panel.values), axis=0)
    dropped = {
        t: f"only {n} prices (< min_history {min_history})"
        for t, n in zip(panel.tickers, counts.tolist(), strict=True)
        if n < min_history
    }
    if dropped:
        log.warning(
            "dropped %d assets with too little history: %s",
            len(dropped),
            ", ".join(sorted(dropped)),
        )
    return dropped


def _bad_ticks(values: np.ndarray, max_jump: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of one-day moves beyond ``max_jump`` that the next day takes back.

    A move from ``p[t-1]`` to ``p[t]`` of more than ``log(1 + max_jump)`` in
    log terms, followed by one the other way that ends within half of it of
    ``p[t-1]``: a price x1,000 for a day, not a crash that stays.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.diff(np.log(values), axis=0)
    up, down = step[:-1], step[1:]
    big = np.abs(up) > np.log1p(max_jump)
    back = (np.sign(down) == -np.sign(up)) & (np.abs(up + down) < np.abs(up) / 2)
    rows, cols = np.nonzero(big & back)
    return rows + 1, cols


def _longest_flat_run(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the most consecutive days the price did not change, and the row it ends on."""
    same = np.zeros(values.shape, dtype=np.int32)
    same[1:] = values[1:] == values[:-1]
    # Length of the run of equal prices ending at each day, by cumulative sums
    # reset wherever the price changes.
    total = np.cumsum(same, axis=0, dtype=np.int32)
    reset = np.maximum.accumulate(np.where(same == 0, total, 0), axis=0)
    run = total - reset
    if run.shape[0] == 0:
        return np.zeros(run.shape[1], dtype=np.int32), np.zeros(run.shape[1], dtype=np.int64)
    return run.max(axis=0), run.argmax(axis=0)


def _suspects(panel: _Panel, max_jump: float, max_stale_days: int) -> dict[str, str]:
    """Assets whose prices look wrong, with the reason naming the first date."""
    found: dict[str, str] = {}
    if max_jump > 0:
        for row, col in zip(*_bad_ticks(panel.values, max_jump), strict=True):
            ticker = panel.tickers[col]
            if ticker not in found:
                ratio = panel.values[row, col] / panel.values[row - 1, col]
                found[ticker] = (
                    f"bad tick: x{ratio:.3g} on {panel.dates[int(row)]}, taken back the next day"
                )
    if max_stale_days > 0:
        flat, last = _longest_flat_run(panel.values)
        for col in np.flatnonzero(flat > max_stale_days):
            end = int(last[col])
            since, until = panel.dates[end - int(flat[col])], panel.dates[end]
            found.setdefault(
                panel.tickers[col],
                f"stale: price unchanged for {flat[col]} days, {since} to {until} "
                "(> max_stale_days)",
            )
    return found


def _restricted_rows(
    panel: _Panel, start: dt.date | None, end: dt.date | None, source: str
) -> np.ndarray:
    keep = np.ones(len(panel.dates), dtype=bool)
    if start is not None:
        keep &= (panel.dates >= start).to_numpy()
    if end is not None:
        keep &= (panel.dates <= end).to_numpy()
    if not keep.any():
        raise DataError(f"{source}: no prices between {start} and {end}")
    return keep


def clean_prices(
    frame: pl.DataFrame, settings: DataSettings, *, source: str = "prices"
) -> CleanPrices:
    """Validate, align and clean a raw wide price frame (see module docstring).

    ``settings`` gives the period (``start``, ``end``), the ``calendar`` and
    ``benchmark``, ``ffill_limit``, ``min_history``, the suspect-price checks
    (``max_jump``, ``max_stale_days``) and what to do with a suspect
    (``suspect_prices``); ``source`` names the data in messages.

    Raises
    ------
    DataError
        Any structural problem, or no asset left with enough history.
    """
    s = settings
    panel = _validated(frame, source)
    panel = panel.rows(_restricted_rows(panel, s.start, s.end, source))
    panel = panel.rows(_calendar_rows(panel, s.calendar, source, s.benchmark))
    panel = _Panel(panel.dates, panel.tickers, _fill_gaps(panel.values, s.ffill_limit))
    dropped = _short_histories(panel, s.min_history)
    suspects = _suspects(panel, s.max_jump, s.max_stale_days)
    if suspects:
        action = "dropped" if s.suspect_prices == "drop" else "kept"
        log.warning(
            "%s %d asset(s) with suspect prices: %s",
            action,
            len(suspects),
            "; ".join(f"{t} ({r})" for t, r in suspects.items()),
        )
        if s.suspect_prices == "drop":
            dropped.update({t: r for t, r in suspects.items() if t not in dropped})
    if len(dropped) == len(panel.tickers):
        raise DataError(f"{source}: no asset has at least {s.min_history} prices")
    keep = np.array([t not in dropped for t in panel.tickers], dtype=bool)
    kept = _Panel(
        panel.dates, [t for t in panel.tickers if t not in dropped], panel.values[:, keep]
    )
    return CleanPrices(kept.frame(), dropped)
