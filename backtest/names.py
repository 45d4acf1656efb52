"""Names a reader sees: series labels and section titles, shared by the charts and the report.

The files keep the identifiers (``returns.csv`` columns, ``metrics.json``
keys); everything drawn or printed for a person goes through
:func:`series_label` and :data:`SECTIONS`, so a chart's legend, its title and
the report's heading above it cannot disagree.
"""

from __future__ import annotations

from backtest.rolling import ROLLING_WINDOW

__all__ = ["SECTIONS", "TITLES", "series_label"]

_SERIES = {
    "strategy": "Strategy",
    "benchmark": "Benchmark",
    "equal_weight": "Equal weight",
    "hrp_all": "HRP, all assets",
    "corr_cluster": "Correlation clusters",
    "sixty_forty": "60/40",
    "inverse_vol": "Inverse vol",
    "max_sharpe_all": "Max-Sharpe, all assets",
    "momentum": "Momentum",
    "class_cluster": "Asset-class clusters",
    "random_cluster": "Random clusters",
    # With the regime layer (backtest.regime_layer).
    "equal_weight_regime": "Equal weight + regime",
    "sixty_forty_regime": "60/40 + regime",
    "trend_timing": "Benchmark timed by trend",
    # Frontier markers.
    "max_sharpe": "Max Sharpe",
    "min_vol": "Min volatility",
    "hrp": "HRP",
}


def series_label(name: str) -> str:
    """The label of a series or portfolio identifier (``hrp_all`` -> ``HRP, all assets``)."""
    return _SERIES.get(name, name.replace("_", " ").capitalize())


#: Report sections in reading order: anchor -> heading. A chart's title is its heading, with
#: the ``{fields}`` filled in by the chart.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "holdings": "Holdings after the last rebalance",
    "trades": "Trades of the last rebalance",
    "metrics": "Risk and return",
    "equity": "Growth of 1 invested (log scale)",
    "regime": "Market regimes: the strategy and the benchmark, stressed spells shaded",
    "drawdown": "Drawdown from running peak",
    "monthly": "Monthly returns of the strategy",
    "yearly": "Yearly returns",
    "worst_drawdowns": "Five worst drawdowns of the strategy",
    "rolling": f"Rolling {ROLLING_WINDOW}-day volatility and beta to the benchmark",
    "rolling_sharpe": "Rolling {days} Sharpe ratio",
    "asset_classes": "Weights by asset class at each rebalance",
    "risk": "Risk contribution at the last rebalance",
    "stability": "Cluster stability from one rebalance to the next",
    "trading": "Turnover and cost per year",
    "dendrogram": "Asset clustering at the last rebalance: {detail}",
    "frontier": "Efficient frontier on {asof}, from the {days} trading days before",
    "reproduce": "Configuration and data",
}
#: Titles of charts outside the backtest report.
TITLES = {
    "sweep": "Strategy Sharpe ratio per variant (a point per seed; bar: their mean)",
}
