"""The embedded offline sample: real daily closes shipped inside the package.

20 US large caps, 5 US factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE) and the
S&P 500 index (column ``SP500``), 2014-01-02 .. 2022-12-28, from the datasets
bundled with skfolio (BSD-3-Clause, see ``sample_data/LICENSE-skfolio``).
Regenerate with ``scripts/make_sample.py``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import polars as pl

from shared.prices.panel import read_panel

SAMPLE_FILE = "sample_prices.csv.gz"

#: Asset classes of the sample's columns.
_STOCKS = "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM"
SAMPLE_CLASSES: dict[str, str] = {
    **dict.fromkeys(_STOCKS.split(" "), "us_stock"),
    **dict.fromkeys(["MTUM", "QUAL", "SIZE", "USMV", "VLUE", "SP500"], "us_equity"),
}


def sample_path() -> Path:
    """Path of the embedded sample panel."""
    return Path(str(resources.files("shared") / "sample_data" / SAMPLE_FILE))


def load_sample() -> pl.DataFrame:
    """The embedded sample as a wide price frame (not yet cleaned)."""
    return read_panel(sample_path())
