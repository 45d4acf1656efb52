"""``deepquant backtest``: the walk-forward backtest, its metrics and its report."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from shared.config import load_settings
from shared.options import DATE, config_option, model_option, out_option, prices_option

log = logging.getLogger("deepquant.backtest")


def _progress(i: int, n: int, day: dt.date) -> None:
    if i == 1 or i == n or i % 12 == 0:
        log.info("rebalance %d/%d %s", i, n, day)


def _facts(
    data: Any, config: Path, prices: Path | None, model: Path, start: dt.date, end: dt.date
) -> Any:
    """What the report says about the inputs: names only, never a local path."""
    from backtest.sections import RunFacts

    dates = data.prices["date"]
    source = Path(data.source).name if "/" in data.source else data.source
    return RunFacts(
        config_name=config.name,
        start=start,
        end=end,
        data_first=dates[0],
        data_last=dates[-1],
        n_assets=len(data.tickers),
        source=source,
        model_name=model.name,
        prices_name=prices.name if prices is not None else None,
    )


_SURVIVORSHIP = (
    "The universe is the price file's list of instruments as it stands today: assets that "
    "were delisted earlier are missing (survivorship bias), for every series alike."
)


@click.command()
@config_option
@prices_option
@model_option("Folder of walk-forward bundles (or one bundle trained before --start).")
@click.option("--start", required=True, type=DATE, help="First possible rebalance date.")
@click.option("--end", required=True, type=DATE, help="Last date of the backtest.")
@out_option("Folder for returns.csv, weights.csv, rebalances.csv, metrics.json, charts, report.")
def backtest(
    config: Path, prices: Path | None, model: Path, start: dt.date, end: dt.date, out: Path
) -> None:
    """Walk-forward backtest of the strategy against the benchmark and baselines."""
    from backtest.artifacts import write_backtest
    from backtest.engine import run_backtest
    from backtest.names import series_label
    from backtest.report import metrics_markdown
    from shared.errors import DataError
    from shared.prices import load_prices
    from shared.publish import OutputFolder

    if end <= start:
        raise DataError(f"--end {end} is not after --start {start}")
    settings = load_settings(config)
    with OutputFolder(out) as folder:
        data = load_prices(settings.data, prices)
        result = run_backtest(data.prices, settings, model, start, end, progress=_progress)
        facts = replace(
            _facts(data, config, prices, model, start, end), notes=(_SURVIVORSHIP, *result.notes)
        )
        # The whole folder is one set: a new backtest replaces every file of the last.
        folder.publish(
            "backtest",
            lambda stage: write_backtest(
                result,
                stage,
                prices=data.prices,
                universe=data.universe,
                settings=settings,
                facts=facts,
            ).values(),
            last=("report.html",),
        )
    click.echo(metrics_markdown(result.metrics, [series_label(n) for n in result.metrics]))
    click.echo(f"report: {folder.path / 'report.html'}")
