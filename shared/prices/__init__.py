"""Price sources behind one interface: a cleaned date x ticker frame of adjusted closes.

Sources: ``yahoo`` (yfinance with a parquet cache), ``panel`` (a wide file),
``sample`` (the embedded offline dataset). :func:`load_prices` picks one from
the settings, restricts it to ``[start, end]`` and cleans it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from shared.config import DataSettings
from shared.errors import DataError
from shared.prices.clean import clean_prices
from shared.prices.panel import read_panel
from shared.prices.sample import SAMPLE_CLASSES, load_sample, sample_path
from shared.universe import Universe, read_universe

log = logging.getLogger("deepquant.prices")


@dataclass(frozen=True)
class PriceData:
    """Cleaned prices, the universe describing their columns, and provenance."""

    prices: pl.DataFrame
    universe: Universe
    source: str
    dropped: dict[str, str] = field(default_factory=dict)
    #: Seconds spent reading ("read") and validating and cleaning ("clean").
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(c for c in self.prices.columns if c != "date")

    def require(self, ticker: str, role: str) -> None:
        """Refuse a run that needs ``ticker`` (``role``: "benchmark", ...) the prices lack.

        Raises
        ------
        DataError
            Naming why it is missing: dropped by cleaning (with the reason),
            or never in the data.
        """
        if ticker in self.tickers:
            return
        if ticker in self.dropped:
            raise DataError(
                f"{role} {ticker!r} was dropped from the price data: {self.dropped[ticker]}"
            )
        raise DataError(f"{role} {ticker!r} is not in the price data ({self.source})")


def _panel_universe(panel: Path, settings: DataSettings, tickers: list[str]) -> Universe:
    # Asset classes for a panel: the configured universe file, else a universe.csv
    # lying beside the panel (as in the shared data folder), else "unknown".
    candidates = [settings.universe] if settings.universe else [panel.parent / "universe.csv"]
    for path in candidates:
        if path is not None and path.is_file():
            known = read_universe(path).asset_class
            return Universe(tuple(tickers), {t: known[t] for t in tickers if t in known})
    return Universe(tuple(tickers), {})


def load_prices(settings: DataSettings, panel: str | Path | None = None) -> PriceData:
    """Load, restrict to ``[start, end]`` and clean prices from the configured source.

    Parameters
    ----------
    settings : DataSettings
    panel : path, optional
        A wide price file; overrides the configured source (``--prices``).
        The universe is then the file's columns.

    Raises
    ------
    DataError
        Unreadable or malformed data, or too little of it.
    """
    t0 = time.perf_counter()
    if panel is not None or settings.source == "panel":
        path = Path(panel if panel is not None else settings.path)  # type: ignore[arg-type]
        raw, source = read_panel(path), str(path)
        universe = _panel_universe(path, settings, [c for c in raw.columns if c != "date"])
    elif settings.source == "sample":
        raw, source = load_sample(), str(sample_path())
        universe = Universe(tuple(c for c in raw.columns if c != "date"), dict(SAMPLE_CLASSES))
    else:
        from shared.prices.yahoo import fetch_prices  # yfinance is slow to import

        assert settings.universe is not None  # guaranteed by DataSettings validation
        universe = read_universe(settings.universe)
        raw, report = fetch_prices(universe.tickers, settings)
        source = "yahoo"
        log.info(report.summary())
    t1 = time.perf_counter()
    cleaned = clean_prices(raw, settings, source=source)
    present = set(cleaned.tickers)
    kept = tuple(t for t in universe.tickers if t in present)
    universe = Universe(kept, {t: c for t, c in universe.asset_class.items() if t in present})
    timings = {"read": t1 - t0, "clean": time.perf_counter() - t1}
    dates = cleaned.prices["date"]
    log.debug(
        "read %s: %d dates %s .. %s, %d assets kept, %d dropped; read %.2fs, clean %.2fs",
        source, dates.len(), dates.min(), dates.max(), len(kept), len(cleaned.dropped),
        timings["read"], timings["clean"],
    )  # fmt: skip
    return PriceData(cleaned.prices, universe, source, cleaned.dropped, timings)
