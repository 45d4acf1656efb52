"""Content addresses: a bundle is named by everything its training read, nothing else.

Two jobs that would train the same model (same prices, universe, feature,
model and training settings, seed, training days) get the same key, so the
sweep trains it once and both use it; change any of those and the key
changes with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from inferer.memo import digest
from shared.config import Settings
from trainer.walkforward import Period

__all__ = ["bundle_key", "data_key", "series_key"]

#: Characters of the sha256 kept in folder names: 80 bits, no collision in any grid.
KEY_CHARS = 20


def data_key(prices: pl.DataFrame) -> str:
    """The prices' content: columns, dates and every value."""
    values = prices.drop("date").to_numpy()
    return digest(tuple(prices.columns), prices["date"].to_numpy(), values)[:KEY_CHARS]


def bundle_key(data: str, settings: Settings, period: Period) -> str:
    """The key of the bundle trained on ``period`` of the prices ``data`` with ``settings``."""
    train = settings.train.model_dump(mode="json")
    # start and end are the command line's defaults; a bundle's days are the period's.
    train.pop("start", None)
    train.pop("end", None)
    parts = (
        data,
        settings.features.model_dump(mode="json"),
        settings.model.model_dump(mode="json"),
        sorted(train.items()),
        period.first.isoformat(),
        period.last.isoformat(),
    )
    return digest(*parts)[:KEY_CHARS]


def series_key(bundles: Sequence[tuple[Period, str]]) -> str:
    """The key of a walk-forward series: its retrain dates and their bundles."""
    return digest(*((p.day.isoformat(), key) for p, key in bundles))[:KEY_CHARS]
