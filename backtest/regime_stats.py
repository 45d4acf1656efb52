"""What the regime layer did over a backtest: how long each state lasted, and returns in each.

:func:`regime_table` reads the strategy's daily regime (``BacktestResult.regime``:
``stress`` read at each close) and the returns of the strategy and the
benchmark. A day belongs to the state read at the close before it, the one
its book was held under (the trade follows a day later with the default
execution lag, so the first day of a spell still carries the old book).
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

from shared.metrics import max_drawdown

__all__ = ["STATES", "regime_table", "spells"]

#: State labels in the order the table lists them.
STATES = ("calm", "stressed")


def spells(stressed: np.ndarray) -> list[tuple[bool, int]]:
    """Runs of the same state: ``(stressed, days)`` in order."""
    if stressed.size == 0:
        return []
    edges = np.flatnonzero(np.diff(stressed.astype(np.int8))) + 1
    bounds = np.r_[0, edges, stressed.size]
    return [(bool(stressed[a]), int(b - a)) for a, b in itertools.pairwise(bounds)]


def _per_state(returns: np.ndarray, held_in: np.ndarray, ppy: float) -> tuple[float, float, float]:
    """Annualised mean return, volatility and max drawdown over the days held in a state."""
    r = returns[held_in]
    if r.size < 2:
        return float("nan"), float("nan"), float("nan")
    return float(r.mean() * ppy), float(r.std(ddof=1) * np.sqrt(ppy)), float(max_drawdown(r))


def regime_table(regime: pl.DataFrame, returns: pl.DataFrame, ppy: float) -> pl.DataFrame:
    """One row per state: its share of days, spells, mean spell, switches a year, and the
    strategy's and the benchmark's annualised return, volatility and max drawdown in it.

    ``regime`` and ``returns`` share their dates. The drawdown in a state
    chains that state's days together, as if the others were skipped.
    """
    stressed = regime["stress"].fill_nan(0.0).fill_null(0.0).to_numpy() >= 0.5
    # The book of day t was chosen at the close of day t - 1.
    held = np.r_[stressed[:1], stressed[:-1]]
    runs = spells(stressed)
    years = stressed.size / ppy
    rows = []
    for label, flag in zip(STATES, (False, True), strict=True):
        mine = [days for s, days in runs if s == flag]
        row: dict[str, object] = {
            "state": label,
            "share_of_days": float((stressed == flag).mean()) if stressed.size else float("nan"),
            "spells": len(mine),
            "mean_spell_days": float(np.mean(mine)) if mine else float("nan"),
            "switches_per_year": (len(runs) - 1) / years if years > 0 else float("nan"),
        }
        for series in ("strategy", "benchmark"):
            ret, vol, mdd = _per_state(returns[series].to_numpy(), held == flag, ppy)
            row |= {f"{series}_return": ret, f"{series}_vol": vol, f"{series}_max_drawdown": mdd}
        rows.append(row)
    return pl.DataFrame(rows)
