"""A sweep's results in one place: a row per job and series, the trial ledger, a chart, a summary.

``results.parquet`` / ``results.csv``: ``variant``, ``seed``, ``cost_bps``,
``series`` (strategy, benchmark, baselines) and every metric of the job's
``metrics.json``; with a trial ledger, also the strategy's ``dsr_ledger``:
its deflated Sharpe ratio counting every trial of the ledger for the
period once this sweep's are added (:func:`deflated`).

``ledger.csv``: every trial the sweep ran (each variant x seed x cost) in
the schema of :mod:`backtest.ledger`, with the strategy's daily-return count
and Sharpe ratio over the risk-free rate: the count of variants tried, which
a reader of any one result must know, and what a deflated Sharpe ratio
counts (``deepquant sweep --ledger`` adds them to the repository's ledger).

``sharpe.png``: the strategy's Sharpe ratio per variant, seeds as points,
with its 90% bootstrap interval (the mean bounds over the variant's runs)
as a whisker, and the benchmark's as a line. ``summary.md``: the table a
reviewer reads first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl

from backtest import plots
from backtest.ledger import COLUMNS, record, trial_sharpes
from backtest.report import format_value
from backtest.report_file import INPUTS
from backtest.statistics import deflated_sharpe
from shared.atomic import atomic_open, atomic_write_text, remove_leftovers
from sweep.grid import Grid

__all__ = ["aggregate", "deflated", "strategy_excess"]


#: The results table of a sweep, in its folder.
RESULTS = "results.parquet"


def _rows(grid: Grid, out: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for job in grid.jobs:
        metrics = json.loads((out / job.label / "metrics.json").read_text())
        for series, values in metrics.items():
            rows.append(
                {"variant": job.variant, "seed": job.seed, "cost_bps": job.cost_bps,
                 "series": series, **{k: (math.nan if v is None else v) for k, v in values.items()}}
            )  # fmt: skip
    return rows


def ledger(grid: Grid, out: Path) -> pl.DataFrame:
    """One row per trial (:data:`backtest.ledger.COLUMNS`): the strategy's Sharpe ratio."""
    rows = []
    for job in grid.jobs:
        metrics = json.loads((out / job.label / "metrics.json").read_text())
        days = pl.read_csv(out / job.label / "returns.csv", columns=["date"]).height
        rows.append(
            {
                "start": grid.start, "end": grid.end, "variant": job.variant, "seed": job.seed,
                "cost_bps": job.cost_bps, "n_days": days, "sharpe": metrics["strategy"]["sharpe"],
            }
        )  # fmt: skip
    return pl.DataFrame(rows).select(COLUMNS)


def strategy_excess(folder: Path) -> tuple[np.ndarray, float]:
    """The strategy's daily returns over the risk-free rate, and periods a year, of a job."""
    inputs = json.loads((folder / INPUTS).read_text())
    rf = np.array([math.nan if v is None else v for v in inputs["risk_free"]], dtype=np.float64)
    strategy = pl.read_csv(folder / "returns.csv", columns=["strategy"])["strategy"].to_numpy()
    return strategy - rf, float(inputs["periods_per_year"])


def deflated(results: pl.DataFrame, grid: Grid, out: Path, trial_ledger: Path) -> pl.DataFrame:
    """``results`` with ``dsr_ledger``: each job's deflated Sharpe ratio counting every trial of
    ``trial_ledger`` for the period, this sweep's included (the jobs' own ``dsr`` count the
    trials recorded before they ran), and ``dsr_ledger_trials``, that count."""
    trials = np.asarray(trial_sharpes(trial_ledger, grid.start, grid.end), dtype=np.float64)
    trials = trials[np.isfinite(trials)]  # as deflated_sharpe counts them
    values = []
    for job in grid.jobs:
        excess, ppy = strategy_excess(out / job.label)
        per_period = (trials / math.sqrt(ppy)).tolist()
        dsr = deflated_sharpe(excess[np.isfinite(excess)], per_period)
        values.append({"variant": job.variant, "seed": job.seed, "series": "strategy",
                       "dsr_ledger": dsr, "dsr_ledger_trials": float(trials.size)})  # fmt: skip
    return results.join(pl.DataFrame(values), on=["variant", "seed", "series"], how="left")


def _summary(results: pl.DataFrame, trials: int, grid: Grid) -> str:
    strat = results.filter(pl.col("series") == "strategy")
    table = strat.group_by("variant", maintain_order=True).agg(
        pl.len().alias("runs"),
        pl.col("sharpe").mean().alias("sharpe"),
        pl.col("sharpe_lo").mean(),
        pl.col("sharpe_hi").mean(),
        pl.col("sharpe").min().alias("lo"),
        pl.col("sharpe").max().alias("hi"),
        pl.col("psr").mean(),
        pl.col("dsr_ledger" if "dsr_ledger" in strat.columns else "dsr").mean().alias("dsr"),
        pl.col("cagr").mean(),
        pl.col("ann_vol").mean(),
        pl.col("max_drawdown").mean(),
        pl.col("turnover").mean(),
    )
    bench = results.filter(pl.col("series") == "benchmark")["sharpe"].mean()
    lines = [
        "# Sweep summary",
        "",
        f"{len(grid.variants)} variant(s), {trials} trial(s) (variants x seeds x costs), "
        f"backtests {grid.start} .. {grid.end}. Every trial is in `ledger.csv`: a reader of "
        "the best one must discount it for all of them.",
        "",
        "| Variant | Runs | Sharpe (mean) [90% bootstrap] | Sharpe (min .. max over seeds) | "
        "PSR | DSR | CAGR | Volatility | Max drawdown | Turnover (one-way) |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v, n, s, b_lo, b_hi, lo, hi, psr, dsr, cagr, vol, dd, turn in table.iter_rows():
        lines.append(
            f"| {v} | {n} | {format_value(s, 'ratio')} [{format_value(b_lo, 'ratio')}, "
            f"{format_value(b_hi, 'ratio')}] | {format_value(lo, 'ratio')} .. "
            f"{format_value(hi, 'ratio')} | {format_value(psr, 'ratio')} | "
            f"{format_value(dsr, 'ratio')} | "
            f"{format_value(cagr, 'pct1')} | {format_value(vol, 'pct1')} | "
            f"{format_value(dd, 'pct1')} | {format_value(turn, 'pct1')} |"
        )
    lines += [
        "",
        f"The benchmark's Sharpe ratio over the same days: {format_value(bench, 'ratio')}. "
        "DSR: the deflated Sharpe ratio, counting every trial of the ledger for the period "
        "(with --ledger) or those recorded before the job ran.",
    ]
    return "\n".join(lines) + "\n"


def _mean(values: pl.Series) -> float:
    finite = values.to_numpy()[np.isfinite(values.to_numpy())]
    return float(finite.mean()) if finite.size else math.nan


def aggregate(grid: Grid, out: Path, trial_ledger: Path | None = None) -> pl.DataFrame:
    """Write results.parquet, results.csv, ledger.csv, sharpe.png and summary.md into ``out``.

    ``trial_ledger``: the repository's ledger (:mod:`backtest.ledger`), to which
    every trial of the sweep is added.
    """
    remove_leftovers(out)  # what an aggregation killed half-way left
    results = pl.DataFrame(_rows(grid, out))
    trials = ledger(grid, out)
    atomic_write_text(out / "ledger.csv", trials.write_csv())
    if trial_ledger is not None:
        record(trial_ledger, trials)
        results = deflated(results, grid, out, trial_ledger)
    with atomic_open(out / RESULTS, "wb") as fh:
        results.write_parquet(fh)
    atomic_write_text(out / "results.csv", results.write_csv())
    strat = results.filter(pl.col("series") == "strategy")
    bench = float(np.nanmean(results.filter(pl.col("series") == "benchmark")["sharpe"].to_numpy()))
    by_variant = {v: strat.filter(pl.col("variant") == v) for v in grid.variants}
    points = {v: rows["sharpe"].to_list() for v, rows in by_variant.items()}
    intervals = {
        v: (_mean(rows["sharpe_lo"]), _mean(rows["sharpe_hi"])) for v, rows in by_variant.items()
    }
    plots.save(plots.sweep_sharpes(points, bench, intervals), out / "sharpe.png")
    atomic_write_text(out / "summary.md", _summary(results, trials.height, grid))
    return results
