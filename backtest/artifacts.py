"""The backtest's files: returns, weights, rebalances, metrics, charts and the report.

Every file is written through a temporary name and a rename (see
:mod:`shared.atomic`); the report is written last, so its presence means
the run finished.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from backtest import plots, sections
from backtest.engine import BacktestResult
from backtest.names import SECTIONS
from backtest.report import Section, write_report
from backtest.report_data import Report, ReportData, RunFacts, report_of
from backtest.report_file import INPUTS, save_inputs
from shared.atomic import atomic_write_text
from shared.config import Settings
from shared.universe import Universe

#: A backtest's data, which its report is drawn from (the inputs last).
DATA_FILES = ("returns.csv", "weights.csv", "rebalances.csv", "metrics.json", INPUTS)


def _json_safe(value: Any) -> Any:
    # Strict JSON has no NaN: an undefined ratio becomes null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _chart(
    charts: dict[str, Section], anchor: str, fig: Any, path: Path, text: tuple[str, ...] = ()
) -> None:
    """Save ``fig`` and file it under ``anchor``, headed by the chart's own title."""
    title = plots.title_of(fig)
    charts[anchor] = Section(anchor, title, text=text, chart=plots.save(fig, path))


def _return_charts(data: ReportData, out: Path) -> dict[str, Section]:
    charts: dict[str, Section] = {}
    _chart(charts, "equity", plots.equity_curves(data.growth), out / "equity.png")
    _chart(charts, "drawdown", plots.drawdowns(data.drawdowns), out / "drawdowns.png")
    _chart(charts, "monthly", plots.monthly_heatmap(data.monthly), out / "monthly.png")
    fig = plots.rolling_risk(data.rolling_vol, data.rolling_beta)
    _chart(charts, "rolling", fig, out / "rolling_risk.png")
    fig = plots.rolling_sharpe(data.rolling_sharpe)
    _chart(charts, "rolling_sharpe", fig, out / "rolling_sharpe.png")
    return charts


def _allocation_charts(report: Report, out: Path) -> dict[str, Section]:
    charts: dict[str, Section] = {}
    data, classes, book = report.data, report.classes, report.book
    fig = plots.class_weights(data.class_weights, classes)
    _chart(charts, "asset_classes", fig, out / "asset_classes.png")
    fig = plots.risk_contribution(data.risk_by_cluster, data.risk_by_class, list(classes.values()))
    _chart(charts, "risk", fig, out / "risk_contribution.png")
    if data.stability.height:
        fig = plots.cluster_stability(data.stability)
        _chart(charts, "stability", fig, out / "stability.png")
    tickers = list(book.clusters)
    tree = plots.dendrogram(
        book.linkage,
        [tickers[i] for i in book.tree_rows],
        selected=list(book.weights),
        asset_class=classes,
    )
    _chart(charts, "dendrogram", tree, out / "dendrogram.png")
    return charts


def render_sections(report: Report, out: Path) -> list[Section]:
    """Every section of the report, charts saved in ``out``, in :data:`SECTIONS`' order."""
    found: dict[str, Section] = {
        "summary": sections.summary(report),
        "holdings": sections.holdings(report),
        "trades": sections.trades(report),
        "metrics": sections.metrics(report),
        **sections.tables(report),
        **_return_charts(report.data, out),
        **_allocation_charts(report, out),
        "reproduce": sections.reproduce(report),
    }
    if report.data.frontier is not None:
        fig = plots.frontier(
            report.data.frontier, report.book.asof, report.settings.inference.lookback
        )
        note = (
            "Over the assets held after the last rebalance, with the strategy's own moments: "
            "the expected returns are the trailing window's compounded returns, a description "
            "of that window and not a forecast.",
        )
        _chart(found, "frontier", fig, out / "frontier.png", note)
    table = sections.regime(report)
    if table is not None and report.data.regime is not None:
        fig = plots.regime_equity(report.data.growth, report.data.regime)
        found["regime"] = replace(table, chart=plots.save(fig, out / "regime.png"))
    return [found[anchor] for anchor in SECTIONS if anchor in found]


def render(report: Report, out_dir: str | Path) -> dict[str, Path]:
    """Draw the charts and write ``report.html`` and ``report.md`` into ``out_dir``."""
    out = Path(out_dir)
    report_sections = render_sections(report, out)
    paths = {s.chart.stem: s.chart for s in report_sections if s.chart is not None}
    paths["report"] = write_report(
        out, title="deepquant walk-forward backtest", sections=report_sections
    )
    return paths


def write_backtest(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    prices: pl.DataFrame,
    universe: Universe,
    settings: Settings,
    facts: RunFacts,
    draw: bool = True,
) -> dict[str, Path]:
    """Write every backtest output into ``out_dir``; return their paths by name.

    The report's numbers come from :func:`backtest.report_data.report_of`,
    kept in the folder (:mod:`backtest.report_file`) so that ``deepquant
    report`` can draw it later; ``draw=False`` writes the data alone.
    """
    report = report_of(result, prices, universe.asset_class, settings, facts)
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    paths["returns"] = atomic_write_text(out / "returns.csv", result.returns.write_csv())
    paths["weights"] = atomic_write_text(out / "weights.csv", result.weights.write_csv())
    paths["rebalances"] = atomic_write_text(out / "rebalances.csv", result.rebalances.write_csv())
    paths["metrics"] = atomic_write_text(
        out / "metrics.json", json.dumps(_json_safe(result.metrics), indent=2) + "\n"
    )
    paths["inputs"] = save_inputs(report, out)
    if draw:
        paths.update(render(report, out))
    return paths
