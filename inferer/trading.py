"""The trades a rebalance really makes, from the book held to the target, under ``[trading]``.

One function for the live job (``deepquant infer``'s trades and the book it
leaves) and the backtest (:func:`backtest.accounting.simulate`), so the book
that is backtested is the book that is traded. In order:

1. ``no_trade_band``: no trade at all when the whole move would turn over
   (one-way) less than it.
2. ``asset_band``: a name held before and after keeps its weight when it
   would move by less than this; names entering or leaving always trade.
3. ``trade_fraction``: every remaining trade goes that part of the way.
4. ``max_turnover``: the largest one-way turnover of one rebalance. The
   budget goes to the largest sells, then to the largest buys, up to what
   the sells and the cash held pay for, so the book never holds more than
   it owns; each trade taken moves the book toward its target by its size,
   so the largest first move it most.

With the defaults (0, 0, 1, 0) the book trades to its target.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shared.config import TradingSettings
from shared.turnover import one_way_turnover

__all__ = ["execute"]

FloatArray = npt.NDArray[np.float64]


def _largest_first(amounts: FloatArray, budget: float) -> FloatArray:
    """Each amount taken whole, largest first, until ``budget``; the last one in part."""
    order = np.argsort(-amounts, kind="stable")
    taken = np.zeros_like(amounts)
    left = budget
    for i in order:
        if left <= 0:
            break
        taken[i] = min(amounts[i], left)
        left -= taken[i]
    return taken


def _within_budget(move: FloatArray, held: FloatArray, budget: float) -> FloatArray:
    """``move`` cut to a one-way turnover of ``budget`` (see the module docstring)."""
    sells = np.where(move < 0, -move, 0.0)
    buys = np.where(move > 0, move, 0.0)
    sold = _largest_first(sells, budget)
    cash = max(0.0, 1.0 - float(held.sum()))
    bought = _largest_first(buys, min(budget, float(sold.sum()) + cash))
    return bought - sold


def execute(target: npt.ArrayLike, held: npt.ArrayLike, cfg: TradingSettings) -> FloatArray:
    """The book a rebalance trades to from ``held`` toward ``target`` (weights, same assets).

    Parameters
    ----------
    target, held : array_like
        Weights >= 0 summing to at most 1 (the rest is cash).
    cfg : TradingSettings
    """
    t = np.asarray(target, dtype=np.float64)
    h = np.asarray(held, dtype=np.float64)
    move = t - h
    if one_way_turnover(move) < cfg.no_trade_band:
        return h.copy()
    kept = (h > 0) & (t > 0)
    move = np.where(kept & (np.abs(move) < cfg.asset_band), 0.0, move) * cfg.trade_fraction
    if cfg.max_turnover > 0 and one_way_turnover(move) > cfg.max_turnover:
        move = _within_budget(move, h, cfg.max_turnover)
    return h + move
