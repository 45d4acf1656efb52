"""deepquant from Python: the steps of the command line as functions that return data.

Each function takes what the one before returns (settings, prices, a folder
of bundles) and gives back frames or typed results; only :func:`train`
(which makes bundles) and :func:`backtest` with ``out`` write files. The
heavy libraries are imported by the function that needs them, so
``import deepquant`` stays as light as ``deepquant --help``.

Example
-------
>>> import deepquant as dq
>>> settings = dq.load_config("configs/sample.toml")  # doctest: +SKIP
>>> data = dq.load_prices(settings)  # doctest: +SKIP
>>> data.prices.shape  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import Settings, parse_settings, read_raw_config

if TYPE_CHECKING:
    import polars as pl

    from backtest.engine import BacktestResult
    from backtest.report_data import ReportData
    from inferer.pipeline import AsofDecision
    from inferer.regime import Regimes
    from shared.prices import PriceData

log = logging.getLogger("deepquant.api")

__all__ = [
    "backtest",
    "decide",
    "load_config",
    "load_prices",
    "report_data",
    "sweep_results",
    "train",
]


def load_config(
    path: str | Path, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> Settings:
    """Settings from a TOML file, with ``overrides`` by section (validated like the file).

    Example: ``load_config("configs/default.toml", {"inference": {"method": "hrp"}})``.

    Raises
    ------
    ConfigError
        The file is missing or invalid, or an override names an unknown setting.
    """
    raw = read_raw_config(path)
    for section, values in (overrides or {}).items():
        raw[section] = {**raw.get(section, {}), **values}
    return parse_settings(raw, path)


def load_prices(settings: Settings, prices: str | Path | None = None) -> PriceData:
    """Cleaned prices from ``[data]``'s source, or from the price file ``prices``."""
    from shared.prices import load_prices as load

    return load(settings.data, prices)


def train(
    data: PriceData,
    settings: Settings,
    out: str | Path,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    retrain_every: int | None = None,
) -> list[Path]:
    """Train bundles into ``out`` and return their folders, oldest first.

    With ``retrain_every`` (months) a walk-forward series: one bundle per
    retrain date from ``start`` to ``end`` in ``out/<YYYY-MM-DD>/``, each
    trained on the ``[train] train_years`` before it. Without, one bundle in
    ``out`` trained on ``[start, end]`` (by default the last ``train_years``).
    """
    from shared.regime import load_history
    from trainer.walkforward import add_months, train_bundle, train_walk_forward, years_before

    dates = data.prices["date"]
    last = end or dates[-1]
    years = settings.train.train_years
    if retrain_every:
        first = start or add_months(dates[0], round(12 * years))
        return train_walk_forward(
            data.prices, settings, first, last, retrain_every, out, load_history(settings, data)
        )
    first = start or years_before(last, years)
    history = load_history(settings, data)
    return [
        train_bundle(
            data.prices, settings, first, last, out, universe=data.universe, history=history
        )
    ]


def decide(
    data: PriceData,
    model: str | Path,
    settings: Settings,
    *,
    asof: dt.date | None = None,
    held: Mapping[str, float] | None = None,
) -> AsofDecision:
    """The portfolio for ``asof`` (default: the last price date), and why.

    ``model`` is a bundle or a folder of bundles (the newest trained by
    ``asof`` serves). ``held``: what is held now, for selection's hysteresis
    (``[inference] keep_margin``). The result carries the weights, every
    asset's cluster, the method used and any fallback, and the notes of the
    construction rules; nothing is written.
    """
    from inferer.pipeline import decide_asof
    from shared.bundle import find_bundle
    from shared.windows import effective_asof

    day = effective_asof(data.prices["date"], asof)
    bundle = find_bundle(model, day, features=settings.features)
    if bundle.manifest.train_end_date > day:
        log.warning(
            "model %s was trained on data up to %s, after %s: look-ahead for a past date",
            bundle.path, bundle.manifest.train_end, day,
        )  # fmt: skip
    return decide_asof(
        data.prices,
        day,
        bundle,
        settings,
        incumbents=tuple(held or ()),
        classes=data.universe.asset_class,
        regimes=_regimes(settings, data),
    )


def _regimes(settings: Settings, data: PriceData) -> Regimes | None:
    """The regime layer's readings on ``data`` (None with it off)."""
    from inferer.regime import Regimes
    from shared.regime import load_history

    history = load_history(settings, data)
    return None if history is None else Regimes(history, settings)


def backtest(
    data: PriceData,
    model: str | Path,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    *,
    out: str | Path | None = None,
) -> BacktestResult:
    """Walk forward from ``start`` to ``end`` with the bundles in ``model``.

    The result holds the daily returns of the strategy, the benchmark and
    the baselines, the weights and rebalances, and every metric. With
    ``out``, the files and report of ``deepquant backtest`` are written
    there too (published whole, as the command does).
    """
    from backtest.engine import run_backtest
    from backtest.job import BacktestJob, run_job
    from shared.regime import load_history

    if out is None:
        return run_backtest(
            data.prices, settings, model, start, end, classes=data.universe.asset_class,
            history=load_history(settings, data),
        )  # fmt: skip
    job = BacktestJob(Path(model), start, end, Path(out), config_name="(Python API)")
    return run_job(data, settings, job)


def report_data(result: BacktestResult, data: PriceData, settings: Settings) -> ReportData:
    """Every table and series the backtest's report shows, without drawing or writing it.

    Growth of 1, drawdowns, rolling volatility, beta and Sharpe, monthly and
    yearly returns, the worst drawdowns, trading by year, weights by asset
    class, the last book's ex-ante risk by asset, cluster and class, its
    trades, cluster stability and the efficient frontier
    (:class:`backtest.report_data.ReportData`).
    """
    from backtest.report_data import report_data as compute

    return compute(result, data.prices, data.universe.asset_class, settings)


def sweep_results(folder: str | Path) -> pl.DataFrame:
    """The results table of a finished sweep: one row per variant, seed and cost.

    Raises
    ------
    DataError
        ``folder`` holds no ``results.parquet`` (the sweep has not finished).
    """
    import polars as pl

    from shared.errors import DataError
    from sweep.results import RESULTS

    path = Path(folder) / RESULTS
    if not path.is_file():
        raise DataError(f"{folder}: no {RESULTS} (run deepquant sweep to the end first)")
    return pl.read_parquet(path)
