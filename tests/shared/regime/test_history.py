"""shared.regime.history: the long history's file, its errors, the panel's column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shared.errors import DataError
from shared.regime import history_of_file, history_of_prices


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_file_reads_oldest_first(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", "date,SPY\n2020-01-03,3.0\n2020-01-02,2.0\n2020-01-06,\n")
    history = history_of_file(path, "SPY")
    assert history.closes.tolist() == [2.0, 3.0]
    assert history.upto(dt.date(2020, 1, 5)) == 1 and history.upto(dt.date(2020, 1, 1)) == -1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,QQQ\n2020-01-02,1\n", "no column SPY"),
        ("date,SPY\n2020-01-02,1\n2020-01-03,-1\n", "close of SPY on 2020-01-03 is not a positive"),
        ("date,SPY\n2020-01-02,1\n2020-01-02,2\n", "a date appears twice"),
        ("date,SPY\nJan 2 2020,1\n", "not in YYYY-MM-DD form"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "h.csv", text)
    with pytest.raises(DataError, match=message) as err:
        history_of_file(path, "SPY")
    assert str(path) in str(err.value)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\[regime\] history file not found"):
        history_of_file(tmp_path / "none.csv", "SPY")


def test_the_panel_serves_without_a_file() -> None:
    prices = pl.DataFrame(
        {"date": [dt.date(2020, 1, 2), dt.date(2020, 1, 3)], "SPY": [None, 2.0], "X": [1.0, 1.0]}
    )
    assert history_of_prices(prices, "SPY").closes.tolist() == [2.0]
    with pytest.raises(DataError, match="benchmark 'QQQ'"):
        history_of_prices(prices, "QQQ")


def test_a_yahoo_run_fetches_the_benchmark_from_train_years_before_its_prices(
    tmp_path: Path, shared_benchmark_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from shared.config import Settings
    from shared.prices import PriceData, yahoo
    from shared.regime import load_history
    from shared.universe import Universe
    from tests.shared.test_yahoo import FakeYahoo

    frame = pd.read_csv(shared_benchmark_path, index_col=0, parse_dates=True)
    recorded = pd.concat({"Close": frame}, axis=1).rename_axis(["Price", "Ticker"], axis=1)
    fake = FakeYahoo(recorded)
    monkeypatch.setattr(yahoo, "yahoo_download", fake)
    settings = Settings.model_validate(
        {
            "data": {
                "source": "yahoo",
                "universe": tmp_path / "u.toml",
                "cache_dir": tmp_path,
                "end": dt.date(2026, 7, 31),
            },
            "regime": {"model": "jump", "train_years": 12},
        }
    )
    prices = pl.DataFrame({"date": [dt.date(2015, 1, 2), dt.date(2015, 1, 5)], "SPY": [1.0, 1.0]})
    data = PriceData(prices, Universe(("SPY",), {}), "yahoo")
    history = load_history(settings, data)
    assert history is not None and "Yahoo" in history.source
    assert fake.calls[-1][1] == dt.date(2002, 1, 2)  # 13 years before the prices begin
    assert history.dates[0] == np.datetime64("2002-01-02")
    expected = frame.loc["2002-01-02":"2026-07-31", "SPY"].to_numpy()
    np.testing.assert_allclose(history.closes, expected)
    # With the layer off, nothing is read; with a file named, the file is.
    off = settings.model_copy(
        update={"regime": settings.regime.model_copy(update={"model": "none"})}
    )
    assert load_history(off, data) is None
