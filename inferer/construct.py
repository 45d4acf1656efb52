"""From the picks of each cluster to a portfolio.

Steps, each a setting of ``[inference]``:

1. ``within``: each cluster's picks are weighted equally or by inverse
   volatility into one sub-portfolio per cluster.
2. ``method``: the clusters' sub-portfolio returns are allocated by
   :func:`inferer.allocate.allocate` (HRP, risk parity, min-variance, ...).
   With one pick per cluster this is the allocation over the picks, and the
   per-asset cap is a bound inside the optimiser, as before clusters had more
   than one pick.
3. Caps: per asset (``max_weight``), per cluster (``max_cluster_weight``) and
   per asset class (``max_class_weight``). What a cap takes off goes to the
   groups under it in proportion to their weight; what none can take is cash.
4. ``absolute_filter``: a pick whose trailing excess return over the
   risk-free rate is not positive gives its weight to cash.
5. ``vol_target``: the risky weights are scaled down, never up, so that their
   ex-ante volatility under the configured covariance is at most the target.

Cash is the risk-free proxy when that is a ticker
(:func:`inferer.pipeline.decide`), else uninvested.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from inferer.allocate import MethodResult, allocate, inverse_vol_weights
from inferer.moments import complete_rows, covariance
from shared.config import InferenceSettings
from shared.errors import EstimationError

__all__ = ["Portfolio", "cap_groups", "cluster_returns", "construct", "vol_scale"]

#: Rounds of capping asset, cluster and class in turn; each pass only moves weight to room.
_CAP_ROUNDS = 50

log = logging.getLogger("deepquant.construct")


@dataclass(frozen=True)
class Portfolio:
    """Weights of the picks and how they came about.

    Attributes
    ----------
    weights : numpy.ndarray
        ``(m,)`` weight of each pick, ``>= 0``, summing to at most 1; the rest is cash.
    result : MethodResult
        The allocation across clusters (method used, fallback).
    notes : dict of str to str
        Picks whose weight a rule cut, and the rule.
    """

    weights: np.ndarray
    result: MethodResult
    notes: dict[str, str] = field(default_factory=dict)


def cluster_returns(returns: np.ndarray, groups: np.ndarray, within: np.ndarray) -> np.ndarray:
    """``(T, k)`` returns of each group's sub-portfolio, groups ``0 .. k - 1``.

    A day on which some members lack a return averages the others (their
    ``within`` weights renormalised); a day none has is NaN.
    """
    r = np.asarray(returns, dtype=np.float64)
    k = int(groups.max()) + 1
    out = np.empty((r.shape[0], k))
    for g in range(k):
        cols = groups == g
        w = within[cols]
        present = ~np.isnan(r[:, cols])
        den = present @ w
        num = np.where(present, r[:, cols], 0.0) @ w
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, g] = np.where(den > 0, num / den, np.nan)
    return out


def _within(returns: np.ndarray, groups: np.ndarray, how: str) -> np.ndarray:
    """Each pick's weight inside its cluster; each cluster's weights sum to 1."""
    w = np.ones(groups.size)
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        if how == "inverse_vol" and cols.size > 1:
            w[cols] = inverse_vol_weights(returns[:, cols])
        else:
            w[cols] = 1.0 / cols.size
    return w


def cap_groups(w: np.ndarray, groups: Sequence[object] | np.ndarray, cap: float) -> np.ndarray:
    """Cap the total weight of each group at ``cap``; the excess goes to groups with room.

    Groups above the cap are scaled down to it; the excess is shared by the
    groups below it in proportion to their weight, repeated until none is
    over. What no group can take is left out (cash): the result sums to at
    most the input's sum.
    """
    x = np.asarray(w, dtype=np.float64).copy()
    if cap >= 1.0:
        return x
    keys = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
    for _ in range(keys.max() + 2):
        totals = np.bincount(keys, weights=x)
        over = totals > cap + 1e-12
        if not over.any():
            break
        excess = float((totals[over] - cap).sum())
        x *= np.where(over, cap / np.where(totals > 0, totals, 1.0), 1.0)[keys]
        room = ~over & (totals < cap - 1e-12) & (totals > 0)
        if not room.any():
            break
        x *= np.where(room, 1.0 + excess / totals[room].sum(), 1.0)[keys]
    return x


def cut_groups(w: np.ndarray, groups: Sequence[object] | np.ndarray, cap: float) -> np.ndarray:
    """Scale each group over ``cap`` down to it; nothing goes elsewhere (the cut is cash)."""
    x = np.asarray(w, dtype=np.float64).copy()
    if cap >= 1.0:
        return x
    keys = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
    totals = np.bincount(keys, weights=x)
    over = totals > cap + 1e-12  # as cap_groups: a group at its cap is left alone
    return x * np.where(over, cap / np.where(totals > 0, totals, 1.0), 1.0)[keys]


def vol_scale(vol: float, target: float) -> float:
    """The factor, at most 1, that brings a portfolio of volatility ``vol`` to ``target``."""
    if target <= 0 or not np.isfinite(vol) or vol <= target:
        return 1.0
    return target / vol


def _ex_ante_vol(returns: np.ndarray, w: np.ndarray, ppy: float, kind: str) -> float:
    held = w > 0
    if not held.any():
        return 0.0
    try:
        cov = covariance(complete_rows(returns[:, held]), ppy, kind)
    except EstimationError:
        return float("nan")
    return float(np.sqrt(max(w[held] @ cov @ w[held], 0.0)))


def _capped(
    w: np.ndarray, groups: np.ndarray, classes: Sequence[str], cfg: InferenceSettings
) -> np.ndarray:
    """Asset, cluster and class caps, in turn until all hold.

    When they cannot all be met by moving weight between groups (two classes
    capped at 50%, one of them a single cluster capped at 25%), the rounds
    pass the excess back and forth: the last step cuts every group still
    over its cap, without passing anything on, so every cap holds and the
    rest is cash. A book whose caps all hold is left as it is.
    """
    assets = np.arange(w.size)
    caps = ((assets, cfg.max_weight), (groups, cfg.max_cluster_weight),
            (classes, cfg.max_class_weight))  # fmt: skip
    for _ in range(_CAP_ROUNDS):
        before = w
        for keys, cap in caps:
            w = cap_groups(w, keys, cap)
        if np.allclose(w, before, rtol=0, atol=1e-15):
            break
    # A round can also settle into a cycle (the cluster cap moving weight into a
    # class the class cap then fills back): the cuts leave a valid book either way.
    for keys, cap in caps:
        w = cut_groups(w, keys, cap)
    return w


def _across_cap(groups: np.ndarray, cfg: InferenceSettings) -> float:
    """The weight cap the allocation across clusters is given.

    With one pick per cluster a cluster is an asset, so the asset cap (and the
    cluster cap, when the clusters can meet it) binds inside the optimiser.
    A cluster cap too tight for the number of clusters is left to
    :func:`cap_groups`, which puts what it cuts in cash, rather than failing.
    """
    k = int(groups.max()) + 1
    cluster_cap = cfg.max_cluster_weight if cfg.max_cluster_weight * k >= 1 - 1e-12 else 1.0
    if np.bincount(groups).max() == 1:
        return min(cluster_cap, cfg.max_weight)
    return cluster_cap


def construct(
    returns: np.ndarray,
    tickers: Sequence[str],
    groups: np.ndarray,
    cfg: InferenceSettings,
    *,
    periods_per_year: float,
    risk_free_rate: float,
    excess_returns: np.ndarray,
    classes: Sequence[str] | None = None,
) -> Portfolio:
    """Weights of the picks (columns of ``returns``) by the steps of the module docstring.

    Parameters
    ----------
    returns : numpy.ndarray
        ``(T, m)`` trailing returns of the picks, NaN where missing.
    tickers : sequence of str
        The ``m`` picks.
    groups : numpy.ndarray
        ``(m,)`` cluster of each pick, numbered ``0 .. k - 1``.
    cfg : InferenceSettings
    periods_per_year, risk_free_rate : float
        Calendar and annual risk-free rate.
    excess_returns : numpy.ndarray
        ``(m,)`` annual mean excess return of each pick (the absolute filter).
    classes : sequence of str, optional
        Asset class of each pick (class caps); one class for all when omitted.
    """
    r = np.asarray(returns, dtype=np.float64)
    within = _within(r, groups, cfg.within)
    result = allocate(
        cluster_returns(r, groups, within),
        cfg.method,
        max_weight=_across_cap(groups, cfg),
        fallback=cfg.fallback,
        periods_per_year=periods_per_year,
        risk_free_rate=risk_free_rate,
        covariance=cfg.covariance,
    )
    w = result.weights[groups] * within
    w = _capped(w, groups, classes if classes is not None else ["all"] * w.size, cfg)
    notes: dict[str, str] = {}
    cash = 1.0 - float(w.sum())
    if cash > 1e-9:
        # No pick could take more within its caps: what is left is cash, and said.
        notes["(caps)"] = (
            f"caps: {cash:.2%} of the book to cash (max_weight {cfg.max_weight:g}, "
            f"max_cluster_weight {cfg.max_cluster_weight:g}, "
            f"max_class_weight {cfg.max_class_weight:g} leave no room for it)"
        )
        log.debug("construction: %s", notes["(caps)"])
    if cfg.absolute_filter:
        losing = ~(np.asarray(excess_returns) > 0)
        for j in np.flatnonzero(losing & (w > 0)):
            notes[tickers[int(j)]] = (
                f"absolute filter: trailing excess return {excess_returns[j]:.2%} <= 0, "
                f"its {w[j]:.2%} to cash"
            )
        w = np.where(losing, 0.0, w)
    if cfg.vol_target <= 0:
        return Portfolio(w, result, notes)
    # Estimated only for the target: it is a covariance per decision, a third of its time.
    vol = _ex_ante_vol(r, w, periods_per_year, cfg.covariance)
    scale = vol_scale(vol, cfg.vol_target)
    if scale < 1.0:
        notes["(portfolio)"] = (
            f"vol target: ex-ante volatility {vol:.2%} > {cfg.vol_target:.2%}, "
            f"risky weights x {scale:.3f}"
        )
    return Portfolio(w * scale, result, notes)
