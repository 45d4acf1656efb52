"""Turnover and the units traded when a book moves to new weights.

One convention for the live job's trades and the backtest's rebalances:
turnover is one-way, half the sum of the absolute weight changes over the
assets *and* cash, so investing all cash, or switching one asset for another,
is a turnover of 1. Costs are charged on every unit of a risky asset traded,
``sum |change|``: cash moves for free.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["one_way_turnover", "traded"]


def traded(changes: npt.ArrayLike) -> float:
    """Sum of absolute weight changes over the risky assets: what costs are charged on."""
    return float(np.abs(np.asarray(changes, dtype=np.float64)).sum())


def one_way_turnover(changes: npt.ArrayLike) -> float:
    """Half the absolute changes of the assets and of cash (whose change is ``-sum(changes)``)."""
    dw = np.asarray(changes, dtype=np.float64)
    return (traded(dw) + abs(float(dw.sum()))) / 2
