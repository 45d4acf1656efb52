"""Integration: the real 338-instrument panel beside the repository."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from shared.config import DataSettings, FeatureSettings
from shared.features import compute_features
from shared.prices import load_prices
from shared.scaling import Scaler
from shared.windows import training_windows, windows_asof


@pytest.fixture(scope="module")
def panel(shared_panel_path: Path):
    return load_prices(DataSettings(source="panel", path=shared_panel_path))


def test_panel_loads_whole(panel) -> None:
    assert len(panel.tickers) == 338
    assert panel.prices["date"][0] == dt.date(2015, 1, 2)
    assert panel.prices["date"][-1] == dt.date(2026, 8, 3)
    # The universe.csv beside the panel names every asset's class.
    assert {panel.universe.class_of(t) for t in panel.tickers} >= {"us_stock", "gov_bonds", "fx"}
    assert "unknown" not in {panel.universe.class_of(t) for t in panel.tickers}


def test_march_2020_oil_crash_survives_cleaning_and_clipping(panel) -> None:
    cube = compute_features(panel.prices, FeatureSettings())
    j = cube.tickers.index("OXY")
    worst = np.nanmin(cube.values[:, j, 0])
    assert worst < np.log(0.6)  # a real -50% day, kept, not treated as bad data
    scaler = Scaler.fit(cube, dt.date(2018, 1, 1), dt.date(2019, 12, 31), FeatureSettings().clip)
    win = windows_asof(cube, dt.date(2020, 3, 20), 30, scaler)
    assert np.abs(win.values).max() <= scaler.clip


def test_windows_for_a_training_period(panel) -> None:
    cube = compute_features(panel.prices, FeatureSettings())
    win = training_windows(cube, 30, dt.date(2023, 1, 1), dt.date(2024, 12, 31), stride=5)
    assert win.shape[1:] == (30, 5) and np.isfinite(win).all()
    assert win.shape[0] > 0.95 * 338 * (502 // 5)
