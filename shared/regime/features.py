"""The market's daily features the regime models read, each from returns up to the day.

At half-lives of 5, 20 and 60 trading days: the exponentially weighted mean
return, the log of the weighted downside deviation, and their ratio (a
Sortino ratio) -- the return features of Shu, Yu and Mulvey (2024). A model
standardises them with the mean and deviation of its training window and
clips them to +-:data:`CLIP`, so a crash does not drag a centre away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CLIP", "HALFLIVES", "Standardiser", "by_risk", "market_features", "standardiser"]

FloatArray = npt.NDArray[np.float64]

#: Half-lives (trading days) of the features' exponential weights.
HALFLIVES = (5, 20, 60)
#: Standardised features are clipped to +- this many standard deviations.
CLIP = 3.0
#: Days per block of the weighted means' recursion (:func:`_ewm`).
_BLOCK = 64
#: The smallest downside deviation whose log is taken (a calm start has none).
_FLOOR = 1e-6


def _ewm(x: FloatArray, halflife: float) -> FloatArray:
    """Exponentially weighted mean from the first day on, each day's from days up to it.

    ``y_0 = x_0``, ``y_t = y_{t-1} + alpha (x_t - y_{t-1})``, computed in blocks
    of :data:`_BLOCK` days: inside a block ``y_{s+t} = (1 - alpha)^(t+1) y_{s-1} +
    alpha sum_j (1 - alpha)^(t-j) x_{s+j}``, one matrix product, which keeps
    SciPy's ``lfilter`` (0.6 s to import) off the cron job.
    """
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    k = np.arange(_BLOCK)
    lag = k[:, None] - k[None, :]
    decay = np.where(lag >= 0, (1.0 - alpha) ** np.maximum(lag, 0), 0.0)
    carry = (1.0 - alpha) ** (k + 1)
    out = np.empty_like(x)
    level = x[0]
    for start in range(0, x.size, _BLOCK):
        block = x[start : start + _BLOCK]
        m = block.size
        out[start : start + m] = alpha * (decay[:m, :m] @ block) + carry[:m] * level
        level = out[start + m - 1]
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
        down = np.sqrt(np.maximum(_ewm(np.minimum(r, 0.0) ** 2, h), 0.0))
        floor = np.maximum(down, _FLOOR)
        columns += [mean, np.log(floor), mean / floor]
    return np.column_stack(columns)


@dataclass(frozen=True)
class Standardiser:
    """The training window's mean and deviation of each feature."""

    mean: FloatArray
    std: FloatArray

    def __call__(self, features: npt.ArrayLike) -> FloatArray:
        """Features scaled as in the fit, clipped to +-:data:`CLIP`."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.std
        return np.clip(z, -CLIP, CLIP)


def standardiser(features: FloatArray) -> Standardiser:
    """The :class:`Standardiser` of a training window (a constant feature keeps scale 1)."""
    std = features.std(axis=0)
    return Standardiser(features.mean(axis=0), np.where(std > 0, std, 1.0))


def by_risk(returns: FloatArray, weights: FloatArray) -> np.ndarray:
    """The states in order of the benchmark's volatility in them, calmest first.

    ``weights`` is ``(T, K)``: each day's membership of each state (one-hot
    for a jump model, the smoothed probabilities for an HMM). Volatility and
    not mean return: a window that starts at a crash's bottom has its
    highest mean return in the violent rebound, and "stressed" would flip.
    """
    mass = weights.sum(axis=0)
    square = (weights * returns[:, None] ** 2).sum(axis=0) / np.where(mass > 0, mass, 1.0)
    return np.argsort(np.where(mass > 0, square, np.inf), kind="stable")
