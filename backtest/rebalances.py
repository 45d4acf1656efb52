"""``rebalances.csv``: one row per rebalance of the strategy, saying what it decided and why.

Columns, in order (:data:`COLUMNS`): ``date``; ``bundle`` (the model folder
used); ``k`` and ``silhouette`` of the clustering; ``candidates`` (assets
embedded and clustered) and ``picks`` (assets held); ``method`` asked for,
``method_used`` and ``fallback`` (why the method asked for was not used;
empty when it was); one-way ``turnover`` and ``cost`` (fraction of wealth,
as :mod:`backtest.accounting` charges it); and ``ex_ante_vol``, the
annualised volatility of the target weights under the strategy's covariance
(:mod:`backtest.risk`); with the regime layer on, ``stress`` (the
probability of the stressed state read at the date's close) and
``exposure`` (the share of the risky book kept), empty when it is off. A
decision that failed keeps the previous weights: its row says ``kept
previous`` with the error as the fallback reason. A change of regime between
rebalances that traded (``[regime] timing = "daily"``) has a row of its own,
method ``regime`` and method_used ``regime switch``. Then the turnover in
parts that sum to it (``turnover_cluster``, ``_picks``, ``_weights``,
``_drift``, ``_cash``, ``_regime``: :mod:`backtest.turnover_split`), and
``ari``, the adjusted Rand index of the rebalance's clustering against the
last one (empty for the first, a kept book or a switch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from backtest.turnover_split import PARTS
from inferer.pipeline import AsofDecision

__all__ = [
    "COLUMNS",
    "KEPT",
    "SWITCH",
    "decided_row",
    "kept_row",
    "rebalances_frame",
    "switch_row",
    "yearly_trading",
]

KEPT = "kept previous"
SWITCH = "regime switch"

SCHEMA: dict[str, Any] = {
    "date": pl.Date,
    "bundle": pl.String,
    "k": pl.Int64,
    "silhouette": pl.Float64,
    "candidates": pl.Int64,
    "picks": pl.Int64,
    "method": pl.String,
    "method_used": pl.String,
    "fallback": pl.String,
    "turnover": pl.Float64,
    "cost": pl.Float64,
    "ex_ante_vol": pl.Float64,
    "stress": pl.Float64,
    "exposure": pl.Float64,
    **{f"turnover_{part}": pl.Float64 for part in PARTS},
    "ari": pl.Float64,
}
COLUMNS: tuple[str, ...] = tuple(SCHEMA)


def decided_row(alloc: AsofDecision, ex_ante_vol: float) -> dict[str, Any]:
    """The row of a rebalance whose decision was made (turnover and cost come later)."""
    return {
        "date": alloc.asof,
        "bundle": Path(alloc.bundle_path).name,
        "k": alloc.clustering.n_clusters,
        "silhouette": alloc.clustering.silhouette,
        "candidates": len(alloc.clusters),
        "picks": len(alloc.weights),
        "method": alloc.method,
        "method_used": alloc.method_used,
        "fallback": alloc.fallback_reason or "",
        "ex_ante_vol": ex_ante_vol,
        "stress": alloc.regime.stress if alloc.regime else None,
        "exposure": alloc.regime.exposure if alloc.regime else None,
    }


def kept_row(
    day: dt.date, bundle: str | Path, method: str, picks: int, error: str, ex_ante_vol: float
) -> dict[str, Any]:
    """The row of a rebalance whose decision failed, so the previous weights were kept."""
    return {
        "date": day,
        "bundle": Path(bundle).name,
        "k": None,
        "silhouette": None,
        "candidates": None,
        "picks": picks,
        "method": method,
        "method_used": KEPT,
        "fallback": error,
        "ex_ante_vol": ex_ante_vol,
    }


def switch_row(
    day: dt.date, bundle: str | Path, picks: int, stress: float, exposure: float,
    ex_ante_vol: float,
) -> dict[str, Any]:  # fmt: skip
    """The row of a trade a change of regime made between rebalances."""
    return {
        "date": day,
        "bundle": Path(bundle).name,
        "picks": picks,
        "method": "regime",
        "method_used": SWITCH,
        "fallback": "",
        "ex_ante_vol": ex_ante_vol,
        "stress": stress,
        "exposure": exposure,
    }


def rebalances_frame(
    rows: Sequence[Mapping[str, Any]], turnover: np.ndarray, costs: np.ndarray
) -> pl.DataFrame:
    """The rows with the simulation's turnover and cost, in :data:`COLUMNS` order."""
    if not len(rows) == turnover.size == costs.size:
        raise ValueError(
            f"{len(rows)} rebalances but {turnover.size} turnovers, {costs.size} costs"
        )
    full = [
        {**row, "turnover": float(t), "cost": float(c)}
        for row, t, c in zip(rows, turnover, costs, strict=True)
    ]
    return pl.DataFrame(full, schema=SCHEMA)


def yearly_trading(rebalances: pl.DataFrame) -> pl.DataFrame:
    """Per calendar year: trades, one-way turnover, cost, and the turnover's parts (sums)."""
    return (
        rebalances.group_by(pl.col("date").dt.year().alias("year"))
        .agg(
            pl.len().alias("rebalances"),
            pl.col("turnover").sum(),
            pl.col("cost").sum(),
            *(pl.col(f"turnover_{part}").sum() for part in PARTS),
        )
        .sort("year")
        .with_columns(pl.col("rebalances").cast(pl.Int64))
    )
