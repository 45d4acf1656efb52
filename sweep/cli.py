"""``deepquant sweep``: a research grid, trained and backtested as Ray tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from shared.choices import Reports
from shared.options import config_option, out_option, prices_option, ray_address_option

if TYPE_CHECKING:
    import polars as pl

    from sweep.grid import Grid
    from sweep.selection import Rule

log = logging.getLogger("deepquant.sweep")


@click.command()
@config_option
@prices_option
@click.option(
    "--grid",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Grid TOML: [period], seeds, cost_bps and [variants.NAME] overrides.",
)
@ray_address_option
@click.option(
    "--num-cpus",
    type=click.IntRange(min=1),
    default=None,
    help="Cores for the local Ray (default: all of this machine's).",
)
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Trial ledger CSV to add every job of the sweep to (deflated Sharpe ratios count them).",
)
@click.option(
    "--reports",
    type=click.Choice(get_args(Reports)),
    default="best",
    show_default=True,
    help="Whose charts and report to draw: the best variant's, all, or none (data only).",
)
@out_option("Folder of the sweep: bundles/, models/, cache/, <variant>/<seed>/, results.")
def sweep(
    config: Path,
    prices: Path | None,
    grid: Path,
    address: str | None,
    num_cpus: int | None,
    ledger: Path | None,
    reports: str,
    out: Path,
) -> None:
    """Train and backtest every variant x seed x cost of a grid; aggregate the results.

    Bundles are named by what they were trained on, so jobs that share a
    model share its bundles; embeddings and clusterings are cached by their
    inputs, so variants that differ only after clustering compute them once.
    Run it again to resume: finished tasks are kept. A grid with a
    [selection] table is a protocol: the rule then selects a variant
    (selection.md), and a [holdout] table runs it on the held-out period,
    once, into OUT/holdout/ (sweep/selection.py).
    """
    from shared.publish import writable_folder
    from sweep.grid import load_grid
    from sweep.selection import Rule

    jobs = load_grid(grid, config)
    rule = Rule.of(jobs) if jobs.selection is not None else None
    writable_folder(out)
    log.info(
        "sweep: %d variant(s), %d job(s), backtests %s .. %s",
        len(jobs.variants), len(jobs.jobs), jobs.start, jobs.end,
    )  # fmt: skip
    options = _Options(prices, config.name, address, num_cpus, ledger, reports)
    results = _run_grid(jobs, out, out, options)
    if rule is not None:
        _protocol(jobs, rule, results, out, options)


@dataclass(frozen=True)
class _Options:
    """What the command line tells every grid a sweep runs."""

    prices: Path | None
    config_name: str
    address: str | None
    num_cpus: int | None
    ledger: Path | None
    reports: str


def _run_grid(grid: Grid, out: Path, folder: Path, options: _Options) -> pl.DataFrame:
    """Train and backtest ``grid`` (its jobs' folders in ``folder``), aggregate, report."""
    from sweep.reports import draw
    from sweep.results import RESULTS, aggregate
    from sweep.run import run_sweep

    run_sweep(
        grid, out, prices_path=options.prices, config_name=options.config_name,
        address=options.address, num_cpus=options.num_cpus, draw=options.reports == "all",
        jobs_out=folder,
    )  # fmt: skip
    results = aggregate(grid, folder, options.ledger)
    for path in draw(grid, folder, results, options.reports):
        click.echo(f"report: {path}")
    click.echo((folder / "summary.md").read_text())
    click.echo(f"results: {folder / RESULTS}")
    return results


def _protocol(jobs: Grid, rule: Rule, results: pl.DataFrame, out: Path, options: _Options) -> None:
    """Apply the selection rule; with a [holdout] table, run the selected variant there once."""
    from sweep.selection import HOLDOUT, check_once, holdout_grid, select, write_choice

    choice = select(results, jobs, rule)
    folder = out / HOLDOUT
    if jobs.holdout is not None:
        check_once(folder, jobs, choice, rule)  # before selection.md: a refusal changes nothing
    click.echo(write_choice(choice, rule, out))
    if jobs.holdout is None:
        return
    held = holdout_grid(jobs, choice.variant)
    log.info("held-out period %s .. %s: %d job(s)", held.start, held.end, len(held.jobs))
    _run_grid(held, out, folder, options)
