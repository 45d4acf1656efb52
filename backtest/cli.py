"""``deepquant backtest``: the walk-forward backtest, its metrics and its report."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click

from shared.config import load_settings
from shared.options import (
    DATE,
    config_option,
    model_option,
    out_option,
    prices_option,
    regime_history_option,
)

log = logging.getLogger("deepquant.backtest")


def _progress(i: int, n: int, day: dt.date) -> None:
    if i == 1 or i == n or i % 12 == 0:
        log.info("rebalance %d/%d %s", i, n, day)


@click.command()
@config_option
@prices_option
@regime_history_option
@model_option("Folder of walk-forward bundles (or one bundle trained by the first rebalance).")
@click.option("--start", required=True, type=DATE, help="First possible rebalance date.")
@click.option("--end", required=True, type=DATE, help="Last date of the backtest.")
@out_option("Folder for returns.csv, weights.csv, rebalances.csv, metrics.json, charts, report.")
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Draw the charts and report (--no-report: the data alone; `deepquant report` later).",
)
def backtest(
    config: Path,
    prices: Path | None,
    regime_history: Path | None,
    model: Path,
    start: dt.date,
    end: dt.date,
    out: Path,
    report: bool,
) -> None:
    """Walk-forward backtest of the strategy against the benchmark and baselines."""
    from backtest.job import BacktestJob, run_job
    from backtest.names import series_label
    from backtest.report import metrics_markdown
    from shared.errors import DataError
    from shared.prices import load_prices

    if end <= start:
        raise DataError(f"--end {end} is not after --start {start}")
    settings = load_settings(config, regime_history)
    data = load_prices(settings.data, prices)
    job = BacktestJob(model, start, end, out, config.name, prices.name if prices else None)
    result = run_job(data, settings, job, progress=_progress, draw=report)
    click.echo(metrics_markdown(result.metrics, [series_label(n) for n in result.metrics]))
    click.echo(f"report: {out / 'report.html'}" if report else f"data: {out} (no report drawn)")


@click.command("report")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def report_command(folder: Path) -> None:
    """Draw a backtest folder's charts and report from the files the backtest wrote."""
    from backtest.job import draw_report

    click.echo(f"report: {draw_report(folder)}")
