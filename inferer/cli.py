"""``deepquant infer``: the cron job. onnxruntime only; never imports torch."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.config import Settings, load_settings
from shared.options import asof_option, config_option, model_option, out_option, prices_option
from shared.windows import effective_asof

if TYPE_CHECKING:
    from inferer.pipeline import Allocation
    from shared.prices import PriceData
    from shared.universe import Universe

log = logging.getLogger("deepquant.infer")


@click.command()
@config_option
@prices_option
@model_option("A bundle, or a folder of bundles (the newest trained before --asof is used).")
@asof_option
@out_option("Folder for weights_<date>.csv and run_<date>.json.")
def infer(config: Path, prices: Path | None, model: Path, asof: dt.date | None, out: Path) -> None:
    """Embed, cluster, select and allocate as of a date; write weight CSV and run JSON."""
    from inferer.output import write_outputs
    from shared.prices import load_prices
    from shared.publish import OutputFolder

    t0 = time.perf_counter()
    settings = load_settings(config)
    with OutputFolder(out) as folder:
        data = load_prices(settings.data, prices)
        alloc, data_end = _allocate(data, settings, model, asof)
        run_path, csv_path = folder.publish(
            f"infer_{alloc.asof}",
            lambda stage: write_outputs(
                alloc,
                stage,
                data.universe,
                config_digest=settings.digest(),
                requested_asof=asof,
                data_end=data_end,
            ),
            last=(f"weights_{alloc.asof}.csv",),
        )
    _echo(alloc, data.universe)
    click.echo(f"wrote {csv_path} and {run_path.name} in {time.perf_counter() - t0:.2f}s")


def _allocate(
    data: PriceData, settings: Settings, model: Path, asof: dt.date | None
) -> tuple[Allocation, dt.date]:
    """The decision for the effective as-of date, and the last date with prices."""
    from inferer.pipeline import allocate_asof
    from shared.bundle import find_bundle

    data_end = data.prices["date"][-1]
    day = effective_asof(data.prices["date"], asof)
    bundle = find_bundle(model, day, features=settings.features)
    if bundle.manifest.train_end_date >= day:
        log.warning(
            "model %s was trained on data up to %s, not before %s: fine for today's "
            "allocation, look-ahead for a historical one",
            bundle.path,
            bundle.manifest.train_end,
            day,
        )
    alloc = allocate_asof(data.prices, day, bundle, settings)
    return replace(alloc, timings={**data.timings, **alloc.timings}), data_end


def _echo(alloc: Allocation, universe: Universe) -> None:
    from inferer.output import weights_frame

    table = weights_frame(alloc, universe).drop("asof")
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
