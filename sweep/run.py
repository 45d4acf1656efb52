"""A sweep, top to bottom: load prices, train what is missing, backtest, aggregate.

Training tasks are one per distinct bundle (:mod:`sweep.keys`): jobs that
share a model share its bundles, which live in ``OUT/bundles/<key>/``; each
job's walk-forward series is a folder of links, ``OUT/models/<key>/<date>``.
Backtests run in two waves. First the cache of embeddings, clusterings and
baseline weights (``OUT/cache``, :mod:`inferer.memo`) is filled: for each
distinct series and clustering, its decision dates split into as many runs
as the series has bundles, one task each, all at once
(:func:`backtest.engine.warm_memo`). Then every job, each finding them
there. A finished task's output is kept: running the same sweep again
trains and backtests nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backtest.engine import decision_dates
from inferer.cluster import clustering_params
from inferer.memo import digest
from shared.bundle import is_bundle
from shared.parallel import Task, connect, cores_to_spare, gpus_for, run_tasks
from shared.prices import PriceData, load_prices
from sweep.grid import Grid, Job
from sweep.keys import bundle_key, data_key, series_key
from sweep.tasks import backtest_one, finished, warm_one
from trainer.parallel import train_one
from trainer.walkforward import Period, series_periods

log = logging.getLogger("deepquant.sweep")

__all__ = ["Plan", "Planned", "plan", "run_sweep"]


@dataclass(frozen=True)
class Planned:
    """A job, the prices it reads, and its walk-forward series of bundles."""

    job: Job
    data: str
    bundles: tuple[tuple[Period, str], ...]

    @property
    def series(self) -> str:
        return series_key(self.bundles)

    def job_key(self, grid: Grid) -> str:
        """What the job's backtest is computed from: settings, model series and period."""
        settings = sorted(self.job.settings.model_dump(mode="json").items())
        return digest(settings, self.series, grid.start.isoformat(), grid.end.isoformat())

    @property
    def wave_key(self) -> str:
        """Jobs with the same key compute the same embeddings and clusterings."""
        cfg, bt = self.job.settings.inference, self.job.settings.backtest
        return digest(self.series, *clustering_params(cfg).values(), cfg.lookback, cfg.embed_days,
                      cfg.smooth_months, bt.rebalance, bt.execution_lag)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Every job with its inputs, and the prices of each distinct ``[data]`` section."""

    jobs: tuple[Planned, ...]
    prices: dict[str, PriceData]


def plan(grid: Grid, prices_path: Path | None) -> Plan:
    """Load each distinct ``[data]`` once and name every job's bundles."""
    loaded: dict[str, PriceData] = {}
    by_section: dict[str, str] = {}
    jobs = []
    for job in grid.jobs:
        section = digest(job.settings.data.model_dump(mode="json"))
        if section not in by_section:
            data = load_prices(job.settings.data, prices_path)
            by_section[section] = data_key(data.prices)
            loaded[by_section[section]] = data
        key = by_section[section]
        periods = series_periods(
            grid.train_start, grid.end, grid.retrain_every, job.settings.train.train_years
        )
        bundles = tuple((p, bundle_key(key, job.settings, p)) for p in periods)
        jobs.append(Planned(job, key, bundles))
    return Plan(tuple(jobs), loaded)


def _train(plan: Plan, out: Path) -> None:
    import ray

    refs = {key: ray.put(data.prices) for key, data in plan.prices.items()}
    keys = {key for p in plan.jobs for _, key in p.bundles}
    missing = {key for key in keys if not is_bundle(out / "bundles" / key)}
    spare = cores_to_spare(len(missing))  # an ensemble's members as tasks too (trainer/members.py)
    tasks: dict[str, Task] = {}
    for p in plan.jobs:
        for period, key in p.bundles:
            target = out / "bundles" / key
            if key in tasks or is_bundle(target):
                continue
            settings = p.job.settings.model_dump(mode="json")
            tasks[key] = Task(
                name=f"bundle {period.day} seed {p.job.seed} ({key})",
                fn=train_one,
                args=(refs[p.data], settings, period, str(target), None, spare),
                log_path=out / "bundles" / f"{key}.log",
                num_gpus=gpus_for(p.job.settings),
            )
    log.info("sweep: %d bundle(s) to train", len(tasks))
    run_tasks(list(tasks.values()), "trained")


def _link_series(p: Planned, out: Path) -> Path:
    """``OUT/models/<series>/<date>`` -> the bundle, relative, so the folder can move."""
    folder = out / "models" / p.series
    folder.mkdir(parents=True, exist_ok=True)
    for period, key in p.bundles:
        link = folder / period.day.isoformat()
        if not link.is_symlink():
            os.symlink(Path("..") / ".." / "bundles" / key, link, target_is_directory=True)
    return folder


def chunks(days: list[dt.date], n: int, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``[start, end]`` of ``n`` runs of consecutive decision ``days``, together all of them.

    Each run starts on its first day (a decision date, so the backtest's
    first decision there is that day) and ends the day before the next run's.
    """
    parts = [part for part in np.array_split(np.arange(len(days)), n) if part.size]
    starts = [days[int(part[0])] for part in parts]
    ends = [day - dt.timedelta(days=1) for day in starts[1:]] + [end]
    return list(zip(starts, ends, strict=True))


def _warm_tasks(
    p: Planned, grid: Grid, data: PriceData, ref: object, models: Path, out: Path
) -> list[Task]:
    """The tasks that fill the cache for ``p``'s series and clustering, one per run of dates."""
    days = decision_dates(data.prices, grid.start, grid.end, p.job.settings.backtest)
    settings = p.job.settings.model_dump(mode="json")
    runs = chunks(days, len(p.bundles), grid.end)
    return [
        Task(
            name=f"cache {p.series[:8]} {first} .. {last}",
            fn=warm_one,
            args=(ref, settings, str(models), first, last, str(out / "cache")),
            log_path=out / "cache" / "logs" / f"{p.wave_key[:12]}-{first}.log",
        )
        for first, last in runs
    ]


def _backtests(
    plan: Plan, grid: Grid, out: Path, jobs_out: Path, names: tuple[str, str | None], draw: bool
) -> None:
    import ray

    refs = {key: ray.put(data) for key, data in plan.prices.items()}
    warm: list[Task] = []
    jobs: list[Task] = []
    waves: set[str] = set()
    for p in plan.jobs:
        target, key = jobs_out / p.job.label, p.job_key(grid)
        if finished(target, key):
            continue
        models = _link_series(p, out)
        jobs.append(Task(
            name=f"variant {p.job.variant} seed {p.job.seed}",
            fn=backtest_one,
            args=(refs[p.data], p.job.settings.model_dump(mode="json"), str(models),
                  grid.start, grid.end, str(target), str(out / "cache"), names, key, draw),
            log_path=target / "task.log",
        ))  # fmt: skip
        if p.wave_key not in waves:
            waves.add(p.wave_key)
            warm += _warm_tasks(p, grid, plan.prices[p.data], refs[p.data], models, out)
    log.info(
        "sweep: %d backtest(s) to run; %d task(s) fill their cache first", len(jobs), len(warm)
    )
    run_tasks(warm, "cached")
    run_tasks(jobs, "backtested")


def run_sweep(
    grid: Grid,
    out: Path,
    *,
    prices_path: Path | None,
    config_name: str,
    address: str | None = None,
    num_cpus: int | None = None,
    draw: bool = False,
    jobs_out: Path | None = None,
) -> Plan:
    """Train and backtest every job of ``grid`` into ``out`` (aggregation is separate).

    ``draw``: every job draws its charts and report (``--reports all``).
    ``jobs_out``: the jobs' folders, when not ``out`` (a protocol's held-out
    runs, which share the development's bundles and cache).
    """
    the_plan = plan(grid, prices_path)
    connect(address, num_cpus)
    _train(the_plan, out)
    prices_name = prices_path.name if prices_path is not None else None
    _backtests(the_plan, grid, out, jobs_out or out, (config_name, prices_name), draw)
    return the_plan
