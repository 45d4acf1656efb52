"""The regime layer in a backtest: the same overlay on baselines, and the trades a change makes.

With ``[regime] model`` set, the strategy's decisions already carry the
layer (:func:`inferer.pipeline.decide_asof`). The backtest adds, decided on
the same dates by the same regime readings and :func:`inferer.regime.overlay`:

``equal_weight_regime``, ``sixty_forty_regime``
    Those baselines with the layer, so a reader sees what the regime adds to
    any portfolio, not only to ours.
``trend_timing``
    The benchmark timed by the trend rule (Faber): held while it closes above
    its ``trend_days`` moving average, the risk-free proxy otherwise.

With ``timing = "daily"`` a change of the exposure between rebalances trades
``execution_lag`` days after the close that read it, to the last rebalance's
risky book moved by the new exposure (:func:`switches`, :func:`schedule`);
these trades pay costs and count in turnover like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from inferer.regime import Regimes, exposure_of, overlay
from shared.bundle import Bundle

__all__ = [
    "LAYERED",
    "TREND",
    "Layer",
    "as_weights",
    "daily_exposure",
    "daily_stress",
    "layered_name",
    "schedule",
    "switches",
]

#: Baselines the layer is also applied to.
LAYERED = ("equal_weight", "sixty_forty")
#: The benchmark timed by the trend rule.
TREND = "trend_timing"


def layered_name(name: str) -> str:
    """The series of baseline ``name`` with the regime layer."""
    return f"{name}_regime"


@dataclass
class Layer:
    """A layered portfolio's risky book and the exposure its target applied, per rebalance."""

    risky: list[dict[str, float]] = field(default_factory=list)
    applied: list[float] = field(default_factory=list)

    def add(self, risky: Mapping[str, float], exposure: float) -> None:
        """Record one rebalance."""
        self.risky.append(dict(risky))
        self.applied.append(float(exposure))


def as_weights(vector: np.ndarray, tickers: Sequence[str]) -> dict[str, float]:
    """A weight vector over ``tickers`` as a mapping of its positive entries."""
    return {t: float(w) for t, w in zip(tickers, vector, strict=True) if w > 0}


def switches(
    decided: np.ndarray, applied: Sequence[float], exposure: np.ndarray, lag: int, n_days: int
) -> list[tuple[int, int, float]]:
    """``(rebalance k, decision day, new exposure)`` of each change between rebalances.

    ``exposure[d]`` is read at day ``d``'s close; a change trades at
    ``d + lag``, and is not made when that is past the data. The next
    rebalance reads the regime itself, so a change is looked for only on
    the days after rebalance ``k``'s decision and before ``k + 1``'s.
    """
    out = []
    for k, first in enumerate(decided):
        stop = int(decided[k + 1]) if k + 1 < len(decided) else n_days
        current = applied[k]
        for d in range(int(first) + 1, min(stop, n_days - lag)):
            if exposure[d] != current:
                current = float(exposure[d])
                out.append((k, d, current))
    return out


def schedule(
    trades: np.ndarray,
    targets: Sequence[np.ndarray],
    layer: Layer,
    moves: Sequence[tuple[int, int, float]],
    lag: int,
    tickers: Sequence[str],
    risk_free: float | str,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Rebalance trades and switch trades merged in time order: days, targets, switch flags."""
    rows: list[tuple[int, int, np.ndarray]] = [
        (int(t), 0, np.asarray(w)) for t, w in zip(trades, targets, strict=True)
    ]
    index = {t: i for i, t in enumerate(tickers)}
    for k, d, e in moves:
        moved = overlay(layer.risky[k], e, risk_free, tickers)
        vector = np.zeros(len(tickers))
        for ticker, w in moved.items():
            vector[index[ticker]] = w
        rows.append((d + lag, 1, vector))
    rows.sort(key=lambda row: (row[0], row[1]))
    days = np.array([r[0] for r in rows], dtype=np.int64)
    return days, [r[2] for r in rows], np.array([r[1] == 1 for r in rows], dtype=bool)


def daily_stress(
    reader: Regimes, bundles: Sequence[Bundle], decided: np.ndarray, dates: np.ndarray
) -> np.ndarray:
    """Stress on every day from the first decision on, read by the bundle in use that day.

    NaN before the first decision. Day ``d`` between decisions ``k`` and
    ``k + 1`` is read by bundle ``k``, the one the book of that time came from.
    """
    out = np.full(dates.size, np.nan)
    for k, first in enumerate(decided):
        stop = int(decided[k + 1]) if k + 1 < len(decided) else dates.size
        days = [d.item() for d in dates[int(first) : stop].astype("datetime64[D]")]
        out[int(first) : stop] = reader.stress_on(bundles[k], days)
    return out


def daily_exposure(
    reader: Regimes, bundles: Sequence[Bundle], decided: np.ndarray, dates: np.ndarray
) -> np.ndarray:
    """:func:`inferer.regime.exposure_of` the :func:`daily_stress` (1 before the first decision)."""
    return exposure_of(daily_stress(reader, bundles, decided, dates), reader.cfg)
