"""The backtest's files: returns, weights, rebalances, metrics, charts and the report.

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

from backtest import plots, sections
from backtest.engine import BacktestResult
from backtest.frontier import Frontier, efficient_frontier
from backtest.names import SECTIONS
from backtest.periods import monthly_returns
from backtest.report import Section, write_report
from backtest.risk import TargetRisk, group_contributions, target_risk
from backtest.sections import RunFacts
from backtest.stability import cluster_stability
from inferer.hrp import hrp
from inferer.moments import complete_rows, moments
from shared.atomic import atomic_write_text
from shared.config import Settings
from shared.errors import DataError, EstimationError
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
        mu, cov = moments(r, ppy, cfg.covariance)
    except EstimationError:
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


def _chart(
    charts: dict[str, Section], anchor: str, fig: Any, path: Path, text: tuple[str, ...] = ()
) -> None:
    """Save ``fig`` and file it under ``anchor``, headed by the chart's own title."""
    title = plots.title_of(fig)
    charts[anchor] = Section(anchor, title, text=text, chart=plots.save(fig, path))


def _return_charts(result: BacktestResult, out: Path) -> dict[str, Section]:
    charts: dict[str, Section] = {}
    ppy = result.periods_per_year
    _chart(charts, "equity", plots.equity_curves(result.returns), out / "equity.png")
    _chart(charts, "drawdown", plots.drawdowns(result.returns), out / "drawdowns.png")
    table = monthly_returns(result.returns, "strategy")
    _chart(charts, "monthly", plots.monthly_heatmap(table), out / "monthly.png")
    _chart(charts, "rolling", plots.rolling_risk(result.returns, ppy), out / "rolling_risk.png")
    rolling = plots.rolling_sharpe(result.returns, int(TRADING_DAYS), ppy, result.risk_free)
    _chart(charts, "rolling_sharpe", rolling, out / "rolling_sharpe.png")
    return charts


def _allocation_charts(
    result: BacktestResult, out: Path, risk: TargetRisk, universe: Universe
) -> dict[str, Section]:
    charts: dict[str, Section] = {}
    classes = universe.asset_class
    last = result.allocations[-1]
    fig = plots.class_weights(result.weights, classes)
    _chart(charts, "asset_classes", fig, out / "asset_classes.png")
    by_cluster = group_contributions(
        risk.contributions, {t: f"cluster {c}" for t, c in last.clusters.items()}
    )
    by_class = group_contributions(risk.contributions, classes)
    fig = plots.risk_contribution(by_cluster, by_class, list(classes.values()))
    _chart(charts, "risk", fig, out / "risk_contribution.png")
    stability = cluster_stability(
        [a.asof for a in result.allocations], [a.clusters for a in result.allocations]
    )
    if stability.height:
        _chart(charts, "stability", plots.cluster_stability(stability), out / "stability.png")
    tickers = list(last.clusters)
    tree = plots.dendrogram(
        last.clustering.linkage,
        [tickers[i] for i in last.clustering.tree_rows],
        selected=list(last.weights),
        asset_class=classes,
    )
    _chart(charts, "dendrogram", tree, out / "dendrogram.png")
    return charts


def _sections(
    result: BacktestResult,
    out: Path,
    prices: Any,
    universe: Universe,
    settings: Settings,
    facts: RunFacts,
) -> list[Section]:
    """Every section of the report, in the order of :data:`backtest.names.SECTIONS`."""
    last = result.allocations[-1]
    day = result.rebalances["date"][-1]
    past = prices.filter(prices["date"] <= day)
    cfg = settings.inference
    risk = target_risk(past, last.weights, cfg.lookback, last.periods_per_year, cfg.covariance)
    tickers = [c for c in prices.columns if c != "date"]
    found: dict[str, Section] = {
        "summary": sections.summary(result, settings, facts),
        "holdings": sections.holdings(result, risk, universe.asset_class),
        "trades": sections.trades(result, tickers),
        "metrics": sections.metrics(result, settings),
        **sections.tables(result),
        **_return_charts(result, out),
        **_allocation_charts(result, out, risk, universe),
        "reproduce": sections.reproduce(result, settings, facts),
    }
    front = latest_frontier(result, prices, settings)
    if front is not None:
        fig = plots.frontier(front, last.asof, settings.inference.lookback)
        note = (
            "Over the assets held after the last rebalance, with the strategy's own moments: "
            "the expected returns are the trailing window's compounded returns, a description "
            "of that window and not a forecast.",
        )
        _chart(found, "frontier", fig, out / "frontier.png", note)
    return [found[anchor] for anchor in SECTIONS if anchor in found]


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    prices: Any,
    universe: Universe,
    settings: Settings,
    facts: RunFacts,
) -> dict[str, Path]:
    """Write every backtest output into ``out_dir``; return their paths by name."""
    if not result.allocations:
        raise DataError("the strategy made no decision: nothing to report")
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    paths["returns"] = atomic_write_text(out / "returns.csv", result.returns.write_csv())
    paths["weights"] = atomic_write_text(out / "weights.csv", result.weights.write_csv())
    paths["rebalances"] = atomic_write_text(out / "rebalances.csv", result.rebalances.write_csv())
    paths["metrics"] = atomic_write_text(
        out / "metrics.json", json.dumps(_json_safe(result.metrics), indent=2) + "\n"
    )
    report_sections = _sections(result, out, prices, universe, settings, facts)
    paths.update({s.chart.stem: s.chart for s in report_sections if s.chart is not None})
    paths["report"] = write_report(
        out, title="deepquant walk-forward backtest", sections=report_sections
    )
    return paths
