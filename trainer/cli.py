"""``deepquant train``: prices -> one model bundle, or one per walk-forward retrain date."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click

from shared.config import load_settings
from shared.options import DATE, config_option, prices_option

log = logging.getLogger("deepquant.train")


@click.command()
@config_option
@prices_option
@click.option(
    "--start", type=DATE, default=None, help="First training day (overrides [train] start)."
)
@click.option("--end", type=DATE, default=None, help="Last training day (overrides [train] end).")
@click.option(
    "--retrain-every",
    "retrain_every",
    type=click.IntRange(min=0),
    default=None,
    help="Walk-forward: months between retrain dates in [start, end] (0: one bundle).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle folder; in walk-forward mode, the folder of <YYYY-MM-DD>/ bundles.",
)
def train(
    config_path: Path,
    prices_path: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    retrain_every: int | None,
    out_dir: Path,
) -> None:
    """Train the autoencoder and write its bundle (model.onnx + manifest.json).

    One bundle: trained on window end days in [start, end]; end defaults to
    the last price date and start to [train] train_years before end.

    Walk-forward (--retrain-every N): one bundle per date start, start + N
    months, ... up to end, each trained on the train_years before that date
    (that date excluded), written to OUT/<date>/. start defaults to the first
    price date plus train_years, end to the last price date.
    """
    from shared.prices import load_prices
    from trainer.walkforward import add_months, train_bundle, train_walk_forward, years_before

    settings = load_settings(config_path)
    ts = settings.train
    start = start or ts.start
    end = end or ts.end
    every = ts.retrain_every if retrain_every is None else retrain_every
    if start and end and end <= start:
        raise click.BadParameter(f"end {end} is not after start {start}", param_hint="--end")

    data = load_prices(settings.data, prices_path)
    dates = data.prices["date"]
    first, last = dates[0], dates[-1]
    if every:
        wf_start = start or add_months(first, round(12 * ts.train_years))
        paths = train_walk_forward(data.prices, settings, wf_start, end or last, every, out_dir)
        click.echo(f"wrote {len(paths)} bundles to {out_dir}")
        for path in paths:
            click.echo(f"  {path}")
        return
    end = end or last
    start = start or years_before(end, ts.train_years)
    path = train_bundle(data.prices, settings, start, end, out_dir, universe=data.universe)
    click.echo(f"wrote {path}")
