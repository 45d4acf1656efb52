"""One backtest from loaded prices to a published folder: what ``deepquant backtest`` and
each task of ``deepquant sweep`` run."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from backtest.artifacts import DATA_FILES, render, write_backtest
from backtest.engine import BacktestResult, Progress, run_backtest
from backtest.ledger import trial_sharpes
from backtest.report_data import RunFacts
from backtest.report_file import INPUTS, read_report
from inferer.memo import Memo
from shared.config import Settings
from shared.prices import PriceData
from shared.publish import OutputFolder, published_files
from shared.regime import load_history

__all__ = ["SET", "BacktestJob", "draw_report", "run_job"]

#: The name of the set a backtest publishes in its folder (:mod:`shared.publish`).
SET = "backtest"

SURVIVORSHIP = (
    "The universe is the price file's list of instruments as it stands today: assets that "
    "were delisted earlier are missing (survivorship bias), for every series alike."
)


@dataclass(frozen=True)
class BacktestJob:
    """What to backtest, where to write it, and the names the report gives its inputs."""

    model: Path
    start: dt.date
    end: dt.date
    out: Path
    config_name: str
    prices_name: str | None = None


def _facts(data: PriceData, job: BacktestJob, result: BacktestResult) -> RunFacts:
    """What the report says about the inputs: names only, never a local path."""
    dates = data.prices["date"]
    source = Path(data.source).name if "/" in data.source else data.source
    return RunFacts(
        config_name=job.config_name,
        start=job.start,
        end=job.end,
        data_first=dates[0],
        data_last=dates[-1],
        n_assets=len(data.tickers),
        source=source,
        model_name=job.model.name,
        prices_name=job.prices_name,
        notes=(SURVIVORSHIP, *result.notes),
    )


def run_job(
    data: PriceData,
    settings: Settings,
    job: BacktestJob,
    *,
    progress: Progress | None = None,
    memo: Memo | None = None,
    draw: bool = True,
) -> BacktestResult:
    """Run the backtest and publish every output in ``job.out`` as one set, the report last.

    ``draw=False`` publishes the data without the charts and report, which
    ``deepquant report`` draws from it later (:func:`draw_report`).
    """
    data.require(settings.data.benchmark, "benchmark")
    if isinstance(settings.inference.risk_free, str):
        data.require(settings.inference.risk_free, "risk-free ticker")
    ledger = settings.backtest.ledger
    trials = trial_sharpes(ledger, job.start, job.end) if ledger is not None else []
    with OutputFolder(job.out) as folder:
        result = run_backtest(
            data.prices, settings, job.model, job.start, job.end, progress=progress, memo=memo,
            classes=data.universe.asset_class, trials=trials,
            history=load_history(settings, data),
        )  # fmt: skip
        facts = _facts(data, job, result)
        # The whole folder is one set: a new backtest replaces every file of the last.
        folder.publish(
            SET,
            lambda stage: write_backtest(
                result,
                stage,
                prices=data.prices,
                universe=data.universe,
                settings=settings,
                facts=facts,
                draw=draw,
            ).values(),
            last=("report.html",) if draw else (INPUTS,),
        )
    return result


def draw_report(folder: Path) -> Path:
    """Draw the charts and report of the backtest in ``folder`` from its files; the report.

    The folder's set is published again, whole, with them: a reader sees the
    set without the report or with it, never a mix.
    """
    with OutputFolder(folder) as out:
        # Read under the lock, after a killed run's move is finished: one whole set.
        report = read_report(folder)
        listed = published_files(folder, SET) or DATA_FILES  # a copied folder has no record
        kept = [name for name in listed if (folder / name).is_file()]

        def write(stage: Path) -> list[Path]:
            for name in kept:
                shutil.copy2(folder / name, stage / name)
            return list(render(report, stage).values())

        out.publish(SET, write, last=("report.html",))
    return folder / "report.html"
