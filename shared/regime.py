"""Market regimes: a statistical jump model on the benchmark's return features, read online.

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

Features (:func:`market_features`), each from returns up to the day: at
half-lives of 5, 20 and 60 days, the exponentially weighted mean return,
the log of the weighted downside deviation, and their ratio. States are
numbered by the benchmark's mean return in them over the fitting window,
best first, so the last state is the stressed one after every refit.

NumPy only: the cron image reads a fitted model with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "HALFLIVES",
    "JumpModel",
    "best_states",
    "fit_jump_model",
    "market_features",
    "online_states",
]

FloatArray = npt.NDArray[np.float64]

#: Half-lives (trading days) of the features' exponential weights.
HALFLIVES = (5, 20, 60)
#: Standardised features are clipped to +- this many standard deviations.
CLIP = 3.0
#: The smallest downside deviation whose log is taken (a calm start has none).
_FLOOR = 1e-6


def _ewm(x: FloatArray, halflife: float) -> FloatArray:
    """Exponentially weighted mean from the first day on, each day's from days up to it."""
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    out = np.empty_like(x)
    level = x[0]
    for t, v in enumerate(x):
        level = level + alpha * (v - level) if t else v
        out[t] = level
    return out


def market_features(returns: npt.ArrayLike, halflives: Sequence[int] = HALFLIVES) -> FloatArray:
    """``(T, 3 x len(halflives))`` features of daily simple ``returns`` (no NaN).

    For each half-life: the weighted mean return, the log weighted downside
    deviation, and the mean over the deviation (a Sortino ratio).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.isfinite(r).all():
        raise ValueError("returns must be a non-empty 1-D array of finite values")
    columns = []
    for h in halflives:
        mean = _ewm(r, h)
        down = np.sqrt(_ewm(np.minimum(r, 0.0) ** 2, h))
        floor = np.maximum(down, _FLOOR)
        columns += [mean, np.log(floor), mean / floor]
    return np.column_stack(columns)


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

    mean: FloatArray
    std: FloatArray
    centers: FloatArray
    penalty: float
    halflives: tuple[int, ...] = HALFLIVES

    def standardise(self, features: npt.ArrayLike) -> FloatArray:
        """Features scaled as in the fit, clipped to +-:data:`CLIP`."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.std
        return np.clip(z, -CLIP, CLIP)

    def states(self, returns: npt.ArrayLike) -> np.ndarray:
        """Each day's state from ``returns`` up to that day (0: the best, last: stressed)."""
        z = self.standardise(market_features(returns, self.halflives))
        return online_states(z, self.centers, self.penalty)


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
    returns: npt.ArrayLike,
    *,
    n_states: int,
    penalty: float,
    seed: int,
    n_init: int = 10,
    max_iter: int = 100,
) -> JumpModel:
    """Fit a jump model to the daily ``returns`` of one market (its training window).

    The best of ``n_init`` seeded starts (``n_states`` days drawn at random
    as the first centres) by total cost; states then numbered by the mean
    return in them, best first.
    """
    r = np.asarray(returns, dtype=np.float64)
    features = market_features(r)
    mean, std = features.mean(axis=0), features.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z = np.clip((features - mean) / std, -CLIP, CLIP)
    rng = np.random.default_rng(seed)
    best: tuple[FloatArray, np.ndarray, float] | None = None
    for _ in range(n_init):
        start = z[rng.choice(len(z), size=n_states, replace=False)]
        found = _descend(z, start, penalty, max_iter)
        if best is None or found[2] < best[2]:
            best = found
    assert best is not None
    centers, states, _ = best
    means = [r[states == k].mean() if (states == k).any() else -np.inf for k in range(n_states)]
    order = np.argsort(-np.asarray(means), kind="stable")
    return JumpModel(mean, std, centers[order], float(penalty))
