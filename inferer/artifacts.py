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

from inferer import plots
from inferer.backtest import BacktestResult
from inferer.frontier import Frontier, efficient_frontier
from inferer.hrp import hrp
from inferer.pipeline import trailing_returns
from inferer.report import write_report
from shared.atomic import atomic_write_text
from shared.universe import Universe


def _json_safe(value: Any) -> Any:
    # Strict JSON has no NaN: an undefined ratio becomes null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def latest_frontier(
    result: BacktestResult, prices: Any, lookback: int, n_portfolios: int, seed: int
) -> Frontier | None:
    """Monte Carlo frontier over the assets the strategy chose at its last rebalance.

    Markers: max-Sharpe and min-vol (from the frontier), HRP over those assets,
    and the strategy's actual weights.
    """
    if not result.allocations:
        return None
    last = result.allocations[-1]
    tickers = list(last.weights)
    if len(tickers) < 2:
        return None
    past = prices.filter(prices["date"] <= last.asof)
    r = trailing_returns(past, tickers, lookback)
    r = r[np.isfinite(r).all(axis=1)]
    ppy = last.periods_per_year
    mu, cov = r.mean(axis=0) * ppy, np.cov(r, rowvar=False) * ppy
    markers = {"hrp": hrp(r), "strategy": np.array([last.weights[t] for t in tickers])}
    return efficient_frontier(mu, cov, n_portfolios=n_portfolios, seed=seed, extra_markers=markers)


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    prices: Any,
    universe: Universe,
    lookback: int,
    n_portfolios: int,
    seed: int,
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
    charts: dict[str, Path] = {
        "Growth of $1 (log scale)": plots.save(
            plots.equity_curves(result.returns), out / "equity.png"
        ),
        "Drawdowns": plots.save(plots.drawdowns(result.returns), out / "drawdowns.png"),
        "Rolling 1-year Sharpe": plots.save(
            plots.rolling_sharpe(result.returns, 252, result.periods_per_year),
            out / "rolling_sharpe.png",
        ),
    }
    if result.weights.height:
        charts["Strategy weights through time"] = plots.save(
            plots.weights_through_time(result.weights), out / "weights.png"
        )
    if result.allocations:
        last = result.allocations[-1]
        charts[f"Clusters of the autoencoder embeddings on {last.asof}"] = plots.save(
            plots.dendrogram(
                last.clustering.linkage,
                list(last.clusters),
                selected=list(last.weights),
                asset_class=universe.asset_class,
            ),
            out / "dendrogram.png",
        )
    front = latest_frontier(result, prices, lookback, n_portfolios, seed)
    if front is not None:
        charts["Efficient frontier of the latest selection"] = plots.save(
            plots.frontier(front), out / "frontier.png"
        )
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
