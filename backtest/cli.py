"""``deepquant backtest``: the walk-forward backtest, its metrics and its report."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import click

from shared.config import Settings, load_settings
from shared.options import DATE, config_option, model_option, out_option, prices_option

log = logging.getLogger("deepquant.backtest")


def _progress(i: int, n: int, day: dt.date) -> None:
    if i == 1 or i == n or i % 12 == 0:
        log.info("rebalance %d/%d %s", i, n, day)


def _meta(
    result: Any, settings: Settings, n_assets: int, source: str, model: Path
) -> dict[str, str]:
    """The report's set-up table."""
    cfg = settings.backtest
    bundles = sorted({a.bundle_path for a in result.allocations})
    return {
        "period": f"{result.returns['date'][0]} .. {result.returns['date'][-1]}",
        "rebalance": f"{cfg.rebalance}, {len(result.turnover['strategy'])} times",
        "costs": f"{cfg.cost_bps:g} bps + {cfg.slippage_bps:g} bps slippage per unit of turnover",
        "benchmark": settings.data.benchmark,
        "universe": f"{n_assets} assets ({source})",
        "models": f"{len(bundles)} bundle(s) in {model}",
        "allocation": f"{settings.inference.method}, clusters {settings.inference.n_clusters}",
        "calendar": f"{result.periods_per_year:.1f} trading days per year",
    }


def _notes(result: Any, settings: Settings) -> list[str]:
    cash = "the risk-free rate" if settings.backtest.cash == "risk_free" else "nothing"
    return [
        "Every decision uses prices up to its rebalance date and a model trained before it.",
        "The universe is the price file's list of instruments as it stands today: assets that "
        "were delisted earlier are missing (survivorship bias), for every line alike.",
        f"Cash earns {cash}.",
        *result.notes,
    ]


@click.command()
@config_option
@prices_option
@model_option("Folder of walk-forward bundles (or one bundle trained before --start).")
@click.option("--start", required=True, type=DATE, help="First possible rebalance date.")
@click.option("--end", required=True, type=DATE, help="Last date of the backtest.")
@out_option("Folder for returns.csv, weights.csv, metrics.json, charts and report.")
def backtest(
    config: Path, prices: Path | None, model: Path, start: dt.date, end: dt.date, out: Path
) -> None:
    """Walk-forward backtest of the strategy against the benchmark and baselines."""
    from backtest.artifacts import write_backtest
    from backtest.engine import run_backtest
    from backtest.report import metrics_markdown
    from shared.errors import DataError
    from shared.prices import load_prices
    from shared.publish import OutputFolder

    t0 = time.perf_counter()
    if end <= start:
        raise DataError(f"--end {end} is not after --start {start}")
    settings = load_settings(config)
    with OutputFolder(out) as folder:
        data = load_prices(settings.data, prices)
        result = run_backtest(data.prices, settings, model, start, end, progress=_progress)
        meta = _meta(result, settings, len(data.tickers), data.source, model)
        # The whole folder is one set: a new backtest replaces every file of the last.
        folder.publish(
            "backtest",
            lambda stage: write_backtest(
                result,
                stage,
                prices=data.prices,
                universe=data.universe,
                settings=settings,
                meta={**meta, "run time": f"{time.perf_counter() - t0:.1f} s"},
                notes=_notes(result, settings),
            ).values(),
            last=("report.html",),
        )
    click.echo(metrics_markdown(result.metrics))
    click.echo(f"report: {folder.path / 'report.html'}")
