"""What a sweep's workers run: one backtest job into its folder, unless it is already there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from backtest.job import BacktestJob, run_job
from inferer.memo import Memo
from shared.config import Settings
from shared.prices import PriceData

__all__ = ["backtest_one", "finished"]

#: Written last by a backtest: its presence means the job's folder is whole.
DONE = "report.html"


def finished(out: Path) -> bool:
    """Whether a backtest has published its whole set in ``out``."""
    return (out / DONE).is_file() and (out / ".set-backtest.json").is_file()


def backtest_one(
    data: PriceData,
    settings_json: dict[str, Any],
    models: str,
    start: dt.date,
    end: dt.date,
    out: str,
    memo_dir: str,
    names: tuple[str, str | None],
) -> str:
    """Backtest one job into ``out``; ``names`` are the config's and the price file's."""
    if finished(Path(out)):
        return "kept"
    settings = Settings.model_validate(settings_json)
    job = BacktestJob(Path(models), start, end, Path(out), names[0], names[1])
    run_job(data, settings, job, memo=Memo(memo_dir))
    return "backtested"
