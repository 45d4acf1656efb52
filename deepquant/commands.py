"""``deepquant fetch`` and ``deepquant data``: get prices and check what the model will see."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click
import numpy as np

from shared.config import load_settings
from shared.options import asof_option, config_option, prices_option


@click.command()
@config_option
def fetch(config: Path) -> None:
    """Download the configured universe from Yahoo Finance into the parquet cache."""
    from shared.prices.yahoo import fetch_prices
    from shared.universe import read_universe

    settings = load_settings(config)
    if settings.data.source != "yahoo" or settings.data.universe is None:
        raise click.UsageError(f'{config}: fetch needs [data] source = "yahoo"')
    universe = read_universe(settings.data.universe)
    frame, report = fetch_prices(universe.tickers, settings.data)
    click.echo(report.summary())
    click.echo(
        f"cache: {settings.data.cache_dir} ({frame.height} dates x {frame.width - 1} tickers)"
    )


@click.command()
@config_option
@prices_option
@asof_option
def data(config: Path, prices: Path | None, asof: dt.date | None) -> None:
    """Load and clean prices, build features and windows, and print a summary."""
    from shared.features import compute_features
    from shared.prices import load_prices
    from shared.windows import training_windows, windows_asof

    settings = load_settings(config)
    t0 = time.perf_counter()
    loaded = load_prices(settings.data, prices)
    t1 = time.perf_counter()
    cube = compute_features(loaded.prices, settings.features)
    t2 = time.perf_counter()
    day = asof or loaded.prices["date"][-1]
    win = windows_asof(cube, day, settings.features.window)
    every = training_windows(cube, settings.features.window, None, None)
    t3 = time.perf_counter()

    dates = loaded.prices["date"]
    classes: dict[str, int] = {}
    for t in loaded.tickers:
        c = loaded.universe.class_of(t)
        classes[c] = classes.get(c, 0) + 1
    click.echo(f"source      {loaded.source}")
    click.echo(
        f"prices      {len(dates)} dates {dates[0]} .. {dates[-1]}, {len(loaded.tickers)} assets"
    )
    click.echo("classes     " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
    if loaded.dropped:
        click.echo(f"dropped     {len(loaded.dropped)}: " + ", ".join(sorted(loaded.dropped)))
    finite = np.isfinite(cube.values).all(axis=2).mean()
    click.echo(f"features    {', '.join(cube.names)} ({finite:.1%} of asset-days defined)")
    click.echo(
        f"windows     as of {win.asof}: {len(win.tickers)} assets x {settings.features.window} days"
        f" x {len(cube.names)} features; {len(win.skipped)} without a complete window"
    )
    click.echo(f"            all dates: {len(every):,} complete windows")
    click.echo(f"timings     load {t1 - t0:.2f}s, features {t2 - t1:.2f}s, windows {t3 - t2:.2f}s")
