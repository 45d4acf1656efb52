"""Adjusted daily closes from Yahoo Finance (through yfinance), with a parquet cache.

:func:`fetch_prices` downloads tickers in chunks, retries failing chunks with
exponential back-off, keeps one parquet file per ticker in
``settings.cache_dir`` and only asks Yahoo for dates the cache lacks. It
returns a wide frame (``date`` then one column per ticker) and a
:class:`FetchReport` saying what came from where and what failed.

The network sits behind one small function, :func:`yahoo_download`; tests and
offline runs pass their own ``download`` callable with the same signature.

Example
-------
>>> from shared.config import DataSettings
>>> settings = DataSettings(source="yahoo", universe="configs/universe.toml")  # doctest: +SKIP
>>> prices, report = fetch_prices(["SPY", "EURUSD=X"], settings)  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from shared.atomic import atomic_open
from shared.config import DataSettings
from shared.errors import DataError

logger = logging.getLogger("deepquant.yahoo")

#: ``download(tickers, start, end)`` -> yfinance-shaped pandas frame; ``end`` is exclusive.
Download = Callable[[Sequence[str], dt.date, dt.date], pd.DataFrame | None]
Sleep = Callable[[float], object]

EMPTY = "empty"
#: Seconds one Yahoo request may take; the reachability probe makes two.
YAHOO_TIMEOUT = 10
#: Least wait after a rate-limit answer (HTTP 429), however small the back-off.
RATE_LIMIT_SECONDS = 60.0
_CACHE_FROM_KEY = "deepquant.fetched_from"
_MAX_REASON = 200
_MAX_NAMED = 10


@dataclass(frozen=True)
class FetchReport:
    """What :func:`fetch_prices` got, from where, and what failed.

    Parameters
    ----------
    requested : tuple of str
        Tickers asked for, in order, without duplicates.
    fetched : tuple of str
        Tickers with new prices downloaded in this run.
    failed : dict of str to str
        Tickers left out of the frame, with the reason (``"empty"``, an error text,
        ``"non-positive price on <date>"``).
    from_cache : tuple of str
        Tickers whose prices came from the cache alone (already up to date, nothing
        new to download, or the update failed; see ``stale``).
    stale : tuple of str
        Subset of ``from_cache`` whose update failed with an error, so their prices
        may end before the requested end date.
    """

    requested: tuple[str, ...]
    fetched: tuple[str, ...]
    failed: dict[str, str] = field(hash=False)
    from_cache: tuple[str, ...]
    stale: tuple[str, ...] = ()

    def coverage(self) -> float:
        """Fraction of requested tickers present in the price frame.

        Returns
        -------
        float
            ``(fetched + from_cache) / requested``; 1.0 when nothing was requested.
        """
        if not self.requested:
            return 1.0
        return (len(self.fetched) + len(self.from_cache)) / len(self.requested)

    def summary(self) -> str:
        """Human-readable one-paragraph report.

        Returns
        -------
        str
            Counts, coverage, and the failed and stale tickers with reasons.
        """
        have = len(self.fetched) + len(self.from_cache)
        text = (
            f"yahoo: {have}/{len(self.requested)} tickers ({_pct(self.coverage())}): "
            f"{len(self.fetched)} downloaded, {len(self.from_cache)} from cache"
        )
        if self.stale:
            text += f" ({len(self.stale)} stale after download errors: {_names(self.stale)})"
        if self.failed:
            reasons = [f"{t} ({r})" for t, r in self.failed.items()]
            text += f"; {len(self.failed)} failed: {_names(reasons)}"
        return text + "."


def yahoo_download(tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
    """Download daily adjusted OHLCV for ``tickers`` with yfinance.

    Parameters
    ----------
    tickers : sequence of str
        Yahoo tickers.
    start : datetime.date
        First date, inclusive.
    end : datetime.date
        Last date, exclusive (yfinance's convention).

    Returns
    -------
    pandas.DataFrame or None
        Columns ``(field, ticker)``; with ``auto_adjust=True`` the ``Close`` field is
        the split- and dividend-adjusted close.
    """
    # Imported here so that importing this module (and the inference CLI) stays cheap
    # and works where yfinance's network stack is unwanted.
    import yfinance

    # yfinance turns its own deprecation warnings back on when imported, and
    # calls pandas in ways pandas deprecates: neither is the user's to act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _download(yfinance, tickers, start, end)


def _download(
    yfinance: Any, tickers: Sequence[str], start: dt.date, end: dt.date
) -> pd.DataFrame | None:
    return yfinance.download(
        tickers=list(tickers),
        start=start.isoformat(),
        end=end.isoformat(),
        auto_adjust=True,
        group_by="column",
        multi_level_index=True,
        progress=False,
        threads=True,
        timeout=YAHOO_TIMEOUT,
    )


def fetch_prices(
    tickers: Sequence[str],
    settings: DataSettings,
    *,
    download: Download | None = None,
    sleep: Sleep = time.sleep,
    today: dt.date | None = None,
    probe: bool | None = None,
) -> tuple[pl.DataFrame, FetchReport]:
    """Fetch adjusted daily closes, using and refreshing the per-ticker cache.

    Parameters
    ----------
    tickers : sequence of str
        Yahoo tickers; duplicates are ignored.
    settings : DataSettings
        ``start``, ``end``, ``cache_dir``, ``chunk_size``, ``retries``,
        ``backoff_seconds`` and ``min_coverage`` are used.
    download : callable, optional
        ``download(tickers, start, end_exclusive)`` returning a yfinance-shaped
        frame; defaults to :func:`yahoo_download`.
    sleep : callable, optional
        Called with the back-off delay in seconds between retries.
    today : datetime.date, optional
        The current date (default: the system date). Prices dated today or later are
        returned but not cached, because today's bar may still change.
    probe : bool, optional
        Ask Yahoo for the benchmark's last week first (two tries) and, if that
        fails, fail every ticker still to download at once instead of retrying
        each chunk: with no route to Yahoo the run ends in seconds. Default:
        on with the real download, off with an injected one.

    Returns
    -------
    prices : polars.DataFrame
        ``date`` (Date, sorted, unique) then one Float64 column per ticker present,
        in request order; null where a ticker has no price that day.
    report : FetchReport
        What was downloaded, read from the cache, or failed.

    Raises
    ------
    DataError
        No tickers were given, or the share of tickers with prices is below
        ``settings.min_coverage``.
    """
    requested = tuple(dict.fromkeys(t.strip() for t in tickers if t.strip()))
    if not requested:
        raise DataError("yahoo: no tickers requested")
    today = today or dt.date.today()
    end = min(settings.end or today, today)
    if end < settings.start:
        raise DataError(f"yahoo: start {settings.start} is after end {end}")
    probe = download is None if probe is None else probe
    run = _Run(settings, download or yahoo_download, sleep, today, end, probe)
    series, report = run.fetch(requested)
    _check_coverage(report, settings.min_coverage)
    return _wide(series, report.requested, settings.start, end), report


# --------------------------------------------------------------------------- cache


def cache_path(cache_dir: Path, ticker: str) -> Path:
    """Parquet cache file of one ticker.

    Parameters
    ----------
    cache_dir : Path
        Cache folder.
    ticker : str
        Yahoo ticker.

    Returns
    -------
    Path
        ``<cache_dir>/<name>.parquet``, where characters outside ``[A-Za-z0-9.-]``
        become ``_XX`` (hex code), so ``EURUSD=X`` -> ``EURUSD_3DX`` and ``^VIX`` ->
        ``_5EVIX``; the mapping is one-to-one because ``_`` itself is escaped.
    """
    name = re.sub(r"[^A-Za-z0-9.-]", lambda m: f"_{ord(m.group()):02X}", ticker)
    return Path(cache_dir) / f"{name}.parquet"


@dataclass(frozen=True)
class _Cached:
    """A ticker's cache: prices, and the start of the range it was fetched for."""

    prices: pl.DataFrame
    fetched_from: dt.date

    @property
    def last(self) -> dt.date | None:
        value = self.prices["date"].max()
        return value if isinstance(value, dt.date) else None


def _read_cache(path: Path) -> _Cached | None:
    if not path.is_file():
        return None
    try:
        prices = pl.read_parquet(path).select(
            pl.col("date").cast(pl.Date), pl.col("close").cast(pl.Float64)
        )
        meta = pl.read_parquet_metadata(path)
    except Exception as err:
        # A corrupt cache only costs a fresh download; it must not stop the run.
        logger.warning("yahoo: ignoring unreadable cache %s (%s)", path, _one_line(err))
        return None
    first = prices["date"].min()
    if _CACHE_FROM_KEY in meta:
        fetched_from = dt.date.fromisoformat(meta[_CACHE_FROM_KEY])
    elif isinstance(first, dt.date):
        fetched_from = first
    else:
        return None
    return _Cached(prices.sort("date"), fetched_from)


def _write_cache(path: Path, prices: pl.DataFrame, fetched_from: dt.date) -> None:
    """Write atomically, so an interrupted run never leaves a truncated cache file."""
    with atomic_open(path, "wb") as fh:
        prices.write_parquet(fh, metadata={_CACHE_FROM_KEY: fetched_from.isoformat()})


def _merge(old: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    """Union of two ``date, close`` frames; on a shared date the new close wins."""
    if old is None or old.is_empty():
        return new
    both = pl.concat([old, new], how="vertical")
    return both.unique(subset="date", keep="last", maintain_order=True).sort("date")


# ------------------------------------------------------------------ response shape


def closes_from_response(
    frame: pd.DataFrame | None, tickers: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """Extract each ticker's closes from a yfinance ``download`` frame.

    Parameters
    ----------
    frame : pandas.DataFrame or None
        A yfinance frame: MultiIndex columns ``(field, ticker)`` (``group_by="column"``)
        or ``(ticker, field)`` (``group_by="ticker"``), or flat field columns for a
        single ticker.
    tickers : sequence of str
        The tickers that were requested; yfinance upper-cases symbols, so they are
        matched without regard to case.

    Returns
    -------
    dict of str to polars.DataFrame
        ``date, close`` per requested ticker with at least one finite close, sorted,
        one row per date. Tickers without data are absent.

    Raises
    ------
    ValueError
        The frame has no ``Close`` field.
    """
    if frame is None or frame.empty:
        return {}
    close = _close_columns(frame, tickers)
    days = _days(frame.index)
    by_upper = {str(col).upper(): col for col in close.columns}
    out: dict[str, pl.DataFrame] = {}
    for ticker in tickers:
        col = by_upper.get(ticker.upper())
        if col is None:
            continue
        values = pd.to_numeric(close[col], errors="coerce").to_numpy(dtype=np.float64)
        keep = np.isfinite(values)
        if not keep.any():
            continue
        prices = pl.DataFrame({"date": days[keep], "close": values[keep]})
        out[ticker] = prices.unique(subset="date", keep="last", maintain_order=True).sort("date")
    return out


def _close_columns(frame: pd.DataFrame, tickers: Sequence[str]) -> pd.DataFrame:
    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        for level in range(columns.nlevels):
            if "Close" in columns.get_level_values(level):
                picked = frame.xs("Close", axis=1, level=level, drop_level=True)
                return picked if isinstance(picked, pd.DataFrame) else picked.to_frame()
        raise ValueError(f"no 'Close' field in response columns {list(columns)[:6]}")
    if "Close" in columns and len(tickers) == 1:
        return frame[["Close"]].set_axis([tickers[0]], axis=1)
    raise ValueError(f"no 'Close' field in response columns {list(columns)[:6]}")


def _days(index: pd.Index) -> np.ndarray:
    """Calendar days of a datetime index, in the exchange's own time zone."""
    stamps = pd.DatetimeIndex(index)
    if stamps.tz is not None:
        # Keep local wall time: converting to UTC would move Asian sessions to the day before.
        stamps = stamps.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]")


def _validate(prices: pl.DataFrame) -> str | None:
    """Reason to reject a ticker's new prices, or ``None`` when they are usable."""
    bad = prices.filter(pl.col("close") <= 0)
    if bad.height:
        return f"non-positive price on {bad['date'][0]}"
    return None


# ----------------------------------------------------------------------- the run


@dataclass
class _Run:
    """State of one :func:`fetch_prices` call."""

    settings: DataSettings
    download: Download
    sleep: Sleep
    today: dt.date
    end: dt.date
    probe: bool = False
    series: dict[str, pl.DataFrame] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    from_cache: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def fetch(self, requested: tuple[str, ...]) -> tuple[dict[str, pl.DataFrame], FetchReport]:
        """Serve, download and cache every ticker; return the series and the report."""
        caches = {t: _read_cache(cache_path(self.settings.cache_dir, t)) for t in requested}
        todo: list[str] = []
        for ticker in requested:
            if self._fetch_start(caches[ticker]) is None:
                self._use_cache(ticker, caches[ticker])
            else:
                todo.append(ticker)
        unreachable = self._unreachable() if todo and self.probe else None
        if unreachable:
            logger.warning("yahoo: %s; no ticker is downloaded this run", unreachable)
            for ticker in todo:
                self._fail_or_stale(ticker, caches[ticker], unreachable)
            todo = []
        size = self.settings.chunk_size
        for i in range(0, len(todo), size):
            self._fetch_chunk(todo[i : i + size], caches)
        self._drop_empty_windows(requested)
        order = {t: i for i, t in enumerate(requested)}
        report = FetchReport(
            requested=requested,
            fetched=tuple(sorted(self.fetched, key=order.__getitem__)),
            failed={t: self.failed[t] for t in requested if t in self.failed},
            from_cache=tuple(sorted(self.from_cache, key=order.__getitem__)),
            stale=tuple(sorted(self.stale, key=order.__getitem__)),
        )
        return self.series, report

    def _unreachable(self) -> str | None:
        """Why Yahoo cannot be reached (two quick tries for the benchmark), or None."""
        ticker = self.settings.benchmark
        start = self.end - dt.timedelta(days=7)
        reason = ""
        for attempt in range(2):
            try:
                frame = self.download([ticker], start, self.end + dt.timedelta(days=1))
                if closes_from_response(frame, [ticker]):
                    return None
                reason = f"no prices for {ticker} in the last week"
            except Exception as err:
                reason = _one_line(err)
            if attempt == 0:
                self.sleep(self.settings.backoff_seconds)
        return f"Yahoo unreachable (probe for {ticker}: {reason})"

    def _fetch_start(self, cached: _Cached | None) -> dt.date | None:
        """First date to download, or ``None`` when the cache already reaches the end."""
        start = self.settings.start
        if cached is None or cached.fetched_from > start or cached.last is None:
            return start
        if cached.last >= self.end:
            return None
        # From the day after the cache, even if that precedes ``start``: a cache with a
        # hole in it would later be served as if complete.
        return cached.last + dt.timedelta(days=1)

    def _fetch_chunk(self, chunk: list[str], caches: dict[str, _Cached | None]) -> None:
        start = min(d for t in chunk if (d := self._fetch_start(caches[t])) is not None)
        try:
            got = self._download_with_retries(chunk, start)
        except _ChunkFailed as err:
            for ticker in chunk:
                self._fail_or_stale(ticker, caches[ticker], err.reason)
            return
        missing = [t for t in chunk if t not in got and caches[t] is None]
        if missing and len(chunk) > 1:
            got.update(self._retry_individually(missing, start))
        for ticker in chunk:
            self._settle(ticker, got.get(ticker), caches[ticker], start)

    def _download_with_retries(self, chunk: list[str], start: dt.date) -> dict[str, pl.DataFrame]:
        retries = self.settings.retries
        for attempt in range(retries + 1):
            try:
                frame = self.download(chunk, start, self.end + dt.timedelta(days=1))
                return closes_from_response(frame, chunk)
            except Exception as err:
                reason = _one_line(err)
                if attempt == retries:
                    raise _ChunkFailed(reason) from err
                delay = _backoff(self.settings, attempt, err)
                logger.info(
                    "yahoo: chunk of %d from %s failed (%s); retry %d/%d in %.1f s",
                    len(chunk),
                    chunk[0],
                    reason,
                    attempt + 1,
                    retries,
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_individually(self, tickers: list[str], start: dt.date) -> dict[str, pl.DataFrame]:
        """One more try per ticker: yfinance hides per-ticker errors (rate limits) as NaN."""
        self.sleep(self.settings.backoff_seconds)
        got: dict[str, pl.DataFrame] = {}
        for ticker in tickers:
            try:
                frame = self.download([ticker], start, self.end + dt.timedelta(days=1))
                got.update(closes_from_response(frame, [ticker]))
            except Exception as err:
                self.failed[ticker] = _one_line(err)
        return got

    def _settle(
        self, ticker: str, new: pl.DataFrame | None, cached: _Cached | None, start: dt.date
    ) -> None:
        """Record one downloaded ticker: validate, merge with its cache, write, report."""
        if ticker in self.failed:
            return
        if new is not None:
            new = new.filter((pl.col("date") >= start) & (pl.col("date") <= self.end))
        if new is None or new.is_empty():
            if cached is None:
                self.failed[ticker] = EMPTY
            else:
                self._use_cache(ticker, cached)
            return
        reason = _validate(new)
        if reason is not None:
            self.failed[ticker] = reason
            return
        merged = _merge(cached.prices if cached else None, new)
        fetched_from = min(cached.fetched_from, start) if cached else start
        final = merged.filter(pl.col("date") < self.today)
        if not final.is_empty():
            _write_cache(cache_path(self.settings.cache_dir, ticker), final, fetched_from)
        self.series[ticker] = merged
        self.fetched.append(ticker)

    def _use_cache(self, ticker: str, cached: _Cached | None) -> None:
        if cached is None:  # pragma: no cover - callers check
            self.failed[ticker] = EMPTY
            return
        self.series[ticker] = cached.prices
        self.from_cache.append(ticker)

    def _fail_or_stale(self, ticker: str, cached: _Cached | None, reason: str) -> None:
        """A download error: fall back to the cache when there is one, else fail."""
        if cached is None or cached.fetched_from > self.settings.start:
            self.failed[ticker] = reason
            return
        logger.warning(
            "yahoo: %s not updated (%s); using cache up to %s", ticker, reason, cached.last
        )
        self._use_cache(ticker, cached)
        self.stale.append(ticker)

    def _drop_empty_windows(self, requested: tuple[str, ...]) -> None:
        """A ticker with no price inside [start, end] is reported as empty."""
        start, end = self.settings.start, self.end
        for ticker in requested:
            prices = self.series.get(ticker)
            if prices is None:
                continue
            window = prices.filter((pl.col("date") >= start) & (pl.col("date") <= end))
            if window.is_empty():
                del self.series[ticker]
                self.failed[ticker] = EMPTY
                for group in (self.fetched, self.from_cache, self.stale):
                    if ticker in group:
                        group.remove(ticker)
            else:
                self.series[ticker] = window


def _backoff(settings: DataSettings, attempt: int, err: BaseException) -> float:
    """Exponential back-off with jitter; at least a minute after a rate-limit answer."""
    delay = settings.backoff_seconds * 2**attempt
    delay *= 1.0 + settings.backoff_jitter * random.random()
    text = f"{type(err).__name__} {err}"
    if "RateLimit" in text or "Too Many Requests" in text or " 429" in text:
        delay = max(delay, RATE_LIMIT_SECONDS)
    return delay


class _ChunkFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------------ output


def _wide(
    series: dict[str, pl.DataFrame], requested: Sequence[str], start: dt.date, end: dt.date
) -> pl.DataFrame:
    """One ``date`` column, then a Float64 close column per ticker, in request order."""
    present = [t for t in requested if t in series]
    if not present:
        return pl.DataFrame(schema={"date": pl.Date})
    long = pl.concat(
        [series[t].with_columns(pl.lit(t).alias("ticker")) for t in present], how="vertical"
    ).filter((pl.col("date") >= start) & (pl.col("date") <= end))
    wide = long.pivot(on="ticker", index="date", values="close", on_columns=present)
    return wide.select(
        pl.col("date").cast(pl.Date), *(pl.col(t).cast(pl.Float64) for t in present)
    ).sort("date")


def _check_coverage(report: FetchReport, min_coverage: float) -> None:
    """Raise when too few tickers came back; otherwise warn about the ones that did not."""
    if report.coverage() < min_coverage:
        have = len(report.fetched) + len(report.from_cache)
        causes = set(report.failed.values())
        # One cause for every failure (no route to Yahoo, say) is worth naming.
        why = f" ({next(iter(causes))})" if len(causes) == 1 and EMPTY not in causes else ""
        raise DataError(
            f"yahoo: only {have}/{len(report.requested)} tickers fetched "
            f"({_pct(report.coverage())}) < min_coverage {_pct(min_coverage)}; "
            f"failed: {_names(list(report.failed))}{why}"
        )
    if report.failed:
        reasons = [f"{t} ({r})" for t, r in report.failed.items()]
        logger.warning("yahoo: %d ticker(s) failed: %s", len(report.failed), _names(reasons))


def _pct(fraction: float) -> str:
    """``0.74`` -> ``"74%"``, ``0.897`` -> ``"89.7%"``: one decimal only when it matters."""
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMED])
    more = len(items) - _MAX_NAMED
    return f"{shown}, ... (+{more} more)" if more > 0 else shown


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    reason = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return reason[:_MAX_REASON]
