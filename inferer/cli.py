"""``deepquant infer``: the cron job. onnxruntime only; never imports torch."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl

from shared.config import Settings, load_settings
from shared.options import (
    asof_option,
    config_option,
    model_option,
    naming,
    out_option,
    prices_option,
    regime_history_option,
)
from shared.windows import effective_asof

if TYPE_CHECKING:
    from inferer.pipeline import AsofDecision
    from inferer.regime import Regimes
    from inferer.trades import Orders
    from shared.prices import PriceData
    from shared.universe import Universe

log = logging.getLogger("deepquant.infer")

#: The largest --capital: whole-share counts of more overflow PyPortfolioOpt's arithmetic.
MAX_CAPITAL = 1e15


@click.command()
@config_option
@prices_option
@regime_history_option
@model_option("A bundle, or a folder of bundles (the newest trained on or before --asof is used).")
@asof_option
@click.option(
    "--holdings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of what is held now: ticker and weight, or ticker and shares "
    "(default: the last weights_<date>.csv in --out).",
)
@click.option(
    "--capital",
    type=click.FloatRange(min=0, min_open=True, max=MAX_CAPITAL),
    default=None,
    help="Amount to invest (at most 1e15): adds whole share counts at the latest prices.",
)
@out_option("Folder for weights_<date>.csv, trades_<date>.csv and run_<date>.json.")
def infer(
    config: Path,
    prices: Path | None,
    regime_history: Path | None,
    model: Path,
    asof: dt.date | None,
    holdings: Path | None,
    capital: float | None,
    out: Path,
) -> None:
    """Embed, cluster, select and allocate as of a date; write weights, trades and run JSON."""
    from inferer.output import weights_name, write_outputs
    from shared.prices import load_prices
    from shared.publish import OutputFolder

    t0 = time.perf_counter()
    settings = load_settings(config, regime_history)
    with OutputFolder(out) as folder:
        data = load_prices(settings.data, prices)
        alloc, data_end = _allocate(data, settings, model, asof, folder.path)
        orders = _orders(data, settings, alloc, holdings, capital, folder.path)
        # The weights file is the book after the trades, what the next run holds.
        booked = replace(alloc, weights=orders.book) if orders.book != alloc.weights else alloc
        run_path, _, csv_path = folder.publish(
            f"infer_{alloc.asof}",
            lambda stage: write_outputs(
                booked,
                stage,
                data.universe,
                config_digest=settings.digest(),
                requested_asof=asof,
                data_end=data_end,
                orders=orders,
                dropped=data.dropped,
            ),
            last=(weights_name(alloc.asof),),
        )
    _echo(alloc, data.universe)
    cash = orders.leftover_cash
    click.echo(
        f"trades against {orders.holdings}: one-way turnover {orders.turnover:.1%}, "
        f"estimated cost {orders.cost:.3%}" + (f", leftover cash {cash:,.2f}" if cash else "")
    )
    click.echo(f"wrote {csv_path} and {run_path.name} in {time.perf_counter() - t0:.2f}s")


def _orders(
    data: PriceData,
    settings: Settings,
    alloc: AsofDecision,
    holdings: Path | None,
    capital: float | None,
    out: Path,
) -> Orders:
    """The trades the run makes from what is held (``--holdings``, else the last weights
    written) toward the target, under ``[trading]`` as the backtest trades."""
    from inferer.output import previous_weights
    from inferer.trades import make_orders, read_holdings, traded_book

    prices: dict[str, float] = {}
    if holdings or capital:  # share counts need prices; weights alone do not
        past = data.prices.filter(pl.col("date") <= alloc.asof)
        # The latest price of each asset, even one that did not trade on the as-of day.
        latest = past.drop("date").select(pl.all().drop_nulls().last()).row(0, named=True)
        prices = {t: float(p) for t, p in latest.items() if p is not None}
    if holdings:
        with naming("--holdings"):
            held = read_holdings(holdings, prices)
    else:
        held = previous_weights(out, alloc.asof)
    cost_bps = settings.backtest.cost_bps + settings.backtest.slippage_bps
    book = traded_book(held.weights, alloc.weights, settings.trading)
    with naming("--capital"):
        return make_orders(held, book, prices, cost_bps, capital, target=alloc.weights)


def _allocate(
    data: PriceData, settings: Settings, model: Path, asof: dt.date | None, out: Path
) -> tuple[AsofDecision, dt.date]:
    """The decision for the effective as-of date, and the last date with prices.

    The incumbents of selection hysteresis are the last weights written before
    that date, so a rerun of the same date decides the same.
    """
    from inferer.output import previous_clusters, previous_weights
    from inferer.pipeline import decide_asof
    from shared.bundle import find_bundle

    data_end = data.prices["date"][-1]
    if isinstance(settings.inference.risk_free, str):
        data.require(settings.inference.risk_free, "risk-free ticker")
    with naming("--asof"):
        day = effective_asof(data.prices["date"], asof)
    bundle = find_bundle(model, day, features=settings.features)
    if bundle.manifest.train_end_date > day:
        log.warning(
            "model %s was trained on data up to %s, after %s: fine for today's "
            "allocation, look-ahead for a historical one",
            bundle.path,
            bundle.manifest.train_end,
            day,
        )
    held = previous_weights(out, day - dt.timedelta(days=1)).weights
    alloc = decide_asof(
        data.prices, day, bundle, settings, incumbents=held, classes=data.universe.asset_class,
        regimes=_regimes(settings, data), previous=previous_clusters(out, day),
    )  # fmt: skip
    return replace(alloc, timings={**data.timings, **alloc.timings}), data_end


def _regimes(settings: Settings, data: PriceData) -> Regimes | None:
    """The regime layer's readings (None with it off, and then nothing of it is imported)."""
    if not settings.regime.enabled:
        return None
    from inferer.regime import Regimes
    from shared.regime import load_history

    history = load_history(settings, data)
    return None if history is None else Regimes(history, settings)


def _echo(alloc: AsofDecision, universe: Universe) -> None:
    from inferer.output import weights_frame

    for why in alloc.notes.values():  # the rules that moved weight to cash, said aloud
        log.warning("construction: %s", why)

    table = weights_frame(alloc, universe).drop("asof")
    with_pct = table.with_columns((table["weight"] * 100).round(2).alias("weight_%")).drop("weight")
    click.echo(
        f"as of {alloc.asof}: {len(alloc.weights)} assets from "
        f"{alloc.clustering.n_clusters} clusters, method {alloc.method_used}"
        + (f" (fallback: {alloc.fallback_reason})" if alloc.fallback_reason else "")
    )
    if alloc.regime is not None:
        r = alloc.regime
        click.echo(
            f"regime ({r.model}): {'stressed' if r.stressed else 'calm'} since {r.since} "
            f"({r.days} trading days), probability of stress {r.stress:.2f}, "
            f"{r.exposure:.0%} of the risky book held"
        )
    for row in with_pct.iter_rows(named=True):
        click.echo(
            f"  {row['ticker']:<10} {row['weight_%']:6.2f}%  cluster {row['cluster']:<3}"
            f" {row['asset_class']}"
        )
