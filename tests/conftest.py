"""Shared fixtures: the real price panel beside the repo and the embedded sample."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DEEPQUANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHARED_PANEL = SHARED_DATA / "prices_2015_2026.csv.gz"


@pytest.fixture(scope="session")
def shared_panel_path() -> Path:
    if not SHARED_PANEL.is_file():
        pytest.skip(f"shared price panel not found at {SHARED_PANEL}")
    return SHARED_PANEL


@pytest.fixture(scope="session")
def sample_prices() -> pl.DataFrame:
    from shared.prices.clean import clean_prices
    from shared.prices.sample import load_sample

    return clean_prices(load_sample()).prices
