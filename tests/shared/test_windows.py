"""Windows and scaler: shapes, date bounds, and no look-ahead."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from shared.config import FeatureSettings
from shared.errors import DataError
from shared.features import compute_features
from shared.scaling import Scaler
from shared.windows import training_windows, window_end_indices, windows_asof

SPEC = FeatureSettings()


@pytest.fixture(scope="module")
def cube(sample_prices: pl.DataFrame):
    return compute_features(sample_prices, SPEC)


#: The settings' clip.
CLIP = FeatureSettings().clip


def _perturb_after(prices: pl.DataFrame, day: dt.date, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    later = (prices["date"] > day).to_numpy()
    shocks = np.exp(rng.normal(0, 0.2, (int(later.sum()), prices.width - 1)))
    values = prices.drop("date").to_numpy().copy()
    values[later] *= shocks
    return pl.DataFrame(
        {"date": prices["date"], **{c: values[:, i] for i, c in enumerate(prices.columns[1:])}}
    )


def test_windows_asof_shape_and_content(cube) -> None:
    day = dt.date(2019, 6, 14)
    win = windows_asof(cube, day, 30)
    t = int(np.flatnonzero(cube.dates == np.datetime64(day))[0])
    assert win.asof == day
    assert win.values.shape == (len(cube.tickers), 30, 5) and win.values.dtype == np.float32
    np.testing.assert_array_equal(win.values[3], cube.values[t - 29 : t + 1, 3])


def test_weekend_asof_uses_last_trading_day(cube) -> None:
    assert windows_asof(cube, dt.date(2019, 6, 16), 30).asof == dt.date(2019, 6, 14)


def test_asof_before_data_is_a_clear_error(cube) -> None:
    with pytest.raises(DataError, match="before the first price date"):
        windows_asof(cube, dt.date(2000, 1, 1), 30)


def test_assets_without_history_are_skipped() -> None:
    n = 200
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    late = [None] * 150 + list(np.linspace(5, 6, 50))
    frame = pl.DataFrame(
        {"date": dates, "OLD": np.linspace(10, 12, n), "NEW": late},
        schema_overrides={"NEW": pl.Float64},
    )
    win = windows_asof(compute_features(frame, SPEC), dates[-1], 30)
    assert win.tickers == ("OLD",) and win.skipped == ("NEW",)


@pytest.mark.parametrize("day", [dt.date(2016, 3, 1), dt.date(2018, 12, 24), dt.date(2021, 7, 1)])
def test_windows_and_scaler_have_no_look_ahead(sample_prices: pl.DataFrame, day: dt.date) -> None:
    """Perturbing every price after D leaves the scaled windows at D unchanged."""
    fit_end = day - dt.timedelta(days=1)
    before = compute_features(sample_prices, SPEC)
    after = compute_features(_perturb_after(sample_prices, day), SPEC)
    s1 = Scaler.fit(before, None, fit_end, CLIP)
    s2 = Scaler.fit(after, None, fit_end, CLIP)
    assert s1 == s2
    w1, w2 = windows_asof(before, day, 30, s1), windows_asof(after, day, 30, s2)
    assert w1.tickers == w2.tickers
    np.testing.assert_array_equal(w1.values, w2.values)
    t1 = training_windows(before, 30, None, day, stride=3, scaler=s1)
    t2 = training_windows(after, 30, None, day, stride=3, scaler=s2)
    np.testing.assert_array_equal(t1, t2)
    # ...and the perturbation did reach later windows, so the test can fail.
    later = day + dt.timedelta(days=60)
    assert not np.array_equal(
        windows_asof(before, later, 30).values, windows_asof(after, later, 30).values
    )


def test_training_windows_match_asof_windows(cube) -> None:
    start, end = dt.date(2018, 1, 1), dt.date(2018, 3, 31)
    got = training_windows(cube, 30, start, end, stride=5)
    ends = window_end_indices(cube, 30, start, end, stride=5)
    assert cube.dates[ends[-1]] == np.datetime64("2018-03-29")  # last trading day in range
    assert np.all(np.diff(ends) == 5)
    expected = np.concatenate([windows_asof(cube, cube.dates[i].item(), 30).values for i in ends])
    np.testing.assert_array_equal(got, expected)


def test_training_windows_empty_range(cube) -> None:
    assert training_windows(cube, 30, dt.date(2030, 1, 1), None).shape == (0, 30, 5)


def test_scaler_standardises_training_period_and_round_trips(cube) -> None:
    start, end = dt.date(2016, 1, 1), dt.date(2017, 12, 31)
    scaler = Scaler.fit(cube, start, end, clip=1e9)
    mask = (cube.dates >= np.datetime64(start)) & (cube.dates <= np.datetime64(end))
    scaled = scaler.transform(cube.values[mask]).reshape(-1, 5).astype(np.float64)
    np.testing.assert_allclose(np.nanmean(scaled, axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.nanstd(scaled, axis=0), 1, atol=1e-4)
    assert Scaler.from_dict(scaler.to_dict()) == scaler
    clipped = Scaler.fit(cube, start, end, clip=2.0).transform(cube.values)
    assert np.nanmax(np.abs(clipped)) == pytest.approx(2.0)
    assert np.isnan(clipped).sum() == np.isnan(cube.values).sum()


@pytest.mark.parametrize(
    "bad", [{}, {"mean": [0] * 5, "std": [1] * 4}, {"mean": [0] * 5, "std": [0] * 5}]
)
def test_scaler_from_bad_dict(bad: dict) -> None:
    with pytest.raises(DataError, match="scaler"):
        Scaler.from_dict(bad)


def test_scaler_fit_on_empty_period(cube) -> None:
    with pytest.raises(DataError, match="no feature data"):
        Scaler.fit(cube, dt.date(2030, 1, 1), None, CLIP)


def _gappy_cube(cube):
    values = cube.values.copy()
    values[500:540, 3] = np.nan  # a suspension
    values[:900, 5] = np.nan  # a late listing
    return type(cube)(cube.dates, cube.tickers, values)


def test_training_windows_are_every_complete_window_in_order(cube) -> None:
    gappy = _gappy_cube(cube)
    start, end, stride = dt.date(2016, 1, 1), dt.date(2018, 6, 29), 3
    got = training_windows(gappy, 30, start, end, stride=stride)
    want = []
    for e in window_end_indices(gappy, 30, start, end, stride):
        for a in range(len(gappy.tickers)):
            block = gappy.values[e - 29 : e + 1, a]
            if np.isfinite(block).all():
                want.append(block)
    np.testing.assert_array_equal(got, np.stack(want))


def test_training_windows_limit_draws_a_seeded_subset_in_order(cube) -> None:
    gappy = _gappy_cube(cube)
    start, end = dt.date(2016, 1, 1), dt.date(2018, 6, 29)
    full = training_windows(gappy, 30, start, end, stride=2)
    some = training_windows(gappy, 30, start, end, stride=2, limit=500, seed=1)
    assert some.shape == (500, 30, 5)
    flat_full = full.reshape(len(full), -1)
    rows = [int(np.flatnonzero((flat_full == w.ravel()).all(axis=1))[0]) for w in some]
    assert rows == sorted(rows) and len(set(rows)) == 500  # a subset, in the full order
    again = training_windows(gappy, 30, start, end, stride=2, limit=500, seed=1)
    np.testing.assert_array_equal(some, again)
    other = training_windows(gappy, 30, start, end, stride=2, limit=500, seed=2)
    assert not np.array_equal(some, other)
    big = training_windows(gappy, 30, start, end, stride=2, limit=len(full))
    np.testing.assert_array_equal(big, full)
