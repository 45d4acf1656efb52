"""Where a rebalance's turnover comes from, in parts that add up to it.

Each asset's trade ``|executed - held|`` is put in one part:

``cluster``
    A name entering or leaving the book whose cluster changed: fewer than
    half of its co-members before are its co-members now (label-free, so a
    renumbering of the same clusters changes nothing).
``picks``
    A name entering or leaving the book whose cluster did not change.
``drift``
    For a name held before and after, the part of its trade that goes back
    to the weight the last trade left it at (undoing the market's drift).
``weights``
    For such a name, the rest: its weight moved.
``cash``
    The change of uninvested cash (the one-way convention counts it,
    :mod:`shared.turnover`).
``regime``
    All of a trade made by a change of regime between rebalances
    (:mod:`backtest.regime_layer`).

Each part is halved as the one-way turnover is, so the parts of a
rebalance sum to its ``turnover`` in ``rebalances.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["PARTS", "moved_names", "split_switch", "split_trade"]

#: The parts, in the order ``rebalances.csv`` lists them (``turnover_<part>``).
PARTS = ("cluster", "picks", "weights", "drift", "cash", "regime")


def moved_names(before: Mapping[str, int], after: Mapping[str, int]) -> set[str]:
    """Names in both clusterings that share fewer than half their co-members."""
    common = [t for t in before if t in after]
    groups_before: dict[int, set[str]] = {}
    groups_after: dict[int, set[str]] = {}
    for t in common:
        groups_before.setdefault(before[t], set()).add(t)
        groups_after.setdefault(after[t], set()).add(t)
    moved = set()
    for t in common:
        was, now = groups_before[before[t]] - {t}, groups_after[after[t]] - {t}
        union = was | now
        if union and len(was & now) < 0.5 * len(union):
            moved.add(t)
    return moved


def split_trade(
    held: np.ndarray,
    last: np.ndarray,
    executed: np.ndarray,
    tickers: Sequence[str],
    moved: set[str],
) -> dict[str, float]:
    """The parts of a rebalance from ``held`` to ``executed``; ``last``: the last trade's book."""
    delta = executed - held
    size = np.abs(delta)
    kept = (last > 0) & (executed > 0)
    back = last - held
    drift = np.where(kept & (delta * back > 0), np.minimum(size, np.abs(back)), 0.0)
    churn = ~kept & (size > 0)
    in_moved = np.array([t in moved for t in tickers], dtype=bool)
    parts = dict.fromkeys(PARTS, 0.0)
    parts["cluster"] = float(size[churn & in_moved].sum()) / 2
    parts["picks"] = float(size[churn & ~in_moved].sum()) / 2
    parts["drift"] = float(drift.sum()) / 2
    parts["weights"] = float((size[kept] - drift[kept]).sum()) / 2
    parts["cash"] = abs(float(delta.sum())) / 2
    return parts


def split_switch(held: np.ndarray, executed: np.ndarray) -> dict[str, float]:
    """A regime switch's trade: all of it in ``regime``."""
    delta = executed - held
    parts = dict.fromkeys(PARTS, 0.0)
    parts["regime"] = (float(np.abs(delta).sum()) + abs(float(delta.sum()))) / 2
    return parts
