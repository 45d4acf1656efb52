"""Ex-ante risk of a set of target weights: volatility and each asset's share of it.

The covariance is the strategy's own (:func:`inferer.moments.moments`:
Ledoit-Wolf over the days of the lookback where every held asset has a
return), so the risk a rebalance reports is the risk its optimiser saw.
A risk contribution is the share of the portfolio variance an asset carries,
``w_i (Sigma w)_i / (w' Sigma w)``; the shares sum to 1 and group by cluster or
asset class by addition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from inferer.moments import covariance
from shared.errors import EstimationError
from shared.returns import trailing_returns

__all__ = ["TargetRisk", "group_contributions", "risk_contributions", "target_risk"]


@dataclass(frozen=True)
class TargetRisk:
    """Annualised ex-ante volatility and the risk share of each asset (NaN when undefined)."""

    vol: float
    contributions: dict[str, float]


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each asset's share of ``w' cov w``; zeros when the portfolio has no variance."""
    w = np.asarray(weights, dtype=np.float64)
    marginal = np.asarray(cov, dtype=np.float64) @ w
    variance = float(w @ marginal)
    if not variance > 0:
        return np.zeros_like(w)
    return w * marginal / variance


def target_risk(
    past: pl.DataFrame,
    weights: Mapping[str, float],
    lookback: int,
    periods_per_year: float,
    kind: str,
) -> TargetRisk:
    """Ex-ante risk of ``weights`` from the ``lookback`` days of ``past`` before the decision.

    The covariance is ``kind`` (``[inference] covariance``), the strategy's own.

    Cash (weights summing to less than 1) carries no risk. Too few complete
    days for a covariance give NaN everywhere rather than an error: the
    number describes a decision, it does not make one.
    """
    tickers = [t for t, w in weights.items() if w > 0]
    nan = TargetRisk(math.nan, dict.fromkeys(tickers, math.nan))
    if not tickers:
        return TargetRisk(0.0, {})
    w = np.array([weights[t] for t in tickers])
    if len(tickers) == 1:
        r = trailing_returns(past, tickers, lookback)[:, 0]
        vol = float(np.nanstd(r, ddof=1) * math.sqrt(periods_per_year) * w[0])
        return TargetRisk(vol, {tickers[0]: 1.0}) if math.isfinite(vol) else nan
    try:
        cov = covariance(trailing_returns(past, tickers, lookback), periods_per_year, kind)
    except EstimationError:
        return nan
    vol = math.sqrt(max(float(w @ cov @ w), 0.0))
    shares = risk_contributions(w, cov)
    return TargetRisk(vol, dict(zip(tickers, shares.tolist(), strict=True)))


def group_contributions(
    contributions: Mapping[str, float], group: Mapping[str, object]
) -> dict[str, float]:
    """Risk shares summed by group (cluster, asset class), largest first."""
    out: dict[str, float] = {}
    for ticker, share in contributions.items():
        key = str(group.get(ticker, "unknown"))
        out[key] = out.get(key, 0.0) + share
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))
