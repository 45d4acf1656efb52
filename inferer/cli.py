"""``deepquant infer``: the cron job. onnxruntime only; never imports torch."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import click

from shared.config import load_settings
from shared.options import DATE, config_option, prices_option

log = logging.getLogger("deepquant.infer")


@click.command()
@config_option
@prices_option
@click.option(
    "--model",
    "model_dir",
    required=True,
    envvar="DEEPQUANT_MODEL",
    type=click.Path(path_type=Path),
    help="A bundle, or a folder of bundles (the newest trained before --asof is used).",
)
@click.option(
    "--asof",
    type=DATE,
    default=None,
    envvar="DEEPQUANT_ASOF",
    help="Decision date (default: last date).",
)
@click.option(
    "--out", "out_dir", required=True, envvar="DEEPQUANT_OUT", type=click.Path(path_type=Path)
)
def infer(
    config_path: Path,
    prices_path: Path | None,
    model_dir: Path,
    asof: dt.date | None,
    out_dir: Path,
) -> None:
    """Embed, cluster, select and allocate as of a date; write weight CSV and run JSON."""
    from inferer.output import weights_frame, write_outputs
    from inferer.pipeline import allocate_asof
    from shared.bundle import find_bundle
    from shared.prices import load_prices

    t0 = time.perf_counter()
    settings = load_settings(config_path)
    data = load_prices(settings.data, prices_path)
    data_end = data.prices["date"][-1]
    day = asof or data_end
    bundle = find_bundle(model_dir, day, features=settings.features)
    if bundle.manifest.train_end_date >= day:
        log.warning(
            "model %s was trained on data up to %s, not before %s: fine for today's "
            "allocation, look-ahead for a historical one",
            bundle.path,
            bundle.manifest.train_end,
            day,
        )
    alloc = allocate_asof(data.prices, day, bundle, settings)
    csv_path, run_path = write_outputs(
        alloc,
        out_dir,
        data.universe,
        config_digest=settings.digest(),
        requested_asof=asof,
        data_end=data_end,
    )
    table = weights_frame(alloc, data.universe).drop("asof")
    with_pct = table.with_columns((table["weight"] * 100).round(2).alias("weight_%")).drop("weight")
    click.echo(
        f"as of {alloc.asof}: {len(alloc.weights)} assets from "
        f"{alloc.clustering.n_clusters} clusters, method {alloc.method_used}"
        + (f" (fallback: {alloc.fallback_reason})" if alloc.fallback_reason else "")
    )
    for row in with_pct.iter_rows(named=True):
        click.echo(
            f"  {row['ticker']:<10} {row['weight_%']:6.2f}%  cluster {row['cluster']:<3}"
            f" {row['asset_class']}"
        )
    click.echo(f"wrote {csv_path} and {run_path.name} in {time.perf_counter() - t0:.2f}s")


@click.command()
@config_option
@prices_option
@click.option(
    "--models",
    "models_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of walk-forward bundles (or one bundle trained before --start).",
)
@click.option("--start", required=True, type=DATE, help="First possible rebalance date.")
@click.option("--end", required=True, type=DATE, help="Last date of the backtest.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
def backtest(
    config_path: Path,
    prices_path: Path | None,
    models_dir: Path,
    start: dt.date,
    end: dt.date,
    out_dir: Path,
) -> None:
    """Walk-forward backtest of the strategy against the benchmark and baselines."""
    from shared.errors import DeepQuantError

    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        raise DeepQuantError(
            "backtest needs the 'report' extra for its charts: pip install 'deepquant[report]'"
        ) from None
    from inferer.artifacts import write_backtest
    from inferer.backtest import run_backtest
    from inferer.report import metrics_markdown
    from shared.errors import DataError
    from shared.prices import load_prices

    t0 = time.perf_counter()
    if end <= start:
        raise DataError(f"--end {end} is not after --start {start}")
    settings = load_settings(config_path)
    data = load_prices(settings.data, prices_path)

    def progress(i: int, n: int, day: dt.date) -> None:
        if i == 1 or i == n or i % 12 == 0:
            click.echo(f"rebalance {i}/{n} {day}", err=True)

    result = run_backtest(data.prices, settings, models_dir, start, end, progress=progress)
    cfg = settings.backtest
    bundles = sorted({a.bundle_path for a in result.allocations})
    meta = {
        "period": f"{result.returns['date'][0]} .. {result.returns['date'][-1]}",
        "rebalance": f"{cfg.rebalance}, {len(result.turnover['strategy'])} times",
        "costs": f"{cfg.cost_bps:g} bps + {cfg.slippage_bps:g} bps slippage per unit of turnover",
        "benchmark": settings.data.benchmark,
        "universe": f"{len(data.tickers)} assets ({data.source})",
        "models": f"{len(bundles)} bundle(s) in {models_dir}",
        "allocation": f"{settings.inference.method}, clusters {settings.inference.n_clusters}",
        "calendar": f"{result.periods_per_year:.1f} trading days per year",
    }
    notes = [
        "Every decision uses prices up to its rebalance date and a model trained before it.",
        "The universe is the price file's list of instruments as it stands today: assets that "
        "were delisted earlier are missing (survivorship bias), for every line alike.",
        f"Cash earns {'the risk-free rate' if cfg.cash == 'risk_free' else 'nothing'}.",
        *result.notes,
    ]
    paths = write_backtest(
        result,
        out_dir,
        prices=data.prices,
        universe=data.universe,
        lookback=settings.inference.lookback,
        n_portfolios=cfg.frontier_portfolios,
        seed=cfg.seed,
        meta={**meta, "run time": f"{time.perf_counter() - t0:.1f} s"},
        notes=notes,
    )
    click.echo(metrics_markdown(result.metrics))
    click.echo(f"report: {paths['report']}")
