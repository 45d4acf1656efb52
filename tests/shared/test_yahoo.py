"""Yahoo price source, fully offline against responses in yfinance 1.7's shape."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from shared.config import DataSettings
from shared.errors import DataError
from shared.prices import yahoo
from shared.prices.yahoo import FetchReport, cache_path, closes_from_response, fetch_prices
from tests.paths import FIXTURES as FIXTURE_DIR

FIXTURES = FIXTURE_DIR / "yahoo"
TODAY = dt.date(2024, 6, 3)
D = dt.date


def _recorded() -> pd.DataFrame:
    """The recorded multi-ticker response: columns (Price, Ticker), index Date."""
    return pd.read_csv(FIXTURES / "jan2024_multi.csv", header=[0, 1], index_col=0, parse_dates=True)


class FakeYahoo:
    """Stands in for ``yfinance.download``, answering from the recorded response.

    ``failures`` maps a ticker to how many more calls that include it raise.
    """

    def __init__(self, recorded: pd.DataFrame | None = None, **failures: int) -> None:
        self.recorded = _recorded() if recorded is None else recorded
        self.failures = dict(failures)
        self.calls: list[tuple[tuple[str, ...], dt.date, dt.date]] = []

    def __call__(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        self.calls.append((tuple(tickers), start, end))
        hit = [t for t in tickers if self.failures.get(t, 0) > 0]
        for ticker in hit:
            self.failures[ticker] -= 1
        if hit:
            raise ConnectionError(f"Failed to perform, curl: (28) timeout for {hit[0]}")
        return self.respond(tickers, start, end)

    def respond(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Rebuild what yfinance.download returns: per-ticker history, reindexed, concat."""
        close = self.recorded.xs("Close", axis=1, level=0)
        dfs: dict[str, pd.DataFrame] = {}
        for ticker in {t.upper() for t in tickers}:
            if ticker in close.columns and close[ticker].notna().any():
                hist = self.recorded.xs(ticker, axis=1, level=1).dropna(how="all")
                hist = hist.loc[
                    (hist.index >= pd.Timestamp(start)) & (hist.index < pd.Timestamp(end))
                ]
            else:
                hist = pd.DataFrame(
                    index=pd.DatetimeIndex([], name="Date"),
                    columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"],
                    dtype=float,
                )
            dfs[ticker] = hist
        index = pd.DatetimeIndex([], name="Date")
        for hist in dfs.values():
            index = index.union(hist.index)
        dfs = {t: h.reindex(index) for t, h in dfs.items()}
        data = pd.concat(
            dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"]
        )
        data.columns = data.columns.swaplevel(0, 1)
        return data.sort_index(level=0, axis=1)


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _settings(tmp_path: Path, **overrides: Any) -> DataSettings:
    values: dict[str, Any] = {
        "source": "yahoo",
        "universe": tmp_path / "universe.toml",
        "start": D(2024, 1, 1),
        "end": D(2024, 1, 31),
        "cache_dir": tmp_path / "cache",
        "min_coverage": 0.5,
        "chunk_size": 2,
        "retries": 3,
        "backoff_seconds": 2.0,
        "backoff_jitter": 0.0,
    }
    values.update(overrides)
    return DataSettings(**values)


def _fetch(
    tickers: Sequence[str], settings: DataSettings, fake: FakeYahoo, sleep: FakeSleep | None = None
) -> tuple[pl.DataFrame, FetchReport]:
    return fetch_prices(tickers, settings, download=fake, sleep=sleep or FakeSleep(), today=TODAY)


def _expected_close(ticker: str, day: dt.date) -> float:
    return float(_recorded()[("Close", ticker)].loc[pd.Timestamp(day)])


# ----------------------------------------------------------------------------- fetch


def test_multi_chunk_fetch_returns_wide_frame(tmp_path: Path) -> None:
    fake, tickers = FakeYahoo(), ["AAPL", "MSFT", "SPY", "EURUSD=X"]
    prices, report = _fetch(tickers, _settings(tmp_path), fake)

    assert [c[0] for c in fake.calls] == [("AAPL", "MSFT"), ("SPY", "EURUSD=X")]
    assert prices.columns == ["date", *tickers]
    assert prices.schema["date"] == pl.Date
    assert all(prices.schema[t] == pl.Float64 for t in tickers)
    dates = prices["date"]
    assert dates.is_sorted() and dates.n_unique() == prices.height
    assert dates.min() == D(2024, 1, 1) and dates.max() == D(2024, 1, 31)
    # FX trades on US holidays: that day is kept, US tickers are null on it.
    mlk = prices.filter(pl.col("date") == D(2024, 1, 15))
    assert mlk["AAPL"][0] is None and mlk["EURUSD=X"][0] is not None
    row = prices.filter(pl.col("date") == D(2024, 1, 10))
    assert row["MSFT"][0] == pytest.approx(_expected_close("MSFT", D(2024, 1, 10)))
    assert report.fetched == tuple(tickers) and not report.failed and not report.from_cache
    assert report.coverage() == 1.0


def test_all_nan_ticker_reported_and_others_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, sleep = FakeYahoo(), FakeSleep()
    with caplog.at_level(logging.WARNING, logger="deepquant.yahoo"):
        prices, report = _fetch(
            ["AAPL", "ZZZZ", "MSFT"], _settings(tmp_path, chunk_size=3), fake, sleep
        )

    assert report.failed == {"ZZZZ": "empty"}
    assert report.fetched == ("AAPL", "MSFT")
    assert prices.columns == ["date", "AAPL", "MSFT"]
    assert [c[0] for c in fake.calls] == [("AAPL", "ZZZZ", "MSFT"), ("ZZZZ",)]  # one solo retry
    assert "ZZZZ" in caplog.text
    assert not cache_path(tmp_path / "cache", "ZZZZ").exists()


def test_chunk_that_raises_twice_then_succeeds(tmp_path: Path) -> None:
    fake, sleep = FakeYahoo(AAPL=2), FakeSleep()
    settings = _settings(tmp_path, retries=3, backoff_seconds=1.5)
    prices, report = _fetch(["AAPL", "MSFT"], settings, fake, sleep)

    assert len(fake.calls) == 3
    assert sleep.delays == [1.5, 3.0]
    assert report.fetched == ("AAPL", "MSFT") and not report.failed
    assert prices.columns == ["date", "AAPL", "MSFT"]


def test_chunk_that_always_raises_fails_its_tickers(tmp_path: Path) -> None:
    fake, sleep = FakeYahoo(SPY=99), FakeSleep()
    settings = _settings(tmp_path, retries=2, backoff_seconds=2.0)
    prices, report = _fetch(["AAPL", "MSFT", "SPY", "EURUSD=X"], settings, fake, sleep)

    assert set(report.failed) == {"SPY", "EURUSD=X"}
    assert report.failed["SPY"].startswith("ConnectionError: Failed to perform")
    assert "\n" not in report.failed["SPY"]
    assert [c[0] for c in fake.calls].count(("SPY", "EURUSD=X")) == 3  # 1 try + 2 retries
    assert sleep.delays == [2.0, 4.0]
    assert prices.columns == ["date", "AAPL", "MSFT"]
    assert report.coverage() == 0.5


def test_coverage_below_minimum_raises_one_line_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, min_coverage=0.9, chunk_size=5)
    with pytest.raises(DataError) as info:
        _fetch(["AAPL", "ZZZZ"], settings, FakeYahoo())
    message = str(info.value)
    assert message == "yahoo: only 1/2 tickers fetched (50%) < min_coverage 90%; failed: ZZZZ"


def test_coverage_error_lists_first_ten_failures(tmp_path: Path) -> None:
    missing = [f"NONE{i}" for i in range(12)]
    settings = _settings(tmp_path, min_coverage=0.9, chunk_size=20)
    with pytest.raises(DataError, match=r"only 1/13 .*NONE9, \.\.\. \(\+2 more\)$"):
        _fetch(["AAPL", *missing], settings, FakeYahoo())


def test_incremental_cache_fetches_only_new_dates(tmp_path: Path) -> None:
    tickers = ["AAPL", "MSFT", "SPY", "EURUSD=X"]
    first = FakeYahoo()
    _fetch(tickers, _settings(tmp_path, end=D(2024, 1, 19)), first)
    assert cache_path(tmp_path / "cache", "EURUSD=X").name == "EURUSD_3DX.parquet"
    assert cache_path(tmp_path / "cache", "EURUSD=X").exists()

    second = FakeYahoo()
    prices, report = _fetch(tickers, _settings(tmp_path), second)
    assert {start for _, start, _ in second.calls} == {D(2024, 1, 20)}
    assert report.fetched == tuple(tickers)

    full, _ = _fetch(tickers, _settings(tmp_path, cache_dir=tmp_path / "fresh"), FakeYahoo())
    assert prices.equals(full)

    third = FakeYahoo()
    again, report = _fetch(tickers, _settings(tmp_path), third)
    assert third.calls == []
    assert report.from_cache == tuple(tickers) and report.fetched == ()
    assert again.equals(full)


def test_cache_file_holds_date_and_close(tmp_path: Path) -> None:
    _fetch(["SPY"], _settings(tmp_path, end=D(2024, 1, 12)), FakeYahoo())
    cached = pl.read_parquet(cache_path(tmp_path / "cache", "SPY"))
    assert cached.columns == ["date", "close"]
    assert cached["date"].max() == D(2024, 1, 12)
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_cache_starting_later_than_requested_is_refetched(tmp_path: Path) -> None:
    _fetch(["SPY"], _settings(tmp_path, start=D(2024, 1, 10)), FakeYahoo())
    fake = FakeYahoo()
    prices, report = _fetch(["SPY"], _settings(tmp_path), fake)
    assert [start for _, start, _ in fake.calls] == [D(2024, 1, 1)]
    assert prices["date"].min() == D(2024, 1, 2)
    assert report.fetched == ("SPY",)


def test_failed_update_falls_back_to_stale_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _fetch(["SPY"], _settings(tmp_path, end=D(2024, 1, 12)), FakeYahoo())
    with caplog.at_level(logging.WARNING, logger="deepquant.yahoo"):
        prices, report = _fetch(["SPY"], _settings(tmp_path, retries=1), FakeYahoo(SPY=99))
    assert report.from_cache == ("SPY",) and report.stale == ("SPY",)
    assert prices["date"].max() == D(2024, 1, 12)
    assert "SPY not updated" in caplog.text
    assert "stale" in report.summary()


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    path = cache_path(tmp_path / "cache", "SPY")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    prices, report = _fetch(["SPY"], _settings(tmp_path), FakeYahoo())
    assert report.fetched == ("SPY",)
    assert pl.read_parquet(path).height == prices.height


def test_single_ticker_flat_response(tmp_path: Path) -> None:
    flat = pd.read_csv(FIXTURES / "jan2024_spy_flat.csv", index_col=0, parse_dates=True)
    assert not isinstance(flat.columns, pd.MultiIndex)
    prices, _ = fetch_prices(
        ["SPY"], _settings(tmp_path), download=lambda *_: flat, sleep=FakeSleep(), today=TODAY
    )
    assert prices.columns == ["date", "SPY"]
    assert prices.height == len(flat)
    assert prices["SPY"][0] == pytest.approx(float(flat["Close"].iloc[0]))


def test_single_ticker_multiindex_response(tmp_path: Path) -> None:
    fake = FakeYahoo()
    assert isinstance(fake.respond(["SPY"], D(2024, 1, 1), D(2024, 2, 1)).columns, pd.MultiIndex)
    prices, _ = _fetch(["SPY"], _settings(tmp_path), fake)
    assert prices.columns == ["date", "SPY"]
    assert prices["SPY"].null_count() == 0


def test_end_date_is_inclusive_for_callers(tmp_path: Path) -> None:
    fake = FakeYahoo()
    prices, _ = _fetch(["AAPL"], _settings(tmp_path, end=D(2024, 1, 12)), fake)
    assert fake.calls[0][1:] == (D(2024, 1, 1), D(2024, 1, 13))  # yfinance's end is exclusive
    assert prices["date"].max() == D(2024, 1, 12)


def test_rows_past_end_are_clipped(tmp_path: Path) -> None:
    recorded = _recorded()
    prices, _ = fetch_prices(
        ["AAPL", "MSFT"],
        _settings(tmp_path, end=D(2024, 1, 12)),
        download=lambda *_: recorded,  # a source that ignores the requested range
        sleep=FakeSleep(),
        today=TODAY,
    )
    assert prices["date"].max() == D(2024, 1, 12)
    assert prices["date"].min() == D(2024, 1, 2)


def test_non_positive_price_fails_that_ticker_only(tmp_path: Path) -> None:
    recorded = _recorded()
    recorded.loc[pd.Timestamp("2024-01-05"), ("Close", "MSFT")] = 0.0
    prices, report = _fetch(["AAPL", "MSFT"], _settings(tmp_path), FakeYahoo(recorded))
    assert report.failed == {"MSFT": "non-positive price on 2024-01-05"}
    assert prices.columns == ["date", "AAPL"]
    assert not cache_path(tmp_path / "cache", "MSFT").exists()


def test_todays_bar_is_returned_but_not_cached(tmp_path: Path) -> None:
    today = D(2024, 1, 31)
    settings = _settings(tmp_path, end=None)
    prices, _ = fetch_prices(["SPY"], settings, download=FakeYahoo(), today=today)
    assert prices["date"].max() == today
    assert pl.read_parquet(cache_path(tmp_path / "cache", "SPY"))["date"].max() == D(2024, 1, 30)

    fake = FakeYahoo()
    again, report = fetch_prices(["SPY"], settings, download=fake, today=today)
    assert [c[1:] for c in fake.calls] == [(today, today + dt.timedelta(days=1))]
    assert again.equals(prices) and report.fetched == ("SPY",)


def test_no_tickers_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no tickers"):
        _fetch([], _settings(tmp_path), FakeYahoo())


def test_duplicate_tickers_are_requested_once(tmp_path: Path) -> None:
    fake = FakeYahoo()
    prices, report = _fetch(["SPY", "SPY"], _settings(tmp_path), fake)
    assert report.requested == ("SPY",) and prices.columns == ["date", "SPY"]


# --------------------------------------------------------------------- the pieces


def test_closes_from_grouped_by_ticker_and_tz_aware_response() -> None:
    recorded = _recorded()
    by_ticker = recorded.copy()
    by_ticker.columns = by_ticker.columns.swaplevel(0, 1)
    by_ticker.index = by_ticker.index.tz_localize("America/New_York")
    closes = closes_from_response(by_ticker, ["aapl", "EURUSD=X", "ZZZZ"])
    assert set(closes) == {"aapl", "EURUSD=X"}
    assert closes["aapl"]["date"][0] == D(2024, 1, 2)
    assert closes["EURUSD=X"]["date"][0] == D(2024, 1, 1)


def test_closes_from_response_without_close_field() -> None:
    frame = pd.DataFrame({"Open": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"]))
    with pytest.raises(ValueError, match="Close"):
        closes_from_response(frame, ["A", "B"])
    assert closes_from_response(None, ["A"]) == {}


def test_unparseable_response_fails_the_chunk(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Open": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"]))
    sleep = FakeSleep()
    _, report = fetch_prices(
        ["A", "B"],
        _settings(tmp_path, retries=1, min_coverage=0.0),
        download=lambda *_: frame,
        sleep=sleep,
        today=TODAY,
    )
    assert set(report.failed) == {"A", "B"} and "Close" in report.failed["A"]


def test_cache_path_is_file_system_safe_and_one_to_one(tmp_path: Path) -> None:
    names = {t: cache_path(tmp_path, t).name for t in ["EURUSD=X", "^VIX", "BRK-B", "_5EVIX"]}
    assert names["EURUSD=X"] == "EURUSD_3DX.parquet"
    assert names["^VIX"] == "_5EVIX.parquet"
    assert names["BRK-B"] == "BRK-B.parquet"
    assert len(set(names.values())) == len(names)


def test_report_summary_and_coverage() -> None:
    report = FetchReport(
        requested=("A", "B", "C", "D"),
        fetched=("A",),
        failed={"D": "empty"},
        from_cache=("B", "C"),
    )
    assert report.coverage() == 0.75
    text = report.summary()
    assert text == "yahoo: 3/4 tickers (75%): 1 downloaded, 2 from cache; 1 failed: D (empty)."
    assert FetchReport((), (), {}, ()).coverage() == 1.0


def test_default_download_calls_yfinance_with_adjusted_prices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yfinance

    seen: dict[str, Any] = {}

    def fake_download(**kwargs: Any) -> pd.DataFrame:
        seen.update(kwargs)
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", fake_download)
    result = yahoo.yahoo_download(("AAPL", "MSFT"), D(2024, 1, 1), D(2024, 2, 1))
    assert isinstance(result, pd.DataFrame)
    assert seen["auto_adjust"] is True
    assert seen["tickers"] == ["AAPL", "MSFT"]
    assert (seen["start"], seen["end"]) == ("2024-01-01", "2024-02-01")
    assert seen["progress"] is False


def test_fetch_uses_default_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeYahoo()
    monkeypatch.setattr(yahoo, "yahoo_download", fake)
    prices, _ = fetch_prices(["SPY"], _settings(tmp_path), sleep=FakeSleep(), today=TODAY)
    assert fake.calls and prices.columns == ["date", "SPY"]
    assert np.isfinite(prices["SPY"].to_numpy()).all()


# ----------------------------------------------------------------------------- faults


def test_unreachable_yahoo_is_found_by_a_probe_and_fails_fast(tmp_path: Path) -> None:
    fake, sleep = FakeYahoo(SPY=99), FakeSleep()  # every request for SPY times out
    settings = _settings(tmp_path, min_coverage=0.9, retries=3, benchmark="SPY")
    with pytest.raises(DataError) as err:
        fetch_prices(
            ["AAPL", "MSFT", "SPY"], settings, download=fake, sleep=sleep, today=TODAY, probe=True
        )
    message = str(err.value)
    assert "\n" not in message and "Yahoo unreachable (probe for SPY: ConnectionError" in message
    assert [c[0] for c in fake.calls] == [("SPY",), ("SPY",)]  # two probes, no chunk retried
    assert sleep.delays == [2.0]


def test_a_reachable_probe_changes_nothing(tmp_path: Path) -> None:
    fake = FakeYahoo()
    settings = _settings(tmp_path, benchmark="SPY")
    _, report = fetch_prices(
        ["AAPL", "MSFT"], settings, download=fake, sleep=FakeSleep(), today=TODAY, probe=True
    )
    assert fake.calls[0][0] == ("SPY",) and report.fetched == ("AAPL", "MSFT")


def test_backoff_has_jitter_and_waits_out_rate_limits(tmp_path: Path) -> None:
    from shared.prices.yahoo import RATE_LIMIT_SECONDS, _backoff

    settings = _settings(tmp_path, backoff_seconds=2.0, backoff_jitter=0.5)
    delays = {_backoff(settings, 1, ConnectionError("timeout")) for _ in range(50)}
    assert all(4.0 <= d <= 6.0 for d in delays) and len(delays) > 1

    class YFRateLimitError(Exception):
        pass

    limited = _backoff(settings, 0, YFRateLimitError("Too Many Requests. Rate limited."))
    assert limited >= RATE_LIMIT_SECONDS
