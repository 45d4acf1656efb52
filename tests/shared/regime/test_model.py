"""shared.regime.model: walk-forward fits on the long history, read online, carried as JSON."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from shared.config import RegimeSettings
from shared.errors import DataError
from shared.regime import History, RegimeModel, fit_key, fit_regime, history_of_file

KINDS = ("jump", "hmm", "trend")


@pytest.fixture(scope="module")
def history(shared_benchmark_path: Path) -> History:
    return history_of_file(shared_benchmark_path, "SPY")


def _cut(history: History, day: dt.date) -> History:
    n = history.upto(day) + 1
    return History(history.dates[:n], history.closes[:n], history.source)


def _share(history: History, stress: np.ndarray, first: str, last: str) -> float:
    days = (history.dates >= np.datetime64(first)) & (history.dates <= np.datetime64(last))
    return float((stress[days] >= 0.5).mean())


@pytest.mark.parametrize("kind", KINDS)
def test_the_reading_on_a_day_is_the_reading_of_the_history_cut_at_that_day(
    history: History, kind: str
) -> None:
    model = fit_regime(history, dt.date(2016, 12, 30), RegimeSettings(model=kind))
    whole = model.stress(history)
    for day in (dt.date(2018, 2, 8), dt.date(2020, 3, 16), dt.date(2022, 6, 13)):
        i = history.upto(day)
        np.testing.assert_array_equal(model.stress(_cut(history, day))[: i + 1], whole[: i + 1])
    assert np.isnan(whole[: history.upto(dt.date(2004, 12, 1))]).all()  # before its span


@pytest.mark.parametrize("kind", KINDS)
def test_each_model_reads_the_crises_as_stressed_and_a_calm_year_as_calm(
    history: History, kind: str
) -> None:
    model = fit_regime(history, dt.date(2016, 12, 30), RegimeSettings(model=kind))
    stress = model.stress(history)
    assert _share(history, stress, "2008-09-15", "2009-03-09") > 0.8
    assert _share(history, stress, "2020-03-09", "2020-04-15") > 0.5
    assert _share(history, stress, "2017-01-01", "2017-12-31") < 0.1
    again = RegimeModel.from_dict(model.to_dict())
    np.testing.assert_array_equal(again.stress(history), stress)


@pytest.mark.parametrize("kind", ["jump", "hmm"])
def test_stressed_means_the_same_after_every_refit(history: History, kind: str) -> None:
    cfg = RegimeSettings(model=kind)
    fits = [fit_regime(history, dt.date(year, 12, 30), cfg) for year in (2016, 2018, 2020, 2022)]
    for model in fits:
        stress = model.stress(history)
        assert _share(history, stress, "2011-08-04", "2011-10-31") > 0.7  # the US downgrade
        assert _share(history, stress, "2017-01-01", "2017-12-31") < 0.1


def test_too_short_a_history_is_an_error_naming_the_dates(history: History) -> None:
    with pytest.raises(DataError, match=r"from 1986-12-30 .*train_years = 30.* starts 1993-01-29"):
        fit_regime(history, dt.date(2016, 12, 30), RegimeSettings(model="jump", train_years=30))


def test_the_key_follows_what_shapes_a_fit_and_nothing_else() -> None:
    day, base = dt.date(2020, 1, 1), RegimeSettings(model="jump")
    same = base.model_copy(update={"fraction": 0.5, "timing": "rebalance"})
    assert fit_key(day, same) == fit_key(day, base)
    assert fit_key(day, base.model_copy(update={"penalty": 10.0})) != fit_key(day, base)
    assert fit_key(dt.date(2021, 1, 1), base) != fit_key(day, base)
