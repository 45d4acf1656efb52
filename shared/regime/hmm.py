"""A Gaussian hidden Markov model of the market's features, read with its forward filter.

Fitted by expectation-maximisation (Baum-Welch) on the standardised
features of :mod:`shared.regime.features`, diagonal covariances, from
several seeded starts. Read online, a day's probability of each state is
the *filtered* one, ``P(s_t | x_1 .. x_t)``: hmmlearn's ``predict_proba``
returns the smoothed ``P(s_t | x_1 .. x_T)``, which looks ahead (its issues
#496, #540, #579); the two agree on the last day of a sequence only, which
is what the tests hold this module to. States are numbered by the
benchmark's volatility in them, calmest first; the last is "stressed".

NumPy only: the cron image reads a fitted model with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.regime.features import Standardiser, by_risk, standardiser

__all__ = ["GaussianHMM", "filtered", "fit_hmm"]

FloatArray = npt.NDArray[np.float64]

#: Smallest variance of a state's standardised feature. Clipped features pile up at
#: +-CLIP; with a floor of 1e-3 a state grew around those days instead of around a
#: market (2 of 4 refits on SPY read 2016-2026 as all stressed), with 0.05 none did.
_VAR_FLOOR = 0.05


def _log_emissions(z: FloatArray, means: FloatArray, variances: FloatArray) -> FloatArray:
    """``(T, K)`` log densities of each day's features under each state's diagonal Gaussian."""
    diff = z[:, None, :] - means[None, :, :]
    return -0.5 * (np.log(2 * np.pi * variances)[None] + diff**2 / variances[None]).sum(axis=2)


def _forward(
    logb: FloatArray, startprob: FloatArray, transmat: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    """Filtered probabilities ``(T, K)``, the scaled emissions, and the log-likelihood."""
    top = logb.max(axis=1, keepdims=True)
    b = np.exp(logb - top)
    alpha = np.empty_like(b)
    scale = np.empty(len(b))
    prior = startprob
    for t in range(len(b)):
        a = b[t] * prior
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
        prior = alpha[t] @ transmat
    return alpha, b / scale[:, None], float(np.log(scale).sum() + top.sum())


def filtered(z: npt.ArrayLike, hmm: GaussianHMM) -> FloatArray:
    """``P(s_t | x_1 .. x_t)`` for each day of standardised features ``z``: no look-ahead."""
    logb = _log_emissions(np.asarray(z, dtype=np.float64), hmm.means, hmm.variances)
    return _forward(logb, hmm.startprob, hmm.transmat)[0]


@dataclass(frozen=True)
class GaussianHMM:
    """A fitted HMM: the features' scaler and its parameters, best state first."""

    scale: Standardiser
    startprob: FloatArray
    transmat: FloatArray
    means: FloatArray
    variances: FloatArray

    def stress(self, features: npt.ArrayLike) -> FloatArray:
        """Each day's filtered probability of the stressed (last) state, given (T, D) features."""
        return filtered(self.scale(features), self)[:, -1]

    def params(self) -> dict[str, Any]:
        """The fitted numbers, as JSON."""
        return {
            "mean": self.scale.mean.tolist(),
            "std": self.scale.std.tolist(),
            "startprob": self.startprob.tolist(),
            "transmat": self.transmat.tolist(),
            "means": self.means.tolist(),
            "variances": self.variances.tolist(),
        }

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> GaussianHMM:
        """The model :meth:`params` wrote."""
        scale = Standardiser(np.asarray(p["mean"], float), np.asarray(p["std"], float))
        arrays = (np.asarray(p[k], float) for k in ("startprob", "transmat", "means", "variances"))
        return cls(scale, *arrays)


def _em_step(z: FloatArray, hmm: GaussianHMM) -> tuple[GaussianHMM, FloatArray, float]:
    """One Baum-Welch step: the updated model, the smoothed probabilities, the log-likelihood."""
    logb = _log_emissions(z, hmm.means, hmm.variances)
    alpha, b, loglik = _forward(logb, hmm.startprob, hmm.transmat)
    beta = np.ones_like(alpha)
    for t in range(len(z) - 2, -1, -1):
        beta[t] = hmm.transmat @ (b[t + 1] * beta[t + 1])
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = hmm.transmat * (alpha[:-1].T @ (b[1:] * beta[1:]))
    weight = gamma.sum(axis=0)[:, None]
    means = gamma.T @ z / weight
    variances = np.maximum(gamma.T @ z**2 / weight - means**2, _VAR_FLOOR)
    transmat = xi / xi.sum(axis=1, keepdims=True)
    return GaussianHMM(hmm.scale, gamma[0], transmat, means, variances), gamma, loglik


def _start(
    z: FloatArray, scale: Standardiser, n_states: int, rng: np.random.Generator
) -> GaussianHMM:
    """A seeded start: days drawn at random as means, the whole window's variance, sticky states."""
    stay = 0.95
    transmat = np.full((n_states, n_states), (1 - stay) / (n_states - 1))
    np.fill_diagonal(transmat, stay)
    means = z[rng.choice(len(z), size=n_states, replace=False)]
    variances = np.tile(np.maximum(z.var(axis=0), _VAR_FLOOR), (n_states, 1))
    return GaussianHMM(scale, np.full(n_states, 1 / n_states), transmat, means, variances)


def fit_hmm(
    features: npt.ArrayLike,
    returns: npt.ArrayLike,
    *,
    n_states: int,
    seed: int,
    n_init: int = 3,
    max_iter: int = 60,
    tol: float = 1e-4,
) -> GaussianHMM:
    """Fit an HMM to a market's ``(T, D)`` daily features over its training window.

    ``returns`` (``(T,)``, the market's returns on the same days) only number
    the states.

    The best of ``n_init`` seeded starts by log-likelihood, each run until
    the log-likelihood gains less than ``tol`` per day; states then numbered
    by the volatility under their smoothed probabilities, calmest first.
    """
    r = np.asarray(returns, dtype=np.float64)
    raw = np.asarray(features, dtype=np.float64)
    scale = standardiser(raw)
    z = scale(raw)
    rng = np.random.default_rng(seed)
    best: tuple[float, GaussianHMM, FloatArray] | None = None
    for _ in range(n_init):
        hmm, last = _start(z, scale, n_states, rng), -np.inf
        for _ in range(max_iter):
            hmm, gamma, loglik = _em_step(z, hmm)
            if loglik - last < tol * len(z):
                break
            last = loglik
        if best is None or loglik > best[0]:
            best = (loglik, hmm, gamma)
    assert best is not None
    _, hmm, gamma = best
    order = by_risk(r, gamma)
    return GaussianHMM(
        scale, hmm.startprob[order], hmm.transmat[np.ix_(order, order)],
        hmm.means[order], hmm.variances[order],
    )  # fmt: skip
