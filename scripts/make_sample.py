"""Regenerate ``shared/sample_data/sample_prices.csv.gz`` from skfolio's bundled datasets.

skfolio (BSD-3-Clause) ships real daily prices inside its wheel: 20 US stocks
and the S&P 500 index (1990-2022) and 5 factor ETFs (2014-2022). We keep the
overlap 2014-2022 as a wide panel so the demo and the inference image work
offline without skfolio installed. Run with the dev extra installed.
"""

import gzip
from pathlib import Path

import polars as pl
from skfolio.datasets import load_factors_dataset, load_sp500_dataset, load_sp500_index

OUT = Path(__file__).resolve().parents[1] / "shared" / "sample_data" / "sample_prices.csv.gz"


def main() -> None:
    frame = load_sp500_dataset().join(load_factors_dataset(), how="inner")
    frame = frame.join(load_sp500_index(), how="inner")
    frame.index.name = "date"
    panel = pl.from_pandas(frame.reset_index()).with_columns(pl.col("date").cast(pl.Date))
    panel = panel.with_columns(pl.exclude("date").round(6))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # A fixed mtime keeps the gzip bytes reproducible.
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        panel.write_csv(fh)
    print(f"wrote {OUT} {panel.shape}")


if __name__ == "__main__":
    main()
