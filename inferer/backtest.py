"""Walk-forward backtest: the inference job replayed at every past rebalance date.

At each rebalance date D (the last trading day of each week, month or
quarter) the strategy calls :func:`inferer.pipeline.allocate_asof` with the
newest bundle trained strictly before D and prices up to D. The baselines are
decided on the same dates from the same prices, pay the same costs, and show
what the autoencoder adds:

``equal_weight``
    1/N over every asset with a price on D.
``hrp_all``
    HRP over every asset with a complete trailing return history.
``corr_cluster``
    The same clustering, selection and allocation as the strategy, on the
    same candidate assets, but with each asset embedded by its standardised
    trailing returns instead of the autoencoder: Euclidean distance between
    those vectors is ``sqrt(2 (1 - correlation))``, i.e. correlation
    clustering without the model.

The benchmark (SPY by default) is held, not traded. Holding, drift and cost
rules are in :mod:`inferer.simulate`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from inferer.embed import Embedder
from inferer.hrp import hrp
from inferer.pipeline import (
    Allocation,
    allocate_asof,
    decide,
    risk_free_daily,
    trailing_returns,
)
from inferer.simulate import asset_returns, rebalance_indices, simulate
from shared.bundle import find_bundle
from shared.config import Settings
from shared.errors import DataError
from shared.features import compute_features
from shared.metrics import annual_turnover, periods_per_year, summary

log = logging.getLogger("deepquant.backtest")

BASELINES = ("equal_weight", "hrp_all", "corr_cluster")


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced.

    Attributes
    ----------
    returns : polars.DataFrame
        ``date``, ``strategy``, ``benchmark``, then one column per baseline:
        net daily simple returns from the first trading day after the first
        rebalance.
    weights : polars.DataFrame
        ``date`` (rebalance), ``ticker``, ``weight``, ``cluster`` of the strategy.
    metrics : dict
        Series name -> :func:`shared.metrics.summary`.
    allocations : tuple of Allocation
        The strategy's decision at each rebalance.
    turnover, costs : dict
        Series name -> per-rebalance one-way turnover and cost (fraction of wealth).
    periods_per_year : float
        Calendar of the returns, used to annualise.
    notes : list of str
        Dates where a decision failed and the previous weights were kept.
    timings : dict
        Seconds per phase.
    """

    returns: pl.DataFrame
    weights: pl.DataFrame
    metrics: dict[str, dict[str, float]]
    allocations: tuple[Allocation, ...]
    turnover: dict[str, np.ndarray]
    costs: dict[str, np.ndarray]
    periods_per_year: float
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def correlation_embeddings(returns: np.ndarray) -> np.ndarray:
    """Each asset's trailing returns, standardised: rows ``(n_assets, T)``.

    Missing days count as the asset's mean (0 after standardising), so they
    neither add nor remove correlation.
    """
    r = np.asarray(returns, dtype=np.float64).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row is handled below
        mean = np.nanmean(r, axis=1, keepdims=True)
        std = np.nanstd(r, axis=1, keepdims=True)
    z = (r - mean) / np.where(std > 0, std, 1.0)
    return np.nan_to_num(z, nan=0.0)


def _vector(weights: dict[str, float], index: dict[str, int], n: int) -> np.ndarray:
    out = np.zeros(n)
    for ticker, w in weights.items():
        out[index[ticker]] = w
    return out


def _equal_weight(prices: np.ndarray, t: int) -> np.ndarray:
    live = np.isfinite(prices[t])
    return live / live.sum()


def _hrp_all(past: pl.DataFrame, tickers: list[str], lookback: int, n: int) -> np.ndarray:
    r = trailing_returns(past, tickers, lookback)
    complete = np.isfinite(r).all(axis=0)
    complete[complete] = r[:, complete].std(axis=0) > 0
    w = np.zeros(n)
    w[np.flatnonzero(complete)] = hrp(r[:, complete])
    return w


def _corr_cluster(
    past: pl.DataFrame, candidates: list[str], settings: Settings, index: dict[str, int], n: int
) -> np.ndarray:
    r = trailing_returns(past, candidates, settings.inference.lookback)
    decision = decide(past, candidates, correlation_embeddings(r), settings)
    chosen = dict(zip(decision.selection.tickers, decision.result.weights, strict=True))
    return _vector(chosen, index, n)


def _risk_free_returns(prices: pl.DataFrame, settings: Settings, ppy: float) -> np.ndarray:
    """Daily risk-free return on every date: the cash proxy's (0 where unknown) or a constant."""
    rf = risk_free_daily(prices, settings.inference.risk_free, prices.height - 1, ppy)
    if isinstance(rf, np.ndarray):
        return np.r_[0.0, np.nan_to_num(rf, nan=0.0)]
    return np.full(prices.height, rf)


def run_backtest(
    prices: pl.DataFrame,
    settings: Settings,
    models_dir: str | Path,
    start: dt.date,
    end: dt.date,
    *,
    progress: Callable[[int, int, dt.date], None] | None = None,
) -> BacktestResult:
    """Walk forward from ``start`` to ``end``; see the module docstring.

    Parameters
    ----------
    prices : polars.DataFrame
        Cleaned wide prices covering the lookback before ``start``.
    settings : Settings
    models_dir : path
        A folder of bundles (walk-forward training), or one bundle trained
        before ``start``.
    start, end : datetime.date
        First and last possible rebalance dates; returns run to the last
        date of ``prices`` on or before ``end``.
    progress : callable, optional
        Called as ``progress(i, n, date)`` after each rebalance.

    Raises
    ------
    DataError
        Benchmark missing, no rebalance date, or a model trained on data
        from on or after a rebalance date.
    """
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    cfg = settings.backtest
    prices = prices.filter(pl.col("date") <= end)
    tickers = [c for c in prices.columns if c != "date"]
    index = {t: i for i, t in enumerate(tickers)}
    bench = settings.data.benchmark
    if bench not in index:
        raise DataError(f"benchmark {bench!r} is not in the price data")
    dates = prices["date"].to_numpy()
    matrix = prices.select(tickers).to_numpy()
    reb = rebalance_indices(dates, start, end, cfg.rebalance)
    if reb.size == 0:
        raise DataError(f"no {cfg.rebalance} rebalance date between {start} and {end}")

    cube = compute_features(prices, settings.features)
    timings["features"] = time.perf_counter() - t_start
    embedders: dict[Path, Embedder] = {}
    names: tuple[str, ...] = ("strategy", *cfg.baselines)
    targets: dict[str, list[np.ndarray]] = {name: [] for name in names}
    allocations: list[Allocation] = []
    notes: list[str] = []
    rows: list[dict[str, object]] = []
    t_loop = time.perf_counter()
    for k, t in enumerate(reb):
        day: dt.date = dates[t].astype("datetime64[D]").item()
        bundle = find_bundle(models_dir, day, features=settings.features)
        if bundle.manifest.train_end_date >= day:
            raise DataError(
                f"model {bundle.path} was trained on data up to {bundle.manifest.train_end}, "
                f"not before rebalance date {day}: train earlier or use --retrain-every"
            )
        embedder = embedders.get(bundle.path)
        if embedder is None:
            embedder = embedders[bundle.path] = Embedder(bundle, settings.inference.onnx_threads)
        past = prices.head(int(t) + 1)
        try:
            alloc = allocate_asof(past, day, bundle, settings, embedder=embedder, features=cube)
        except DataError as err:
            if not targets["strategy"]:
                raise
            notes.append(f"{day}: strategy kept its previous weights ({err})")
            targets["strategy"].append(targets["strategy"][-1])
        else:
            allocations.append(alloc)
            targets["strategy"].append(_vector(alloc.weights, index, len(tickers)))
            rows.extend(
                {"date": day, "ticker": tk, "weight": w, "cluster": alloc.clusters[tk]}
                for tk, w in alloc.weights.items()
            )
        candidates = list(allocations[-1].clusters) if allocations else tickers
        for name in cfg.baselines:
            try:
                if name == "equal_weight":
                    target = _equal_weight(matrix, int(t))
                elif name == "hrp_all":
                    target = _hrp_all(past, tickers, settings.inference.lookback, len(tickers))
                else:
                    target = _corr_cluster(past, candidates, settings, index, len(tickers))
                targets[name].append(target)
            except (DataError, ValueError) as err:
                if not targets[name]:
                    raise DataError(f"{name} baseline failed on {day}: {err}") from None
                notes.append(f"{day}: {name} kept its previous weights ({err})")
                targets[name].append(targets[name][-1])
        if progress is not None:
            progress(k + 1, reb.size, day)
    timings["rebalances"] = time.perf_counter() - t_loop

    t_sim = time.perf_counter()
    returns = asset_returns(matrix)
    ret_dates = dates[reb[0] + 1 :]
    ppy = periods_per_year(ret_dates) if ret_dates.size >= 2 else 252.0
    # Sharpe, Sortino, alpha and beta are always measured over the risk-free rate;
    # whether idle cash earns it is a separate setting.
    rf_all = _risk_free_returns(prices, settings, ppy)
    cash = rf_all if settings.backtest.cash == "risk_free" else np.zeros(prices.height)
    cost_rate = (cfg.cost_bps + cfg.slippage_bps) / 1e4
    series: dict[str, np.ndarray] = {}
    turnover: dict[str, np.ndarray] = {}
    costs: dict[str, np.ndarray] = {}
    for portfolio, rows_w in targets.items():
        sim = simulate(returns, reb, np.vstack(rows_w), cost_rate=cost_rate, cash_returns=cash)
        series[portfolio], turnover[portfolio], costs[portfolio] = (
            sim.returns,
            sim.turnover,
            sim.costs,
        )
    bench_r = returns[reb[0] + 1 :, index[bench]]
    ordered = {"strategy": series["strategy"], "benchmark": bench_r}
    ordered.update({b: series[b] for b in cfg.baselines})
    frame = pl.DataFrame({"date": ret_dates.astype("datetime64[D]"), **ordered})
    timings["simulate"] = time.perf_counter() - t_sim

    if frame.height < 2:
        raise DataError(f"fewer than 2 days of returns after the first rebalance {dates[reb[0]]}")
    rf = rf_all[reb[0] + 1 :]
    years = frame.height / ppy
    metrics: dict[str, dict[str, float]] = {}
    for label, r in ordered.items():
        traded = label in turnover
        metrics[label] = summary(
            r,
            benchmark=None if label == "benchmark" else bench_r,
            rf=rf,
            periods_per_year=ppy,
            turnover=annual_turnover(turnover[label], years) if traded else None,
            cost_drag=float(costs[label].sum() / years) if traded else None,
        )
    weights = pl.DataFrame(
        rows,
        schema={"date": pl.Date, "ticker": pl.String, "weight": pl.Float64, "cluster": pl.Int64},
    )
    timings["total"] = time.perf_counter() - t_start
    return BacktestResult(
        returns=frame,
        weights=weights,
        metrics=metrics,
        allocations=tuple(allocations),
        turnover=turnover,
        costs=costs,
        periods_per_year=ppy,
        notes=notes,
        timings=timings,
    )
