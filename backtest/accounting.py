"""Portfolio accounting between rebalances: drift, turnover and costs.

Conventions (the hand-computed tests follow them exactly):

- Target weights decided at the close of rebalance day ``D`` are traded at
  the close ``execution_lag`` trading days later (:func:`trade_indices`; the
  cron job runs after the close, so a live order fills the next day). Their
  first return is the trading day after that. :func:`simulate` takes the
  trade days.
- Between rebalances the holdings drift with prices: weight ``i`` grows by
  ``(1 + r_i)`` each day and the portfolio return is ``sum_i w_i r_i`` plus
  the cash weight times the cash return; weights are renormalised daily.
- Turnover at ``D`` is one-way, cash included (:mod:`shared.turnover`): the
  first rebalance, from cash, has turnover 1, as has a switch from one asset
  to another. The cost ``sum_i |w_target_i - w_drifted_i| * (cost_bps +
  slippage_bps) / 1e4`` (every unit of a risky asset traded) is a fraction of
  wealth paid at ``D``'s close; it appears in the return of the day after
  ``D``: ``(1 - cost) * (1 + gross) - 1``.
- A missing asset return (no price that day) counts as 0: the position is
  held at its last price, and the whole move across the gap is earned on the
  day prices resume.
- Weights summing to less than 1 leave the rest in cash, which earns
  ``cash_returns`` (zeros, or the risk-free rate).
- What a rebalance trades is the live job's own rule,
  :func:`inferer.trading.execute` under ``[trading]`` (a no-trade band, a
  per-asset band, partial moves, a turnover budget). The first rebalance,
  from cash, always invests in full.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import get_args

import numpy as np

from inferer.trading import execute
from shared.choices import Rebalance
from shared.config import TradingSettings
from shared.errors import DataError
from shared.returns import credited_returns
from shared.turnover import one_way_turnover, traded

FREQUENCIES: tuple[str, ...] = get_args(Rebalance)


def rebalance_indices(
    dates: np.ndarray, start: dt.date, end: dt.date, frequency: str
) -> np.ndarray:
    """Decision days: the last trading day on or before ``start``, then period ends.

    After the first, the last trading day of each week, month or quarter in
    ``(start, end]``. The first is on or before ``start`` so that the period
    from ``start`` is earned: ``--start 2025-01-01`` decides on 2024-12-31.
    The last period is included only when it is complete within the data (its
    last trading day is not the final date of ``dates`` unless the next period
    has begun), so a rebalance is never scheduled on a partial month.
    """
    if frequency not in FREQUENCIES:
        raise ValueError(f"rebalance frequency must be one of {FREQUENCIES}, got {frequency!r}")
    d = np.asarray(dates).astype("datetime64[D]")
    if frequency == "weekly":
        # numpy weeks start on Thursday (1970-01-01); shift so they start on Monday.
        period = (d - np.datetime64("1970-01-05")).astype("timedelta64[W]").astype(np.int64)
    else:
        months = d.astype("datetime64[M]").astype(np.int64)
        period = months if frequency == "monthly" else months // 3
    last_of_period = np.flatnonzero(np.diff(period) != 0)  # the next date starts a new period
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D")
    inside = last_of_period[(d[last_of_period] > first) & (d[last_of_period] <= last)]
    on_or_before = np.flatnonzero(d <= min(first, last))
    if on_or_before.size == 0:
        return inside
    return np.r_[on_or_before[-1], inside].astype(np.int64)


def trade_indices(decisions: np.ndarray, lag: int, n_days: int) -> np.ndarray:
    """The days the decisions at ``decisions`` trade: ``lag`` trading days later.

    Decisions whose trade day falls beyond the data are dropped (use the
    prefix ``decisions[: result.size]``).
    """
    if lag < 0:
        raise ValueError(f"execution lag must be >= 0 days, got {lag}")
    trades = np.asarray(decisions, dtype=np.int64) + lag
    return trades[trades < n_days]


def held_returns(returns: np.ndarray) -> np.ndarray:
    """Returns ``(T - 1, ...)`` -> ``(T, ...)`` as accounting reads them.

    Row 0 (no previous price) and a missing return count as 0: the position
    is held at its last price.
    """
    r = np.asarray(returns, dtype=np.float64)
    # zeros_like keeps the input's memory layout (polars hands over column-major
    # arrays), and with it the exact rounding of the products in :func:`simulate`.
    out = np.zeros_like(r, shape=(r.shape[0] + 1, *r.shape[1:]))
    out[1:] = np.where(np.isfinite(r), r, 0.0)
    return out


def asset_returns(prices: np.ndarray) -> np.ndarray:
    """Daily returns ``(T, N)`` of a price matrix, as :func:`held_returns` reads them.

    A gap's move is credited on the day prices resume
    (:func:`shared.returns.credited_returns`).
    """
    return held_returns(credited_returns(prices))


@dataclass(frozen=True)
class Simulation:
    """Daily net returns and trading statistics of one portfolio.

    Attributes
    ----------
    returns : numpy.ndarray
        Net daily simple returns on days ``first + 1 .. T - 1`` where ``first``
        is the first rebalance index.
    turnover : numpy.ndarray
        One-way turnover at each rebalance.
    costs : numpy.ndarray
        Fraction of wealth paid at each rebalance.
    held : numpy.ndarray
        ``(len(rebalances), N)`` drifted weights just before each rebalance
        (zeros before the first): the book each rebalance trades from.
    """

    returns: np.ndarray
    turnover: np.ndarray
    costs: np.ndarray
    held: np.ndarray


def simulate(
    returns: np.ndarray,
    rebalances: np.ndarray,
    targets: np.ndarray,
    *,
    cost_rate: float = 0.0,
    cash_returns: np.ndarray | None = None,
    trading: TradingSettings | None = None,
) -> Simulation:
    """Run a portfolio through rebalances with drift and costs.

    Parameters
    ----------
    returns : numpy.ndarray
        ``(T, N)`` asset simple returns (:func:`asset_returns`).
    rebalances : numpy.ndarray
        Increasing day indices of the rebalances.
    targets : numpy.ndarray
        ``(len(rebalances), N)`` target weights, each row >= 0 summing to <= 1.
    cost_rate : float
        Cost per unit of turnover (``(cost_bps + slippage_bps) / 1e4``).
    cash_returns : numpy.ndarray, optional
        ``(T,)`` return of uninvested cash; zeros when omitted.
    trading : TradingSettings, optional
        What each rebalance after the first really trades
        (:func:`inferer.trading.execute`); default: every target in full.

    Returns
    -------
    Simulation
    """
    r = np.asarray(returns, dtype=np.float64)
    t_count, n = r.shape
    reb = np.asarray(rebalances, dtype=np.int64)
    w_all = np.asarray(targets, dtype=np.float64)
    if reb.size == 0:
        raise DataError("no rebalance date in the backtest period")
    if w_all.shape != (reb.size, n):
        raise ValueError(f"targets must have shape {(reb.size, n)}, got {w_all.shape}")
    if np.any(np.diff(reb) <= 0) or reb[0] < 0 or reb[-1] >= t_count:
        raise ValueError("rebalance indices must be increasing and inside the returns")
    if (w_all < -1e-12).any() or (w_all.sum(axis=1) > 1 + 1e-9).any():
        raise ValueError("target weights must be >= 0 and sum to at most 1")
    cash_r = np.zeros(t_count) if cash_returns is None else np.asarray(cash_returns, float)
    controls = trading if trading is not None else TradingSettings()

    out = np.empty(t_count - 1 - reb[0])
    turnover = np.empty(reb.size)
    costs = np.empty(reb.size)
    held_all = np.zeros((reb.size, n))
    held = np.zeros(n)  # drifted risky weights just before a rebalance; all cash at first
    for k, t0 in enumerate(reb):
        t1 = reb[k + 1] if k + 1 < reb.size else t_count - 1
        w = w_all[k] if k == 0 else execute(w_all[k], held, controls)
        cash = 1.0 - w.sum()
        held_all[k] = held
        turnover[k] = one_way_turnover(w - held)
        costs[k] = cost_rate * traded(w - held)
        # Growth of each holding since t0, then wealth relative to t0's pre-cost wealth.
        growth = np.cumprod(1.0 + r[t0 + 1 : t1 + 1], axis=0)
        cash_growth = np.cumprod(1.0 + cash_r[t0 + 1 : t1 + 1])
        value = (1.0 - costs[k]) * (growth @ w + cash * cash_growth)
        prev = np.r_[1.0, value[:-1]]
        out[t0 - reb[0] : t1 - reb[0]] = value / prev - 1.0
        if value.size:
            held = w * growth[-1] * (1.0 - costs[k]) / value[-1]
    return Simulation(out, turnover, costs, held_all)
