"""The statistical jump model, fitted by coordinate descent and read online.

The model (Nystrup, Lindström and Madsen 2020; Shu, Yu and Mulvey 2024) fits
``K`` centres to standardised daily features of one market and a state
sequence that minimises

    sum_t 1/2 ||z_t - c_{s_t}||^2 + penalty * [s_t != s_{t-1}]

so a state persists unless the data pay the jump penalty to leave it. It is
fitted by coordinate descent (the states by dynamic programming given the
centres, the centres as the means of their states), from several seeded
starts. Read online, the state on day ``D`` is the last state of the best
sequence over the days up to ``D`` (:func:`online_states`), which sees
nothing after ``D``; decoding a whole segment at once (:func:`best_states`)
looks ahead and is for fitting only.

It reads the features of :mod:`shared.regime.features`. States are
numbered by the benchmark's volatility in them over the fitting window,
calmest first (:func:`shared.regime.features.by_risk`), so the last state is the stressed one.

NumPy only: the cron image reads a fitted model with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.regime.features import Standardiser, by_risk, standardiser

__all__ = ["JumpModel", "best_states", "fit_jump_model", "online_states"]

FloatArray = npt.NDArray[np.float64]


def _costs(z: FloatArray, centers: FloatArray) -> FloatArray:
    """``(T, K)`` half squared distances from each day's features to each centre."""
    return 0.5 * ((z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def online_states(z: npt.ArrayLike, centers: npt.ArrayLike, penalty: float) -> np.ndarray:
    """Each day's state from the days up to it: the last state of the best sequence so far.

    The forward pass of the dynamic programme: ``V_t(k) = cost_t(k) +
    min_j (V_{t-1}(j) + penalty [j != k])``; the state on day ``t`` is
    ``argmin_k V_t(k)`` (the lower state on a tie).
    """
    cost = _costs(np.asarray(z, dtype=np.float64), np.asarray(centers, dtype=np.float64))
    value = cost[0].copy()
    states = np.empty(cost.shape[0], dtype=np.int64)
    states[0] = int(np.argmin(value))
    for t in range(1, cost.shape[0]):
        value = cost[t] + np.minimum(value, value.min() + penalty)
        states[t] = int(np.argmin(value))
    return states


def best_states(z: npt.ArrayLike, centers: npt.ArrayLike, penalty: float) -> np.ndarray:
    """The state sequence of least total cost over the whole segment (looks ahead: fitting only)."""
    cost = _costs(np.asarray(z, dtype=np.float64), np.asarray(centers, dtype=np.float64))
    n, k = cost.shape
    value = cost[0].copy()
    came = np.empty((n, k), dtype=np.int64)
    for t in range(1, n):
        stay = value
        best = int(np.argmin(value))
        jump = value[best] + penalty
        came[t] = np.where(stay <= jump, np.arange(k), best)
        value = cost[t] + np.minimum(stay, jump)
    states = np.empty(n, dtype=np.int64)
    states[-1] = int(np.argmin(value))
    for t in range(n - 1, 0, -1):
        states[t - 1] = came[t, states[t]]
    return states


@dataclass(frozen=True)
class JumpModel:
    """A fitted jump model: the features' scaler, the centres (best state first), the penalty."""

    scale: Standardiser
    centers: FloatArray
    penalty: float

    def states(self, features: npt.ArrayLike) -> np.ndarray:
        """Each day's state from the ``(T, D)`` features up to that day (0: calmest)."""
        return online_states(self.scale(features), self.centers, self.penalty)

    def stress(self, features: npt.ArrayLike) -> FloatArray:
        """1 on each day read as the stressed (last) state, else 0."""
        return (self.states(features) == len(self.centers) - 1).astype(np.float64)

    def params(self) -> dict[str, Any]:
        """The fitted numbers, as JSON."""
        return {
            "mean": self.scale.mean.tolist(),
            "std": self.scale.std.tolist(),
            "centers": self.centers.tolist(),
            "penalty": self.penalty,
        }

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> JumpModel:
        """The model :meth:`params` wrote."""
        scale = Standardiser(np.asarray(p["mean"], float), np.asarray(p["std"], float))
        return cls(scale, np.asarray(p["centers"], float), float(p["penalty"]))


def _descend(
    z: FloatArray, centers: FloatArray, penalty: float, iters: int
) -> tuple[FloatArray, np.ndarray, float]:
    """Coordinate descent from ``centers``: (centres, states, total cost)."""
    states = best_states(z, centers, penalty)
    for _ in range(iters):
        new = centers.copy()
        for k in range(centers.shape[0]):
            if (states == k).any():
                new[k] = z[states == k].mean(axis=0)
        moved = best_states(z, new, penalty)
        centers = new
        if np.array_equal(moved, states):
            break
        states = moved
    cost = float(_costs(z, centers)[np.arange(len(states)), states].sum())
    return centers, states, cost + penalty * float(np.count_nonzero(np.diff(states)))


def fit_jump_model(
    features: npt.ArrayLike,
    returns: npt.ArrayLike,
    *,
    n_states: int,
    penalty: float,
    seed: int,
    n_init: int = 10,
    max_iter: int = 100,
) -> JumpModel:
    """Fit a jump model to a market's ``(T, D)`` daily features over its training window.

    ``returns`` (``(T,)``, the market's returns on the same days) only number
    the states.

    The best of ``n_init`` seeded starts (``n_states`` days drawn at random
    as the first centres) by total cost; states then numbered by the mean
    return in them, best first.
    """
    r = np.asarray(returns, dtype=np.float64)
    raw = np.asarray(features, dtype=np.float64)
    scale = standardiser(raw)
    z = scale(raw)
    rng = np.random.default_rng(seed)
    best: tuple[FloatArray, np.ndarray, float] | None = None
    for _ in range(n_init):
        start = z[rng.choice(len(z), size=n_states, replace=False)]
        found = _descend(z, start, penalty, max_iter)
        if best is None or found[2] < best[2]:
            best = found
    assert best is not None
    centers, states, _ = best
    order = by_risk(r, np.eye(n_states)[states])
    return JumpModel(scale, centers[order], float(penalty))
