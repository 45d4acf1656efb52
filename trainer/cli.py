"""``deepquant train``: prices -> one model bundle, or one per walk-forward retrain date."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.config import load_settings

if TYPE_CHECKING:
    import polars as pl

    from shared.config import Settings
    from shared.regime import History
from shared.options import (
    DATE,
    config_option,
    out_option,
    prices_option,
    ray_address_option,
    regime_history_option,
)

log = logging.getLogger("deepquant.train")


@click.command()
@config_option
@prices_option
@regime_history_option
@click.option(
    "--start", type=DATE, default=None, help="First training day (overrides [train] start)."
)
@click.option("--end", type=DATE, default=None, help="Last training day (overrides [train] end).")
@click.option(
    "--retrain-every",
    "retrain_every",
    type=click.IntRange(min=1),
    default=None,
    help="Walk-forward: one bundle every N months in [start, end]. Without it: one bundle.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Walk-forward: train this many bundles at once, as Ray tasks (the `scale` extra).",
)
@ray_address_option
@out_option(
    "Bundle folder; in walk-forward mode, the folder of <YYYY-MM-DD>/ bundles.", file_okay=False
)
def train(
    config: Path,
    prices: Path | None,
    regime_history: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    retrain_every: int | None,
    workers: int,
    address: str | None,
    out: Path,
) -> None:
    """Train the autoencoder and write its bundle (model.onnx + manifest.json).

    One bundle: trained on window end days in [start, end]; end defaults to
    the last price date and start to [train] train_years before end.

    Walk-forward (--retrain-every N): one bundle per date start, start + N
    months, ... up to end, each trained on the train_years before that date
    (that date excluded), written to OUT/<date>/. start defaults to the first
    price date plus train_years, end to the last price date. With --workers K
    (or --address) the bundles train as parallel Ray tasks; each comes out
    as it would one after the other.
    """
    from shared.prices import load_prices
    from shared.regime import load_history
    from trainer.walkforward import (
        add_months,
        train_bundle,
        years_before,
    )

    settings = load_settings(config, regime_history)
    ts = settings.train
    start = start or ts.start
    end = end or ts.end
    every = retrain_every
    if start and end and end <= start:
        raise click.BadParameter(f"end {end} is not after start {start}", param_hint="--end")
    parallel = workers > 1 or address is not None
    if parallel and not every:
        raise click.BadParameter(
            "needs --retrain-every: one bundle is one task", param_hint="--workers"
        )

    _check_out(out, walk_forward=bool(every))
    data = load_prices(settings.data, prices)
    history = load_history(settings, data)
    dates = data.prices["date"]
    first, last = dates[0], dates[-1]
    if every:
        wf_start = start or add_months(first, round(12 * ts.train_years))
        click.echo(f"walk-forward: a bundle every {every} months {wf_start} .. {end or last}")
        span = (wf_start, end or last)
        paths = _train_series(data.prices, settings, span, every, out, (workers, address), history)
        click.echo(f"wrote {len(paths)} bundles to {out}")
        for path in paths:
            click.echo(f"  {path}")
        return
    end = end or last
    start = start or years_before(end, ts.train_years)
    click.echo(f"one bundle, trained on {start} .. {end}")
    path = train_bundle(
        data.prices, settings, start, end, out, universe=data.universe, history=history
    )
    click.echo(f"wrote {path}")


def _train_series(
    prices: pl.DataFrame,
    settings: Settings,
    span: tuple[dt.date, dt.date],
    every: int,
    out: Path,
    ray: tuple[int, str | None],
    history: History | None,
) -> list[Path]:
    """A bundle every ``every`` months over ``span``: one after the other, or as Ray tasks."""
    from trainer.walkforward import series_periods, train_walk_forward

    workers, address = ray
    if workers > 1 or address is not None:
        from trainer.parallel import train_series

        periods = series_periods(*span, every, settings.train.train_years)
        return train_series(prices, settings, periods, out, workers, address, history)
    return train_walk_forward(prices, settings, *span, every, out, history)


def _check_out(out: Path, *, walk_forward: bool) -> None:
    """``--out`` checked before the training, as every command checks it before its work."""
    from shared.publish import writable_folder
    from trainer.export import check_target

    if walk_forward:
        writable_folder(out)  # the folder of the series' bundles
        return
    writable_folder(out.parent)  # the bundle itself appears whole at the end
    check_target(out)
