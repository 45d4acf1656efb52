"""Equal risk contribution (risk parity) weights for a covariance matrix.

Each asset (here: each cluster's sub-portfolio) contributes the same share
``w_i (Sigma w)_i / w' Sigma w`` of the portfolio variance: HERC's idea of a
risk budget per cluster (Raffinot 2018) with an exact budget instead of
HRP's bisection. Unlike inverse variance, correlated clusters share their
budget.

Solved by cyclical coordinate descent on Spinu's convex problem (Griveau-
Billion, Richard and Roncalli 2013): each ``w_i`` in turn is the positive root
of ``Sigma_ii w_i^2 + c_i w_i - b_i = 0`` with ``c_i = sum_{j != i} Sigma_ij w_j``,
then the weights are normalised. Tests hold it to skfolio's
``RiskBudgeting``.

Example
-------
>>> import numpy as np
>>> from inferer.risk_parity import risk_parity
>>> w = risk_parity(np.diag([0.04, 0.01]))  # vols 20% and 10%: inverse vol
>>> np.round(w, 4).tolist()
[0.3333, 0.6667]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shared.errors import EstimationError

__all__ = ["risk_parity"]

#: Largest change in any weight between sweeps at which the descent stops.
TOLERANCE = 1e-12
MAX_SWEEPS = 10_000


def risk_parity(cov: npt.ArrayLike) -> np.ndarray:
    """Long-only weights, summing to 1, whose risk contributions are equal.

    Parameters
    ----------
    cov : array_like
        ``(n, n)`` symmetric positive semi-definite covariance with a positive
        diagonal.

    Raises
    ------
    ValueError
        The matrix is not square and finite (a bug of the caller).
    EstimationError
        A variance is not positive, or the descent does not converge.
    """
    sigma = np.asarray(cov, dtype=np.float64)
    n = sigma.shape[0]
    if sigma.ndim != 2 or sigma.shape != (n, n) or n == 0 or not np.isfinite(sigma).all():
        raise ValueError(f"covariance must be a finite square matrix, got shape {sigma.shape}")
    diag = np.diag(sigma).copy()
    if not (diag > 0).all():
        raise EstimationError("risk parity needs a positive variance for every asset")
    budget = 1.0 / n
    # Start at inverse volatility: the answer when assets are uncorrelated.
    w = 1.0 / np.sqrt(diag)
    w /= w.sum()
    for _ in range(MAX_SWEEPS):
        before = w.copy()
        for i in range(n):
            c = sigma[i] @ w - diag[i] * w[i]
            w[i] = (-c + np.sqrt(c * c + 4.0 * diag[i] * budget)) / (2.0 * diag[i])
        if np.max(np.abs(w / w.sum() - before / before.sum())) < TOLERANCE:
            return w / w.sum()
    raise EstimationError("risk parity did not converge")
