"""``clean_prices`` with loose settings, for tests written against small hand-made frames."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from shared.config import DataSettings
from shared.prices.clean import CleanPrices, clean_prices

#: Every date, the union calendar, and the suspect-price checks off: what a
#: hand-made frame of a few assets and days needs. Keywords override them.
LOOSE: dict[str, Any] = {
    "start": dt.date(1900, 1, 1),
    "calendar": "union",
    "max_jump": 0.0,
    "max_stale_days": 0,
}


def clean(frame: pl.DataFrame, source: str = "prices", **settings: Any) -> CleanPrices:
    """:func:`clean_prices` under :data:`LOOSE` updated by ``settings``."""
    return clean_prices(frame, DataSettings(**{**LOOSE, **settings}), source=source)
