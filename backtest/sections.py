"""The report's text and tables, built from its :class:`Report`: one function per section.

Charts are drawn by :mod:`backtest.plots` and filed by :mod:`backtest.artifacts`;
what is here is everything a reader reads as words and numbers: the
summary, the holdings and trades of the last rebalance, the metrics with
their assumptions, yearly returns, worst drawdowns, turnover and cost per
year, and how to reproduce the run. Headings come from
:data:`backtest.names.SECTIONS`, series labels from
:func:`backtest.names.series_label`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from backtest.names import SECTIONS, series_label
from backtest.rebalances import SWITCH
from backtest.report import Section, Table, format_value, metrics_table
from backtest.report_data import Report, ReportData
from backtest.turnover_split import PARTS
from shared import __version__
from shared.config import PATH_KEYS, Settings
from shared.turnover import one_way_turnover

__all__ = ["holdings", "metrics", "regime", "reproduce", "summary", "tables", "trades"]


def _section(anchor: str, **content: Any) -> Section:
    return Section(anchor, SECTIONS[anchor], **content)


def _pct(v: float) -> str:
    return format_value(v, "pct1")


def _sentence(name: str, m: Mapping[str, float], bench: Mapping[str, float]) -> str:
    if name == "benchmark":
        return (
            f"{series_label(name)}, held without trading: CAGR {_pct(m['cagr'])}, Sharpe "
            f"{format_value(m['sharpe'], 'ratio')}, worst drawdown {_pct(m['max_drawdown'])}."
        )
    return (
        f"{series_label(name)}: CAGR {_pct(m['cagr'])} against the benchmark's "
        f"{_pct(bench['cagr'])}, Sharpe {format_value(m['sharpe'], 'ratio')} against "
        f"{format_value(bench['sharpe'], 'ratio')}, worst drawdown {_pct(m['max_drawdown'])} "
        f"against {_pct(bench['max_drawdown'])}, after costs of "
        f"{_pct(m.get('cost_drag', float('nan')))} a year."
    )


def summary(report: Report) -> Section:
    """One sentence on the run, then one per series against the benchmark."""
    dates, settings = report.rebalances["date"], report.settings
    cfg = settings.backtest
    lead = (
        f"Walk-forward from {report.returns['date'][0]} to {report.returns['date'][-1]}: "
        f"{dates.len()} {cfg.rebalance} rebalances from {dates[0]} to {dates[-1]}, each "
        f"decided from prices up to its date with a model trained on prices up to it at "
        f"the latest; "
        f"{settings.data.benchmark} is the benchmark."
    )
    bench = report.metrics["benchmark"]
    items = tuple(_sentence(name, m, bench) for name, m in report.metrics.items())
    return _section("summary", text=(lead,), items=items + report.facts.notes)


def holdings(report: Report) -> Section:
    """The last rebalance's target weights: ticker, class, cluster, weight, risk share."""
    last, risk, asset_class = report.book, report.data.ex_ante, report.classes
    rows = tuple(
        (
            ticker,
            asset_class.get(ticker, "unknown"),
            str(last.clusters.get(ticker, "")),
            format_value(weight, "pct1"),
            format_value(risk.contributions.get(ticker), "pct1"),
        )
        for ticker, weight in last.weights.items()
    )
    cash = 1.0 - sum(last.weights.values())
    text = (
        f"Target weights decided on {report.rebalances['date'][-1]} "
        f"(ex-ante volatility {_pct(risk.vol)} a year"
        + (f", {_pct(cash)} in cash" if cash > 1e-9 else "")
        + "). Risk contribution is each asset's share of the portfolio variance.",
    )
    columns = ("Ticker", "Asset class", "Cluster", "Weight", "Risk contribution")
    table = Table(columns, rows, (False, False, True, True, True))
    return _section("holdings", text=text, table=table)


def trades(report: Report) -> Section:
    """From the book drifted since the previous rebalance to the last rebalance's target."""
    frame = report.data.trades
    rows = tuple(
        (t, _pct(a), _pct(b), format_value(c, "pct1"))
        for t, a, b, c in frame.iter_rows()
        if abs(c) > 5e-4
    )
    turnover = one_way_turnover(frame["change"].to_numpy())
    cost = format_value(report.rebalances["cost"][-1], "pct")
    text = (
        f"One-way turnover {_pct(turnover)}, cost {cost} of wealth; "
        "changes under 0.05% are left out.",
    )
    table = Table(("Ticker", "Before", "After", "Change"), rows, (False, True, True, True))
    return _section("trades", text=text, table=table)


def metrics(report: Report) -> Section:
    """The metrics table with the risk-free rate and cost assumptions beside it."""
    cfg, rf = report.settings.backtest, report.settings.inference.risk_free
    mean_rf = float(np.mean(report.risk_free)) * report.periods_per_year
    rate = (
        f"the daily returns of {rf}, which averaged {_pct(mean_rf)} a year over the period"
        if isinstance(rf, str)
        else f"a constant {_pct(rf)} a year"
    )
    cash = "the risk-free rate" if cfg.cash == "risk_free" else "nothing"
    items = (
        f"Sharpe, Sortino, alpha and beta are measured over the risk-free rate: {rate}.",
        f"Costs: {cfg.cost_bps:g} bps plus {cfg.slippage_bps:g} bps slippage on every unit "
        "traded; turnover is one-way, cash included.",
        f"Uninvested cash earns {cash}.",
        "Volatility, VaR and ratios are annualised with the calendar's "
        f"{report.periods_per_year:.1f} trading days a year.",
    )
    labels = [series_label(name) for name in report.metrics]
    return _section("metrics", table=metrics_table(report.metrics, labels), items=items)


def _yearly(data: ReportData) -> Section:
    frame = data.yearly
    names = [c for c in frame.columns if c != "year"]
    rows = tuple(
        (str(row[0]), *(format_value(v, "pct1") for v in row[1:])) for row in frame.iter_rows()
    )
    columns = ("Year", *(series_label(n) for n in names))
    table = Table(columns, rows, (False, *(True,) * len(names)), highlight=1)
    return _section("yearly", table=table, text=("Partial first and last years included.",))


def _worst(data: ReportData) -> Section:
    frame = data.worst_drawdowns
    rows = tuple(
        (
            str(s),
            str(t),
            str(r) if r is not None else "not recovered",
            format_value(d, "pct1"),
            format_value(n, "int"),
        )
        for s, t, r, d, n in frame.iter_rows()
    )
    columns = ("Peak", "Trough", "Recovery", "Depth", "Length (trading days)")
    table = Table(columns, rows, (False, False, False, True, True))
    return _section("worst_drawdowns", table=table)


#: Column headings of the turnover's parts (backtest.turnover_split.PARTS).
_PART_NAMES = {
    "cluster": "cluster churn", "picks": "pick churn", "weights": "weights", "drift": "drift",
    "cash": "cash", "regime": "regime",
}  # fmt: skip


def _trading(rebalances: pl.DataFrame, data: ReportData) -> Section:
    frame = data.trading
    parts = [f"turnover_{part}" for part in PARTS]
    rows = tuple(
        (str(r["year"]), str(r["rebalances"]), format_value(r["turnover"], "pct1"),
         format_value(r["cost"], "pct"), *(format_value(r[p], "pct1") for p in parts))
        for r in frame.iter_rows(named=True)
    )  # fmt: skip
    total = (
        "Total",
        str(rebalances.height),
        format_value(float(rebalances["turnover"].sum()), "pct1"),
        format_value(float(rebalances["cost"].sum()), "pct"),
        *(format_value(float(rebalances[p].sum()), "pct1") for p in parts),
    )
    columns = ("Year", "Trades", "Turnover (one-way)", "Cost (of wealth)",
               *(f"of which {_PART_NAMES[p]}" for p in PARTS))  # fmt: skip
    text = (
        "The strategy's; rebalances.csv has every trade's row. The turnover's parts add up "
        "to it: names entering or leaving the book whose cluster changed (cluster churn) or "
        "did not (pick churn), held names' weights moved, drift undone, cash, and trades a "
        "change of regime made.",
    )
    table = Table(columns, (*rows, total), (False, *(True,) * (len(columns) - 1)))
    return _section("trading", text=text, table=table)


def _regime_text(report: Report) -> tuple[str, ...]:
    cfg, reb = report.settings.regime, report.rebalances
    switched = reb.filter(pl.col("method_used") == SWITCH)
    years = report.returns.height / report.periods_per_year
    where = report.settings.inference.risk_free
    where = where if isinstance(where, str) else "cash"
    return (
        f"Model: {cfg.model}, read online (each close from closes up to it), refitted with each "
        f"bundle on {cfg.train_years:g} years of the benchmark. In the stressed state "
        f"{cfg.fraction:.0%} of the risky book moves to {where} ({cfg.exposure}, timing "
        f"{cfg.timing}).",
        f"Trades the regime made between rebalances: {switched.height}, one-way turnover "
        f"{_pct(float(switched['turnover'].sum()) / years)} a year, cost "
        f"{format_value(float(switched['cost'].sum()) / years, 'pct')} a year. A day counts "
        "in the state read at the close before it, the one its book was chosen in.",
    )


def regime(report: Report) -> Section | None:
    """Share of days, spells and returns per state (None with the layer off)."""
    frame = report.data.regime_table
    if frame is None:
        return None
    rows = tuple(
        (
            str(r["state"]), _pct(r["share_of_days"]), str(r["spells"]),
            format_value(r["mean_spell_days"], "int"),
            format_value(r["switches_per_year"], "ratio"),
            *(_pct(r[f"{s}_{m}"]) for s in ("strategy", "benchmark")
              for m in ("return", "vol", "max_drawdown")),
        )
        for r in frame.iter_rows(named=True)
    )  # fmt: skip
    columns = ("State", "Days", "Spells", "Mean spell (days)", "Switches a year",
               "Strategy return", "Strategy vol", "Strategy max DD",
               "Benchmark return", "Benchmark vol", "Benchmark max DD")  # fmt: skip
    table = Table(columns, rows, (False, *(True,) * 10))
    return _section("regime", text=_regime_text(report), table=table)


def tables(report: Report) -> dict[str, Section]:
    """The sections that are a table of the returns or the rebalances, by anchor."""
    return {
        "yearly": _yearly(report.data),
        "worst_drawdowns": _worst(report.data),
        "trading": _trading(report.rebalances, report.data),
    }


def _toml_value(section: str, key: str, value: Any) -> str:
    if isinstance(value, str) and key in PATH_KEYS.get(section, ()):
        value = Path(value).name  # a local path says nothing to another reader
    return json.dumps(value)  # TOML's strings, numbers, booleans and arrays read the same


def settings_toml(settings: Settings) -> str:
    """The effective settings, defaults included, as a TOML file ``deepquant`` can read."""
    lines: list[str] = []
    for section, values in settings.model_dump(mode="json").items():
        if lines:
            lines.append("")
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                lines.append(f"# {key}: not set")
            else:
                lines.append(f"{key} = {_toml_value(section, key, value)}")
    return "\n".join(lines) + "\n"


def reproduce(report: Report) -> Section:
    """The command, the data range and the effective settings of the run."""
    bundles, settings, facts = list(report.book.bundles), report.settings, report.facts
    prices = f" --prices {facts.prices_name}" if facts.prices_name else ""
    command = (
        f"deepquant backtest --config {facts.config_name}{prices} --model {facts.model_name} "
        f"--start {facts.start} --end {facts.end} --out <folder>"
    )
    items = (
        f"Command: {command}",
        f"Prices: {facts.n_assets} assets from {facts.source}, {facts.data_first} to "
        f"{facts.data_last}.",
        f"Models: {len(bundles)} bundle(s), {bundles[0]} to {bundles[-1]}."
        if bundles
        else "Models: none used.",
        f"deepquant {__version__}; settings digest {settings.digest()}.",
        "The effective settings, defaults included, follow.",
    )
    return _section("reproduce", items=items, code=settings_toml(settings))
