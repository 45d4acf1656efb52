"""Every table and series the backtest's report shows, as data: no file and no chart.

:func:`report_data` computes them from a :class:`~backtest.engine.BacktestResult`;
:mod:`backtest.plots` draws them and :mod:`backtest.sections` sets them in
the report's words and tables, and neither computes a number of its own.
A notebook gets the same numbers from ``deepquant.report_data`` without
writing a PNG.

The daily series share one layout: ``date``, then one float column per
series (strategy, benchmark, baselines), NaN before a series starts or
where a window is not yet full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from backtest.drawdowns import worst_drawdowns
from backtest.engine import BacktestResult
from backtest.frontier import Frontier, efficient_frontier
from backtest.periods import monthly_returns, yearly_returns
from backtest.rebalances import yearly_trading
from backtest.regime_stats import regime_table
from backtest.risk import TargetRisk, group_contributions
from backtest.rolling import ROLLING_WINDOW, rolling_beta, rolling_vol
from backtest.stability import cluster_stability
from inferer.hrp import hrp
from inferer.moments import complete_rows, moments
from inferer.trades import trades_frame
from shared.config import Settings
from shared.errors import EstimationError
from shared.metrics import TRADING_DAYS, drawdown_series, sharpe_ratio
from shared.returns import annual_risk_free, risk_free_returns, trailing_returns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "Book",
    "Report",
    "ReportData",
    "RollingSharpe",
    "RunFacts",
    "assemble",
    "class_weights",
    "drawdowns",
    "growth",
    "last_target",
    "latest_frontier",
    "report_data",
    "report_of",
    "rolling_risk",
    "rolling_sharpe",
    "series_arrays",
]


def series_arrays(returns: pl.DataFrame) -> tuple[npt.NDArray[Any], dict[str, FloatArray]]:
    """Dates and each series as float arrays with NaN where a return is missing."""
    if "date" not in returns.columns:
        raise ValueError("returns needs a 'date' column")
    names = [c for c in returns.columns if c != "date"]
    if not names or returns.height == 0:
        raise ValueError("returns needs at least one series and one row")
    df = returns.sort("date")
    dates = df["date"].to_numpy()
    cols = {
        n: df[n].cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64, copy=False)
        for n in names
    }
    return dates, cols


def _observed(r: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Returns with gaps read as flat days, and a mask hiding the days before the first one.

    A baseline can start later than the strategy; drawing it flat at 1 before
    then would suggest it existed and earned nothing.
    """
    finite = np.isfinite(r)
    started = np.cumsum(finite) > 0
    return np.where(finite, r, 0.0), started


def _frame(dates: npt.NDArray[Any], columns: Mapping[str, FloatArray]) -> pl.DataFrame:
    return pl.DataFrame({"date": dates, **columns})


def growth(returns: pl.DataFrame) -> pl.DataFrame:
    """Growth of 1 in each series, :math:`W_t = \\prod_{s \\le t}(1 + r_s)`, from its start."""
    dates, cols = series_arrays(returns)
    out = {}
    for name, r in cols.items():
        filled, started = _observed(r)
        wealth = np.cumprod(1.0 + filled)
        out[name] = np.where(started & (wealth > 0.0), wealth, np.nan)
    return _frame(dates, out)


def drawdowns(returns: pl.DataFrame) -> pl.DataFrame:
    """Drawdown (<= 0) of each series from its running peak, measured from its own start."""
    dates, cols = series_arrays(returns)
    out = {}
    for name, r in cols.items():
        filled, started = _observed(r)
        dd = np.full(r.size, np.nan)
        if started.any():
            dd[started] = drawdown_series(filled[started])
        out[name] = dd
    return _frame(dates, out)


@dataclass(frozen=True)
class RollingSharpe:
    """Rolling Sharpe ratios (``frame``) over ``days``-day windows; ``window`` was asked for."""

    frame: pl.DataFrame
    days: int
    window: int


def rolling_sharpe(
    returns: pl.DataFrame,
    window: int = int(TRADING_DAYS),
    periods_per_year: float = TRADING_DAYS,
    rf: npt.ArrayLike = 0.0,
) -> RollingSharpe:
    """Annualised Sharpe ratio over the risk-free rate on each trailing window.

    ``window`` is shortened to the sample when the sample is shorter; ``rf``
    is the risk-free return per day (one per row of ``returns``), as in the
    metrics table. Undefined until a window is full.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window}")
    dates, cols = series_arrays(returns)
    n = dates.size
    w = min(window, n)
    rf_days = np.broadcast_to(np.asarray(rf, dtype=np.float64), (n,))
    out = {}
    for name, r in cols.items():
        s = pl.Series(name, r - rf_days, dtype=pl.Float64).fill_nan(None)
        mean = s.rolling_mean(w, min_samples=w).to_numpy()
        std = s.rolling_std(w, min_samples=w).to_numpy()
        out[name] = sharpe_ratio(mean, std, periods_per_year)
    return RollingSharpe(_frame(dates, out), w, window)


def rolling_risk(
    returns: pl.DataFrame, periods_per_year: float, window: int = ROLLING_WINDOW
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rolling annualised volatility of every series, and beta to the benchmark (the second).

    The beta frame has no benchmark column: its beta is 1.
    """
    dates, cols = series_arrays(returns)
    names = list(cols)
    if len(names) < 2:
        raise ValueError("returns needs the strategy and the benchmark")
    bench = cols[names[1]]
    vol = {n: rolling_vol(cols[n], window, periods_per_year) for n in names}
    beta = {n: rolling_beta(cols[n], bench, window) for i, n in enumerate(names) if i != 1}
    return _frame(dates, vol), _frame(dates, beta)


def class_weights(weights: pl.DataFrame, asset_class: Mapping[str, str]) -> pl.DataFrame:
    """Target weights summed by asset class at each rebalance: ``date``, then one column a class.

    ``weights`` is long (``date``, ``ticker``, ``weight``); a ticker without a
    class is ``unknown``; a class not held on a date has 0 there.
    """
    missing = {"date", "ticker", "weight"} - set(weights.columns)
    if missing:
        raise ValueError(f"weights lacks column(s) {sorted(missing)}")
    if weights.height == 0:
        raise ValueError("weights is empty")
    classes = pl.Series([asset_class.get(t, "unknown") for t in weights["ticker"]])
    wide = (
        weights.with_columns(classes.alias("class"))
        .group_by("date", "class")
        .agg(pl.col("weight").cast(pl.Float64).sum())
        .pivot(on="class", index="date", values="weight")
        .sort("date")
        .fill_null(0.0)
    )
    return wide.select("date", *sorted(c for c in wide.columns if c != "date"))


def latest_frontier(result: BacktestResult, prices: Any, settings: Settings) -> Frontier | None:
    """Monte Carlo frontier over the assets the strategy chose at its last rebalance.

    Moments, risk-free rate and weight cap are the strategy's own
    (:mod:`inferer.moments` with ``[inference] covariance``, ``risk_free``
    and ``max_weight``) over its lookback, so the max-Sharpe marker is the
    portfolio ``max_sharpe`` would hold. Markers: max-Sharpe and min-vol
    (from the frontier), HRP over those assets, and the strategy's actual
    weights.
    """
    if not result.allocations:
        return None
    last = result.allocations[-1]
    tickers = list(last.weights)
    if len(tickers) < 2:
        return None
    cfg, ppy = settings.inference, last.periods_per_year
    past = prices.filter(prices["date"] <= last.asof)
    try:
        r = complete_rows(trailing_returns(past, tickers, cfg.lookback))
        mu, cov = moments(r, ppy, cfg.covariance)
        hrp_weights = hrp(r)
    except EstimationError:  # a flat cash proxy in the book, too few complete days
        return None
    daily = risk_free_returns(past, cfg.risk_free, ppy, cfg.lookback, cfg.risk_free_fallback)
    rf = annual_risk_free(daily, ppy)
    markers = {"hrp": hrp_weights, "strategy": np.array([last.weights[t] for t in tickers])}
    return efficient_frontier(
        mu,
        cov,
        n_portfolios=settings.backtest.frontier_portfolios,
        seed=settings.backtest.seed,
        rf=rf,
        max_weight=cfg.max_weight,
        extra_markers=markers,
    )


@dataclass(frozen=True)
class ReportData:
    """Every table and series of the report (:func:`report_data`).

    Attributes
    ----------
    growth, drawdowns, rolling_vol, rolling_beta : polars.DataFrame
        Daily series, ``date`` then one column per series.
    rolling_sharpe : RollingSharpe
    monthly : polars.DataFrame
        The strategy's monthly returns (:func:`backtest.periods.monthly_returns`).
    yearly : polars.DataFrame
        Every series' calendar-year returns.
    worst_drawdowns : polars.DataFrame
        The strategy's five deepest drawdowns with their dates.
    trading : polars.DataFrame
        The strategy's rebalances, turnover and cost by year.
    class_weights : polars.DataFrame
        Target weights by asset class at each rebalance.
    ex_ante : TargetRisk
        The last book's ex-ante volatility and risk contributions, as the
        backtest computed them for ``rebalances.csv``.
    risk_by_cluster, risk_by_class : dict of str to float
        Those contributions summed by cluster and by asset class.
    trades : polars.DataFrame
        From the drifted book to the last rebalance's target.
    stability : polars.DataFrame
        Cluster stability between consecutive rebalances.
    frontier : Frontier or None
        The Monte Carlo frontier over the last book's assets.
    regime : polars.DataFrame or None
        With the regime layer on: each day's ``stress`` and ``exposure``
        (``BacktestResult.regime``).
    regime_table : polars.DataFrame or None
        Its states' spells and the returns in each (:func:`backtest.regime_stats.regime_table`).
    """

    growth: pl.DataFrame
    drawdowns: pl.DataFrame
    rolling_vol: pl.DataFrame
    rolling_beta: pl.DataFrame
    rolling_sharpe: RollingSharpe
    monthly: pl.DataFrame
    yearly: pl.DataFrame
    worst_drawdowns: pl.DataFrame
    trading: pl.DataFrame
    class_weights: pl.DataFrame
    ex_ante: TargetRisk
    risk_by_cluster: dict[str, float]
    risk_by_class: dict[str, float]
    trades: pl.DataFrame
    stability: pl.DataFrame
    frontier: Frontier | None
    regime: pl.DataFrame | None = None
    regime_table: pl.DataFrame | None = None


@dataclass(frozen=True)
class RunFacts:
    """What the report says about the run beyond the result: inputs and how to repeat it."""

    config_name: str
    start: dt.date
    end: dt.date
    data_first: dt.date
    data_last: dt.date
    n_assets: int
    source: str
    model_name: str
    prices_name: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Book:
    """The strategy's book after the last rebalance, and the models the run used."""

    asof: dt.date
    weights: dict[str, float]
    clusters: dict[str, int]
    #: The clustering tree of that date and the rows of ``clusters`` it was built on.
    linkage: np.ndarray
    tree_rows: np.ndarray
    #: The bundle folders of every decision, by name.
    bundles: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Everything a backtest's report shows and says: rendering it reads nothing else.

    The backtest's own files (``returns``, ``weights``, ``rebalances``,
    ``metrics``) with what they do not hold, so that the report can be drawn
    in the run or later from its folder (:mod:`backtest.report_file`).
    """

    returns: pl.DataFrame
    weights: pl.DataFrame
    rebalances: pl.DataFrame
    metrics: dict[str, dict[str, float]]
    risk_free: np.ndarray
    periods_per_year: float
    book: Book
    data: ReportData
    settings: Settings
    facts: RunFacts
    classes: dict[str, str]


def assemble(
    returns: pl.DataFrame,
    weights: pl.DataFrame,
    rebalances: pl.DataFrame,
    risk_free: np.ndarray,
    periods_per_year: float,
    classes: Mapping[str, str],
    kept: tuple[TargetRisk, Mapping[str, int], pl.DataFrame, pl.DataFrame, Frontier | None],
    regime: pl.DataFrame | None = None,
) -> ReportData:
    """The report's tables and series from the backtest's files and what they do not hold.

    ``kept``: the last book's ex-ante risk and clusters, its trades, the
    cluster stability and the frontier, which need the decisions or the prices.
    """
    risk, clusters, trades, stability, frontier = kept
    vol, beta = rolling_risk(returns, periods_per_year)
    return ReportData(
        growth=growth(returns),
        drawdowns=drawdowns(returns),
        rolling_vol=vol,
        rolling_beta=beta,
        rolling_sharpe=rolling_sharpe(returns, int(TRADING_DAYS), periods_per_year, risk_free),
        monthly=monthly_returns(returns, "strategy"),
        yearly=yearly_returns(returns),
        worst_drawdowns=worst_drawdowns(
            returns["date"], returns["strategy"], rebalances["date"][0]
        ),
        trading=yearly_trading(rebalances),
        class_weights=class_weights(weights, classes),
        ex_ante=risk,
        risk_by_cluster=group_contributions(
            risk.contributions, {t: f"cluster {c}" for t, c in clusters.items()}
        ),
        risk_by_class=group_contributions(risk.contributions, classes),
        trades=trades,
        stability=stability,
        frontier=frontier,
        regime=regime,
        regime_table=None if regime is None else regime_table(regime, returns, periods_per_year),
    )


def last_target(weights: pl.DataFrame) -> dict[str, float]:
    """The target of the last trade: a regime switch's when one came after the last decision."""
    target = weights.filter(pl.col("date") == weights["date"].max())
    return dict(zip(target["ticker"], target["weight"], strict=True))


def report_data(
    result: BacktestResult, prices: pl.DataFrame, classes: Mapping[str, str], settings: Settings
) -> ReportData:
    """The report's tables and series for ``result``, a backtest on ``prices``.

    Raises
    ------
    DataError
        The strategy made no decision: there is nothing to report.
    """
    from shared.errors import DataError

    if not result.allocations:
        raise DataError("the strategy made no decision: nothing to report")
    last = result.allocations[-1]
    tickers = [c for c in prices.columns if c != "date"]
    held = {t: float(w) for t, w in zip(tickers, result.held[-1], strict=True) if w > 0}
    last_book = last_target(result.weights)
    stability = cluster_stability(
        [a.asof for a in result.allocations], [a.clusters for a in result.allocations]
    )
    frontier = latest_frontier(result, prices, settings)
    kept = (result.ex_ante, last.clusters, trades_frame(held, last_book), stability, frontier)
    return assemble(
        result.returns, result.weights, result.rebalances, result.risk_free,
        result.periods_per_year, classes, kept, result.regime,
    )  # fmt: skip


def report_of(
    result: BacktestResult,
    prices: pl.DataFrame,
    classes: Mapping[str, str],
    settings: Settings,
    facts: RunFacts,
) -> Report:
    """The :class:`Report` of ``result``: its data, its last book and the facts of the run."""
    data = report_data(result, prices, classes, settings)
    last = result.allocations[-1]
    book = Book(
        asof=last.asof,
        weights=last_target(result.weights),
        clusters=dict(last.clusters),
        linkage=last.clustering.linkage,
        tree_rows=last.clustering.tree_rows,
        bundles=tuple(sorted({Path(a.bundle_path).name for a in result.allocations})),
    )
    return Report(
        result.returns, result.weights, result.rebalances, result.metrics, result.risk_free,
        result.periods_per_year, book, data, settings, facts, dict(classes),
    )  # fmt: skip
