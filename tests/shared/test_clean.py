"""Price validation, calendar alignment, gap filling and history rules."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import DataError
from shared.prices.clean import fill_short_gaps
from shared.prices.panel import read_panel
from tests.cleaning import clean

D = [dt.date(2024, 1, d) for d in range(1, 11)]


def _frame(**cols: list) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    return pl.DataFrame({"date": D[:n], **cols}, schema_overrides={k: pl.Float64 for k in cols})


def test_fx_holiday_union_calendar_keeps_the_day_and_fills_the_stock() -> None:
    # Jan 2 is a US holiday in this toy: the stock has no price, FX does.
    frame = _frame(SPY=[100.0, None, 102.0, 103.0], EURUSD=[1.10, 1.11, 1.12, 1.13])
    out = clean(frame, min_history=2).prices
    assert out.height == 4
    assert out["SPY"].to_list() == [100.0, 100.0, 102.0, 103.0]
    assert out["EURUSD"].to_list() == [1.10, 1.11, 1.12, 1.13]


def test_ticker_calendar_drops_days_off_its_exchange_without_losing_fx_moves() -> None:
    frame = _frame(SPY=[100.0, None, 102.0, 103.0], EURUSD=[1.10, 1.11, 1.12, 1.13])
    out = clean(frame, calendar="SPY", min_history=2).prices
    assert out["date"].to_list() == [D[0], D[2], D[3]]
    # The FX return from Jan 1 to Jan 3 still spans the skipped day.
    assert out["EURUSD"].to_list() == [1.10, 1.12, 1.13]


def test_calendar_ticker_must_exist() -> None:
    with pytest.raises(DataError, match="calendar ticker 'QQQ'"):
        clean(_frame(SPY=[1.0, 2.0]), calendar="QQQ", min_history=1)


def test_days_with_no_price_at_all_are_removed() -> None:
    out = clean(_frame(A=[1.0, None, 2.0], B=[3.0, None, 4.0]), ffill_limit=0, min_history=1).prices
    assert out["date"].to_list() == [D[0], D[2]]


def test_gaps_filled_up_to_the_limit_and_leading_nulls_kept() -> None:
    frame = _frame(A=[None, 1.0, None, None, 2.0, None, None, None, None, 3.0])
    got = fill_short_gaps(frame, 3)["A"].to_list()
    assert got == [None, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, None, 3.0]
    assert fill_short_gaps(frame, 0)["A"].to_list() == frame["A"].to_list()


def test_trailing_gap_after_delisting_is_filled_only_up_to_the_limit() -> None:
    frame = _frame(A=[1.0, 2.0, None, None, None], B=[1.0] * 5)
    assert fill_short_gaps(frame, 2)["A"].to_list() == [1.0, 2.0, 2.0, 2.0, None]
    assert fill_short_gaps(frame, 3)["A"].to_list() == [1.0, 2.0, 2.0, 2.0, 2.0]


def test_gap_filling_reads_the_past_only() -> None:
    """Day D's filled price is the same whatever happens after D."""
    gap = [1.0, 2.0, None, None, None, None, None, None, 5.0]
    short = _frame(A=gap[:5], B=[1.0] * 5)
    full = _frame(A=gap, B=[1.0] * 9)
    head = fill_short_gaps(full, 3)["A"].to_list()[:5]
    assert head == fill_short_gaps(short, 3)["A"].to_list() == [1.0, 2.0, 2.0, 2.0, 2.0]


def test_short_history_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    frame = _frame(LONG=[float(i + 1) for i in range(10)], SHORT=[None] * 7 + [1.0, 2.0, 3.0])
    with caplog.at_level(logging.WARNING, logger="deepquant.prices"):
        cleaned = clean(frame, min_history=5)
    assert cleaned.tickers == ("LONG",)
    assert "SHORT" in cleaned.dropped and "SHORT" in caplog.text


def test_nothing_left_is_an_error() -> None:
    with pytest.raises(DataError, match="no asset has at least 50 prices"):
        clean(_frame(A=[1.0, 2.0]), min_history=50)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"day": ["2024-01-01"], "A": [1.0]}), "no 'date' column"),
        (
            pl.DataFrame({"date": ["2024-01-01", "2024-13-01"], "A": [1.0, 2.0]}),
            "bad date '2024-13-01'",
        ),
        (
            pl.DataFrame({"date": ["2024-01-01", "2024-01-01"], "A": [1.0, 2.0]}),
            "duplicate date 2024-01-01",
        ),
        (
            pl.DataFrame({"date": ["2024-01-02", "2024-01-01"], "A": [1.0, 2.0]}),
            "not sorted .*2024-01-01",
        ),
        (
            pl.DataFrame({"date": ["2024-01-01", "2024-01-02"], "A": [1.0, -2.0]}),
            "non-positive price -2.0 for A on 2024-01-02",
        ),
        (
            pl.DataFrame({"date": ["2024-01-01", "2024-01-02"], "A": [0.0, 2.0]}),
            "non-positive price 0.0 for A",
        ),
        (pl.DataFrame({"date": ["2024-01-01"], "A": ["x"]}), "column 'A' is not numeric"),
        (pl.DataFrame({"date": ["2024-01-01"]}), "no ticker columns"),
        (
            pl.DataFrame({"date": [], "A": []}, schema={"date": pl.String, "A": pl.Float64}),
            "no rows",
        ),
    ],
)
def test_bad_input_gives_one_clear_line(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        clean(frame, min_history=1, source="p.csv")
    assert str(err.value).startswith("p.csv: ") and "\n" not in str(err.value)


def test_date_range_restriction() -> None:
    frame = _frame(A=[float(i + 1) for i in range(10)])
    out = clean(frame, start=D[2], end=D[5], min_history=1).prices
    assert out["date"].to_list() == D[2:6]
    with pytest.raises(DataError, match="no prices between"):
        clean(frame, start=dt.date(2030, 1, 1), min_history=1)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_panel_formats_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = _frame(A=[1.0, None, 3.0], B=[2.0, 2.5, None])
    path = tmp_path / f"p{suffix}"
    if suffix == ".parquet":
        frame.write_parquet(path)
    else:
        import gzip

        text = frame.write_csv()
        if suffix == ".csv":
            path.write_text(text)
        else:
            path.write_bytes(gzip.compress(text.encode()))
    got = clean(read_panel(path), ffill_limit=0, min_history=1).prices
    assert got.equals(frame)


def test_panel_read_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="price file not found"):
        read_panel(tmp_path / "missing.csv")
    (tmp_path / "p.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported price file"):
        read_panel(tmp_path / "p.xlsx")
    (tmp_path / "bad.csv").write_text("date,A\n2024-01-01,abc\n")
    with pytest.raises(DataError, match=r"bad\.csv: cannot read price panel"):
        read_panel(tmp_path / "bad.csv")


def _fill_reference(column: list[float | None], limit: int) -> list[float | None]:
    """The gap rule one run at a time, as a reader would apply it by hand."""
    out, i, n = list(column), 0, len(column)
    while i < n:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < n and column[j] is None:
            j += 1
        if i > 0:
            k = min(j, i + limit)
            out[i:k] = [column[i - 1]] * (k - i)
        i = j
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(0.5, 2.0)), min_size=1, max_size=40),
    st.integers(0, 6),
)
def test_gap_filling_equals_the_rule_run_by_run(column: list[float | None], limit: int) -> None:
    frame = pl.DataFrame(
        {"date": [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(len(column))],
         "A": pl.Series(column, dtype=pl.Float64)}
    )  # fmt: skip
    assert fill_short_gaps(frame, limit)["A"].to_list() == _fill_reference(column, limit)


def test_wide_frame_cleaned_like_each_column_alone() -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(1, 2, size=(60, 300))
    values[rng.random(values.shape) < 0.15] = np.nan
    values[:, 7] = np.nan  # no price at all: dropped
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    frame = pl.DataFrame(values, schema=[f"T{i}" for i in range(300)], nan_to_null=True)
    cleaned = clean(frame.insert_column(0, pl.Series("date", dates)), min_history=10)
    assert "T7" in cleaned.dropped and len(cleaned.tickers) == 299
    for ticker in ("T0", "T150", "T299"):
        column = [None if np.isnan(v) else float(v) for v in values[:, int(ticker[1:])]]
        assert cleaned.prices[ticker].to_list() == _fill_reference(column, 5)


def test_first_non_positive_price_in_column_order_is_named() -> None:
    frame = _frame(A=[1.0, 2.0, 3.0], B=[1.0, -1.0, 2.0], C=[0.0, 1.0, 1.0])
    with pytest.raises(DataError, match=r"non-positive price -1\.0 for B on 2024-01-02"):
        clean(frame, min_history=1)


def _walk(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))


def test_a_bad_tick_drops_the_asset_with_its_date(caplog: pytest.LogCaptureFixture) -> None:
    ticked = _walk(10, 0)
    ticked[4] *= 1000  # one day x1,000, back the next
    crash = _walk(10, 1)
    crash[4:] = [p * 0.3 for p in crash[4:]]  # -70% that stays: real, kept
    frame = _frame(A=ticked, B=crash, C=_walk(10, 2))
    with caplog.at_level(logging.WARNING, logger="deepquant.prices"):
        cleaned = clean(frame, min_history=1, max_jump=0.5)
    assert cleaned.tickers == ("B", "C")
    assert (
        cleaned.dropped["A"].startswith("bad tick: x") and "on 2024-01-05" in cleaned.dropped["A"]
    )
    assert "A (bad tick" in caplog.text
    kept = clean(frame, min_history=1, max_jump=0.5, suspect_prices="keep")
    assert kept.tickers == ("A", "B", "C") and not kept.dropped


def test_a_stale_series_is_dropped() -> None:
    stale = _walk(10, 3)
    stale[2:] = [stale[2]] * 8  # frozen for 7 days
    frame = _frame(A=stale, B=_walk(10, 4))
    cleaned = clean(frame, min_history=1, max_stale_days=5)
    assert cleaned.tickers == ("B",)
    # The reason names the dates, as the README says suspect prices are reported.
    assert cleaned.dropped["A"] == (
        f"stale: price unchanged for 7 days, {D[2]} to {D[9]} (> max_stale_days)"
    )
    assert clean(frame, min_history=1, max_stale_days=7).tickers == ("A", "B")


def test_the_shared_panel_has_no_suspect_prices_at_the_defaults(shared_panel_path) -> None:
    from shared.config import DataSettings

    d = DataSettings()
    cleaned = clean(
        read_panel(shared_panel_path),
        max_jump=d.max_jump,
        max_stale_days=d.max_stale_days,
        suspect_prices=d.suspect_prices,
    )
    assert not [r for r in cleaned.dropped.values() if r.startswith(("bad tick", "stale"))]


def test_benchmark_calendar_drops_days_the_benchmark_did_not_trade() -> None:
    # Jan 2 is a US holiday in this toy: FX traded, SPY did not.
    frame = _frame(SPY=[100.0, None, 102.0, 103.0], EURUSD=[1.10, 1.11, 1.12, 1.13])
    out = clean(frame, calendar="benchmark", benchmark="SPY", min_history=2).prices
    assert out["date"].to_list() == [D[0], D[2], D[3]]
    assert out["EURUSD"].to_list() == [1.10, 1.12, 1.13]  # the move across the holiday is kept


def test_benchmark_calendar_without_the_benchmark_is_the_union(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = _frame(QQQ=[100.0, None, 102.0], EURUSD=[1.10, 1.11, 1.12])
    with caplog.at_level(logging.WARNING, logger="deepquant.prices"):
        out = clean(frame, calendar="benchmark", benchmark="SPY", min_history=2).prices
    assert out.height == 3 and "benchmark SPY not in the data" in caplog.text


def test_a_row_with_fewer_fields_than_the_header_is_refused(tmp_path: Path) -> None:
    # Polars would read the missing cells as empty, and gap filling would hide them.
    path = tmp_path / "short.csv"
    path.write_text("date,A,B\n2024-01-01,1.0,2.0\n2024-01-02,1.1\n2024-01-03,1.2,2.2\n")
    with pytest.raises(DataError, match=r"short\.csv: line 3 has 2 fields, the header 3"):
        read_panel(path)


def test_a_month_long_gap_in_the_benchmark_keeps_its_days(caplog: pytest.LogCaptureFixture) -> None:
    # Blank SPY for 20 trading days: they are a gap in its data, not holidays, so
    # every other asset keeps them; a 1-day gap is still a holiday of its calendar.
    days = [dt.date(2022, 1, 3) + dt.timedelta(days=i) for i in range(80)]
    spy = [100.0 + i for i in range(80)]
    other = [50.0 + 0.5 * i for i in range(80)]
    for i in range(30, 50):
        spy[i] = None
    spy[10] = None
    frame = pl.DataFrame({"date": days, "SPY": spy, "AGG": other},
                         schema_overrides={"SPY": pl.Float64, "AGG": pl.Float64})  # fmt: skip
    out = clean(frame, calendar="benchmark", benchmark="SPY", min_history=2).prices
    assert out.height == 79  # only the one-day gap left the calendar
    assert days[40] in out["date"].to_list() and days[10] not in out["date"].to_list()
    assert any(
        "SPY has no price 2022-02-02 .. 2022-02-21" in r.getMessage() for r in caplog.records
    )
