"""Wide price panel files: a ``date`` column, then one column of closes per ticker.

CSV, gzipped CSV or parquet. Empty cells mean no price that day.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from shared.errors import DataError

SUFFIXES = (".csv", ".csv.gz", ".parquet")


def read_panel(path: str | Path) -> pl.DataFrame:
    """Read a panel file as is; structural checks happen in :mod:`shared.prices.clean`.

    Raises
    ------
    DataError
        Missing file, unsupported suffix, or a file polars cannot parse.
    """
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise DataError(f"{path}: price file not found")
    if not name.endswith(SUFFIXES):
        raise DataError(f"{path}: unsupported price file (use {', '.join(SUFFIXES)})")
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        # Everything but the date is read as Float64 so a stray text cell fails loudly
        # in validation instead of silently turning a column into strings.
        header = pl.read_csv(path, n_rows=0).columns
        overrides = {c: pl.Float64 for c in header if c != "date"}
        frame = pl.read_csv(path, schema_overrides=overrides, try_parse_dates=False)
    except (pl.exceptions.PolarsError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: cannot read price panel ({first})") from None
    _check_fields(path)
    return frame


def _check_fields(path: Path) -> None:
    """Refuse a row with fewer fields than the header: polars would read the rest as empty,
    and empty cells are filled with the last price, so the row would pass unseen."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        expected = None
        for number, line in enumerate(fh, 1):
            if '"' in line or not line.strip():
                continue  # a quoted field may hold a comma; a blank line holds nothing
            fields = line.count(",") + 1
            if expected is None:
                expected = fields
            elif fields != expected:
                raise DataError(f"{path}: line {number} has {fields} fields, the header {expected}")
