"""A seed ensemble's members (``[train] seeds = K``), each fitted on the same windows.

Inside a bundle's Ray task (``deepquant train --workers`` or a sweep), when
the cluster has more cores than bundles to train, the members are Ray tasks
of their own, so the K models of a bundle train in parallel: the bundle's
task waits on them, and Ray lends its core to them meanwhile. Otherwise
(every core already has a bundle, no Ray, or a GPU, which a waiting task
keeps) they train one after the other. Each member is seeded, so both ways
give the same models, byte for byte (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.config import ModelSettings, TrainSettings
from trainer.train import FitResult, fit, pick_device

__all__ = ["fit_members"]


def _fit_json(
    train: np.ndarray, val: np.ndarray, model_json: dict[str, Any], train_json: dict[str, Any]
) -> FitResult:
    """:func:`trainer.train.fit` on settings as JSON (what a Ray task is handed)."""
    model = ModelSettings.model_validate(model_json)
    return fit(train, val, model, TrainSettings.model_validate(train_json))


def fit_members(
    train: np.ndarray,
    val: np.ndarray,
    model: ModelSettings,
    members: Sequence[TrainSettings],
    log_stem: Path,
    as_tasks: bool = False,
) -> list[FitResult]:
    """Fit one model per member's training settings; results in the members' order.

    ``as_tasks``: as Ray tasks (the caller runs inside Ray with cores to
    spare); each member task logs to ``<log_stem>.seed<seed>.log``.
    """
    from shared.parallel import Task, run_tasks

    on_gpu = pick_device(members[0].device).type == "cuda"
    if len(members) == 1 or on_gpu or not as_tasks:
        return [fit(train, val, model, t) for t in members]
    import ray

    refs = ray.put(train), ray.put(val)
    model_json = model.model_dump(mode="json")
    tasks = [
        Task(
            name=f"member seed {t.seed}",
            fn=_fit_json,
            args=(*refs, model_json, t.model_dump(mode="json")),
            log_path=log_stem.with_name(f"{log_stem.name}.seed{t.seed}.log"),
        )
        for t in members
    ]
    return run_tasks(tasks, "member trained")
