"""Training a walk-forward series' bundles in parallel: ``deepquant train --workers K``.

Each bundle is one task of :func:`shared.parallel.run_tasks` (local Ray, or
a cluster with an address); the sweep trains its bundles with
:func:`train_one` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from shared.bundle import is_bundle
from shared.config import Settings
from shared.parallel import Task, connect, cores_to_spare, gpus_for, run_tasks
from shared.regime import History
from trainer.walkforward import Period, train_bundle

__all__ = ["train_one", "train_series"]


def train_one(
    prices: pl.DataFrame,
    settings_json: dict[str, Any],
    period: Period,
    out: str,
    history: History | None = None,
    members_as_tasks: bool = False,
) -> str:
    """Train the bundle of ``period`` into ``out``, unless a bundle is already there.

    ``members_as_tasks``: a seed ensemble's members as Ray tasks of their own
    (:func:`shared.parallel.cores_to_spare` for the bundles being trained).
    """
    if is_bundle(Path(out)):
        return "kept"
    settings = Settings.model_validate(settings_json)
    train_bundle(
        prices, settings, period.first, period.last, out, history=history,
        members_as_tasks=members_as_tasks,
    )  # fmt: skip
    return "trained"


def train_series(
    prices: pl.DataFrame,
    settings: Settings,
    periods: Sequence[Period],
    out_dir: Path,
    workers: int,
    address: str | None = None,
    history: History | None = None,
) -> list[Path]:
    """Every bundle of a series as a Ray task on ``workers`` cores (or a cluster)."""
    connect(address, None if address else workers)
    import ray

    prices_ref = ray.put(prices)
    gpus = gpus_for(settings)
    settings_json = settings.model_dump(mode="json")
    spare = cores_to_spare(len(periods))
    tasks = [
        Task(
            name=f"bundle {p.day}",
            fn=train_one,
            args=(prices_ref, settings_json, p, str(out_dir / p.day.isoformat()), history, spare),
            log_path=out_dir / f"{p.day.isoformat()}.log",
            num_gpus=gpus,
        )
        for p in periods
    ]
    run_tasks(tasks, "trained")
    return [out_dir / p.day.isoformat() for p in periods]
