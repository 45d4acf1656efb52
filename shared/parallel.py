"""Tasks on Ray: local by default, a cluster with an address; one machinery for every grid.

:func:`run_tasks` submits plain functions as Ray tasks, each declaring its
resources, reports one line per finished task with an estimate of the time
left, retries a task whose worker died (``max_retries``) and never one that
raised: a :class:`shared.errors.DeepQuantError` (bad input) ends the run as
one line naming the task. Each task logs to a file of its own, kept beside
its outputs. ``deepquant train --workers K`` (``trainer.parallel``) and
``deepquant sweep`` both run their tasks with it, so neither owns it.

Ray is imported only here and only when called: the inference image has
none of it, and never imports this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.errors import DataError, DeepQuantError
from shared.reaper import reap_on_death

log = logging.getLogger("deepquant.tasks")

__all__ = ["MAX_RETRIES", "Task", "connect", "cores_to_spare", "gpus_for", "run_tasks"]

#: Times Ray reruns a task whose worker process died (killed, out of memory).
MAX_RETRIES = 3


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start Ray in this process on ``num_cpus`` cores, or join the cluster at ``address``."""
    import ray

    if ray.is_initialized():
        return
    # No dashboard, and the workers' output stays in their own log files. Without an
    # address, "local": a new Ray in this process, never a cluster that `ray start`
    # left running (or its stale address file) on this machine.
    ray.init(
        address=address or "local",
        num_cpus=None if address else num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    if not address:
        reap_on_death()  # a kill -9 of this process takes the Ray it started with it


@dataclass(frozen=True)
class Task:
    """One call of ``fn(*args)`` as a Ray task, named for the progress lines and errors."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    log_path: Path
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    kwargs: dict[str, Any] = field(default_factory=dict)


def _logged(log_path: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` in the worker with the deepquant logs going to ``log_path``."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("deepquant")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    import ray

    # On a cluster, which machine ran the task is the first thing a failure's reader needs.
    ctx = ray.get_runtime_context()
    logging.getLogger("deepquant.tasks").info(
        "on node %s (%s)", ctx.get_node_id(), ray.util.get_node_ip_address()
    )
    try:
        return fn(*args, **kwargs)
    except Exception:
        logging.getLogger("deepquant.tasks").exception("task failed")
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def _eta(done: int, total: int, elapsed: float) -> str:
    if done == 0 or done == total:
        return ""
    left = elapsed / done * (total - done)
    return f", about {left / 60:.1f} min left" if left >= 60 else f", about {left:.0f} s left"


def run_tasks(
    tasks: Sequence[Task], what: str, counted: tuple[int, int] | None = None
) -> list[Any]:
    """Run every task on Ray and return their results in order.

    ``counted`` = (done before, total) continues a count over several calls.

    Raises
    ------
    DataError
        A task raised a :class:`DeepQuantError`: one line, naming the task.
    """
    import ray
    from ray.exceptions import RayTaskError

    remote = ray.remote(_logged)
    refs = {
        remote.options(
            num_cpus=t.num_cpus, num_gpus=t.num_gpus, max_retries=MAX_RETRIES, name=t.name
        ).remote(str(t.log_path), t.fn, *t.args, **t.kwargs): i
        for i, t in enumerate(tasks)
    }
    results: list[Any] = [None] * len(tasks)
    before, total = counted or (0, len(tasks))
    pending, t0 = list(refs), time.perf_counter()
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        i = refs[ready[0]]
        try:
            results[i] = ray.get(ready[0])
        except RayTaskError as err:
            cause = err.cause
            if isinstance(cause, DeepQuantError):
                raise DataError(f"{tasks[i].name}: {cause} (log: {tasks[i].log_path})") from None
            raise
        done = len(tasks) - len(pending)
        log.info(
            "%s %d/%d: %s%s", what, before + done, total, tasks[i].name,
            _eta(done, total - before, time.perf_counter() - t0),
        )  # fmt: skip
    return results


def cores_to_spare(tasks: int) -> bool:
    """Whether the cluster has more cores than ``tasks``: room for the tasks' own tasks.

    A task waiting on tasks of its own gives its core back, and Ray may hand it
    to another queued task rather than to them; so tasks start tasks only when
    every queued one already has a core, or the waiting ones pile up in memory.
    """
    import ray

    return tasks < ray.cluster_resources().get("CPU", 0)


def gpus_for(settings: Settings) -> float:
    """One GPU per training task when the cluster has one and the settings may use it."""
    import ray

    has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
    return 1.0 if has_gpu and settings.train.device != "cpu" else 0.0
