"""Feature and window build times on the 338-asset shared panel.

Prints medians over several runs. Targets (2-core CPU): all windows for one
date (features included) under 0.5 s; all windows for all ~2,500 dates of
2016-2025 under 15 s.

    .venv/bin/python benchmarks/features.py [--repeat 5] [--prices PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
from common import PANEL, timed

from shared.config import DataSettings, FeatureSettings
from shared.features import compute_features
from shared.prices import load_prices
from shared.scaling import Scaler
from shared.windows import training_windows, windows_asof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prices", type=Path, default=PANEL)
    args = parser.parse_args()
    spec = FeatureSettings()
    settings = DataSettings(source="panel", path=args.prices)

    t_load, data = timed(lambda: load_prices(settings), args.repeat)
    t_feat, cube = timed(lambda: compute_features(data.prices, spec), args.repeat)
    scaler = Scaler.fit(cube, dt.date(2016, 1, 1), dt.date(2017, 12, 31), FeatureSettings().clip)
    day = dt.date(2025, 12, 31)
    past = data.prices.filter(pl.col("date") <= day)  # as inference cuts them
    t_one, win = timed(lambda: windows_asof(cube, day, 30, scaler), args.repeat)
    t_feat_one, _ = timed(
        lambda: windows_asof(compute_features(past, spec, last=30), day, 30, scaler),
        args.repeat,
    )
    start, end = dt.date(2016, 1, 1), dt.date(2025, 12, 31)
    n_dates = int(((cube.dates >= np.datetime64(start)) & (cube.dates <= np.datetime64(end))).sum())
    t_all, every = timed(lambda: training_windows(cube, 30, start, end, scaler=scaler), args.repeat)

    print(f"panel: {len(data.tickers)} assets x {data.prices.height} dates ({args.prices.name})")
    print(f"median of {args.repeat} runs:")
    print(f"  load + clean panel              {t_load:8.3f} s")
    print(f"  features, all assets and days   {t_feat:8.3f} s")
    print(f"  windows for one date            {t_one * 1e3:8.2f} ms  ({win.values.shape})")
    print(f"  features + windows, last date   {t_feat_one:8.3f} s   target < 0.5 s")
    print(
        f"  windows, all {n_dates} dates 2016-2025 {t_all:6.3f} s   target < 15 s"
        f"  ({every.shape[0]:,} windows, {every.nbytes / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
