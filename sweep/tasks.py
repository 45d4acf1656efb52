"""What a sweep's workers run: one backtest job into its folder, unless it is already there.

A job's folder is named for people (``<variant>/<seed>``), so what it holds
is recorded too: ``job.json`` carries the key of the settings, model series
and period it was computed from. A folder whose key differs (a variant's
overrides were edited) is computed again, not kept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from backtest.engine import warm_memo
from backtest.job import SET, BacktestJob, run_job
from inferer.memo import Memo
from shared.atomic import atomic_write_text
from shared.config import Settings
from shared.errors import DeepQuantError
from shared.prices import PriceData
from shared.publish import published

__all__ = ["JOB_NAME", "backtest_one", "finished", "warm_one"]

log = logging.getLogger("deepquant.sweep")

#: What a job's folder was computed from, written once its set is published.
JOB_NAME = "job.json"


def finished(out: Path, key: str) -> bool:
    """Whether ``out`` holds the whole published backtest of the job ``key``."""
    record = out / JOB_NAME
    if not (published(out, SET) and record.is_file()):
        return False
    return bool(json.loads(record.read_text()).get("key") == key)


def backtest_one(
    data: PriceData,
    settings_json: dict[str, Any],
    models: str,
    start: dt.date,
    end: dt.date,
    out: str,
    memo_dir: str,
    names: tuple[str, str | None],
    key: str,
    draw: bool = False,
) -> str:
    """Backtest job ``key`` into ``out``; ``names`` are the config's and the price file's.

    ``draw``: its charts and report too (else the data alone, drawn later if asked).
    """
    if finished(Path(out), key):
        return "kept"
    settings = Settings.model_validate(settings_json)
    job = BacktestJob(Path(models), start, end, Path(out), names[0], names[1])
    run_job(data, settings, job, memo=Memo(memo_dir), draw=draw)
    atomic_write_text(Path(out) / JOB_NAME, json.dumps({"key": key}) + "\n")
    return "backtested"


def warm_one(
    data: PriceData,
    settings_json: dict[str, Any],
    models: str,
    start: dt.date,
    end: dt.date,
    memo_dir: str,
) -> str:
    """Fill the cache ``memo_dir`` with the decisions of ``[start, end]`` (:func:`warm_memo`)."""
    settings = Settings.model_validate(settings_json)
    memo = Memo(memo_dir)
    classes = data.universe.asset_class
    try:
        n = warm_memo(data.prices, settings, Path(models), start, end, memo, classes)
    except DeepQuantError as err:
        # The cache is a head start only: the variants' own backtests meet the same
        # problem and end the sweep with it, naming the variant.
        log.warning("cache not filled from %s: %s", start, err)
        return f"not filled: {err}"
    return f"{n} decisions, {memo.misses} computed, {memo.hits} found"
