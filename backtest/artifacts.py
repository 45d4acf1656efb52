"""The backtest's files: returns.csv, weights.csv, metrics.json, charts and report.

Every file is written through a temporary name and a rename (see
:mod:`shared.atomic`); the report is written last, so its presence means
the run finished.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from backtest import plots
from backtest.engine import BacktestResult
from backtest.frontier import Frontier, efficient_frontier
from backtest.report import write_report
from inferer.hrp import hrp
from inferer.moments import complete_rows, moments
from shared.atomic import atomic_write_text
from shared.config import Settings
from shared.metrics import TRADING_DAYS
from shared.returns import annual_risk_free, risk_free_returns, trailing_returns
from shared.universe import Universe


def _json_safe(value: Any) -> Any:
    # Strict JSON has no NaN: an undefined ratio becomes null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def latest_frontier(result: BacktestResult, prices: Any, settings: Settings) -> Frontier | None:
    """Monte Carlo frontier over the assets the strategy chose at its last rebalance.

    Moments, risk-free rate and weight cap are the strategy's own
    (:mod:`inferer.moments`, ``[inference] risk_free`` and ``max_weight``) over
    its lookback, so the max-Sharpe marker is the portfolio ``max_sharpe``
    would hold. Markers: max-Sharpe and min-vol (from the frontier), HRP over
    those assets, and the strategy's actual weights.
    """
    if not result.allocations:
        return None
    last = result.allocations[-1]
    tickers = list(last.weights)
    if len(tickers) < 2:
        return None
    cfg, ppy = settings.inference, last.periods_per_year
    past = prices.filter(prices["date"] <= last.asof)
    r = complete_rows(trailing_returns(past, tickers, cfg.lookback))
    try:
        mu, cov = moments(r, ppy)
    except ValueError:
        return None
    rf = annual_risk_free(risk_free_returns(past, cfg.risk_free, ppy, cfg.lookback), ppy)
    markers = {"hrp": hrp(r), "strategy": np.array([last.weights[t] for t in tickers])}
    return efficient_frontier(
        mu,
        cov,
        n_portfolios=settings.backtest.frontier_portfolios,
        seed=settings.backtest.seed,
        rf=rf,
        max_weight=cfg.max_weight,
        extra_markers=markers,
    )


def _chart(charts: dict[str, Path], fig: Any, path: Path) -> None:
    """Save ``fig`` and file it under its own title, the report's heading for it."""
    title = plots.title_of(fig)
    charts[title] = plots.save(fig, path)


def _charts(
    result: BacktestResult, out: Path, prices: Any, universe: Universe, settings: Settings
) -> dict[str, Path]:
    charts: dict[str, Path] = {}
    _chart(charts, plots.equity_curves(result.returns), out / "equity.png")
    _chart(charts, plots.drawdowns(result.returns), out / "drawdowns.png")
    rolling = plots.rolling_sharpe(
        result.returns, int(TRADING_DAYS), result.periods_per_year, result.risk_free
    )
    _chart(charts, rolling, out / "rolling_sharpe.png")
    if result.weights.height:
        _chart(charts, plots.weights_through_time(result.weights), out / "weights.png")
    if result.allocations:
        last = result.allocations[-1]
        tickers = list(last.clusters)
        tree = plots.dendrogram(
            last.clustering.linkage,
            [tickers[i] for i in last.clustering.tree_rows],
            selected=list(last.weights),
            asset_class=universe.asset_class,
        )
        _chart(charts, tree, out / "dendrogram.png")
    front = latest_frontier(result, prices, settings)
    if front is not None:
        _chart(charts, plots.frontier(front), out / "frontier.png")
    return charts


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    prices: Any,
    universe: Universe,
    settings: Settings,
    meta: dict[str, Any],
    notes: list[str],
) -> dict[str, Path]:
    """Write every backtest output into ``out_dir``; return their paths by name."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    paths["returns"] = atomic_write_text(out / "returns.csv", result.returns.write_csv())
    paths["weights"] = atomic_write_text(out / "weights.csv", result.weights.write_csv())
    paths["metrics"] = atomic_write_text(
        out / "metrics.json", json.dumps(_json_safe(result.metrics), indent=2) + "\n"
    )
    charts = _charts(result, out, prices, universe, settings)
    paths.update({p.stem: p for p in charts.values()})
    paths["report"] = write_report(
        out,
        title="deepquant walk-forward backtest",
        metrics=result.metrics,
        charts=charts,
        meta=meta,
        notes=notes,
    )
    return paths
