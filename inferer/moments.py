"""Expected returns and covariance for mean-variance, and the one optimiser constructor.

``max_sharpe`` and ``min_vol`` (:mod:`inferer.allocate`) and the backtest's
efficient frontier read their inputs from here, so the optimum a chart marks
is the portfolio the strategy would hold:

* expected returns: PyPortfolioOpt's geometric mean historical return
  (compounded, annualised with the calendar's periods per year);
* covariance (:data:`shared.choices.Covariance`): Ledoit-Wolf shrinkage
  towards constant variance (the default), the sample covariance, or an
  exponentially weighted one (PyPortfolioOpt's ``exp_cov``, span
  :data:`EWMA_SPAN` days), annualised;
* both on the days where every asset has a return, since PyPortfolioOpt's
  Ledoit-Wolf turns NaN into 0 and a pairwise covariance need not be positive
  semi-definite;
* the optimiser: ``EfficientFrontier`` long-only with a per-asset cap, solved
  with CLARABEL (OSQP, PyPortfolioOpt's default, fails at 1,000 assets).

PyPortfolioOpt, pandas and cvxpy take ~1.5 s to import, so they are imported
here only when called: the HRP cron path never pays for them.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import numpy.typing as npt

from shared.choices import Covariance
from shared.errors import EstimationError

if TYPE_CHECKING:
    from pypfopt import EfficientFrontier

__all__ = [
    "COVARIANCES",
    "EWMA_SPAN",
    "SOLVER",
    "complete_rows",
    "covariance",
    "moments",
    "optimizer",
]

SOLVER = "CLARABEL"
COVARIANCES: tuple[str, ...] = get_args(Covariance)
#: Span in days of the exponentially weighted covariance: a half-life of ~62 days.
EWMA_SPAN = 126
FloatArray = npt.NDArray[np.float64]


def complete_rows(returns: npt.ArrayLike, min_rows: int = 2) -> FloatArray:
    """The days on which every asset has a return.

    Raises
    ------
    EstimationError
        Fewer than ``min_rows`` such days (a method failure that the
        allocation's fallback handles).
    """
    r = np.asarray(returns, dtype=np.float64)
    full = r[~np.isnan(r).any(axis=1)]
    if full.shape[0] < min_rows:
        raise EstimationError(
            f"only {full.shape[0]} days where every asset has a return, need {min_rows}"
        )
    return full


def _frame(x: FloatArray) -> Any:
    import pandas as pd

    return pd.DataFrame(x)


def ledoit_wolf(x: FloatArray) -> FloatArray:
    """scikit-learn's ``ledoit_wolf(x)[0]``, step for step, in NumPy alone.

    The Ledoit-Wolf (2004) shrinkage of the sample covariance (divided by
    ``n``) toward ``mu * I``, ``mu`` its mean variance: the same operations in
    the same order as scikit-learn 1.x (one block, up to 1,000 assets), so the
    same floats to the last bit (tested on the shared panel), without the
    ~0.9 s scikit-learn, SciPy's statistics and pandas cost the cron job to
    import.
    """
    n, p = x.shape
    if p > 1000:  # scikit-learn sums in blocks of 1,000 assets there: its own, then
        from sklearn.covariance import ledoit_wolf as blocked

        return np.asarray(blocked(x)[0], dtype=np.float64)
    if p == 1:
        centred = x - x.mean()
        return np.atleast_2d((centred**2).mean())
    xc = x - x.mean(0)
    x2 = xc**2
    trace = np.sum(x2, axis=0) / n
    mu = np.sum(trace) / p
    delta_ = np.sum(np.dot(xc.T, xc) ** 2) / n**2
    beta_ = np.sum(np.dot(x2.T, x2))
    beta = 1.0 / (p * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * trace.sum() + p * mu**2) / p
    beta = min(beta, delta)
    shrinkage = 0 if beta == 0 else beta / delta
    emp = np.dot(xc.T, xc) / n
    mu = np.sum(np.trace(emp)) / p
    shrunk: FloatArray = (1.0 - shrinkage) * emp
    shrunk.flat[:: p + 1] += shrinkage * mu
    return shrunk


def _ledoit_wolf(x: FloatArray, periods_per_year: float) -> FloatArray:
    """PyPortfolioOpt's ``CovarianceShrinkage(...).ledoit_wolf()``, without pandas.

    Its constant-variance target is scikit-learn's ``ledoit_wolf``, annualised,
    with a non positive semi-definite result repaired by zeroing negative
    eigenvalues; around it, a pandas frame and a sample covariance it never
    reads. The same numbers, bit for bit (tested), without ~4 ms of overhead a
    call: a backtest estimates one at every decision, and ``infer`` imports
    neither PyPortfolioOpt, pandas and cvxpy nor scikit-learn for it.
    """
    # Column-major, as a pandas frame hands its values over: BLAS sums in another
    # order for the other layout, and the last bits would differ.
    cov: FloatArray = ledoit_wolf(np.nan_to_num(np.asfortranarray(x))) * periods_per_year
    try:
        np.linalg.cholesky(cov + 1e-16 * np.eye(len(cov)))
    except np.linalg.LinAlgError:
        q, v = np.linalg.eigh(cov)
        cov = v @ np.diag(np.where(q > 0, q, 0)) @ v.T
    # Column-major too, as pandas returns it: the products downstream (risk parity)
    # then sum in the same order as before, to the last bit.
    return np.asfortranarray(cov)


def _covariance(x: FloatArray, periods_per_year: float, kind: str) -> FloatArray:
    if kind not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got {kind!r}")
    if kind == "ledoit_wolf":
        c = _ledoit_wolf(x, periods_per_year)
    else:
        import pandas as pd
        from pypfopt import risk_models

        df, freq = pd.DataFrame(x), periods_per_year
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypfopt warns about short or odd histories
            if kind == "sample":
                cov = risk_models.sample_cov(df, returns_data=True, frequency=freq)
            else:
                cov = risk_models.exp_cov(df, returns_data=True, span=EWMA_SPAN, frequency=freq)
        c = cov.to_numpy(dtype=np.float64)
    if not np.isfinite(c).all():
        raise EstimationError("covariance is not finite")
    return c


def covariance(returns: npt.ArrayLike, periods_per_year: float, kind: str) -> FloatArray:
    """The covariance ``(n, n)`` of :func:`moments`, without the expected returns.

    Raises
    ------
    EstimationError
        Too few complete days, or a covariance that is not finite.
    """
    return _covariance(complete_rows(returns), periods_per_year, kind)


def moments(
    returns: npt.ArrayLike, periods_per_year: float, kind: str
) -> tuple[FloatArray, FloatArray]:
    """Annual expected returns ``(n,)`` and covariance ``(n, n)`` (``kind``, Ledoit-Wolf).

    Raises
    ------
    EstimationError
        Too few complete days, or moments that are not finite.
    """
    from pypfopt.expected_returns import mean_historical_return

    x = complete_rows(returns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu = mean_historical_return(_frame(x), returns_data=True, frequency=periods_per_year)
    m = mu.to_numpy(dtype=np.float64)
    if not np.isfinite(m).all():
        raise EstimationError("expected returns are not finite")
    return m, _covariance(x, periods_per_year, kind)


def optimizer(mu: FloatArray, cov: FloatArray, max_weight: float = 1.0) -> EfficientFrontier:
    """A long-only PyPortfolioOpt ``EfficientFrontier`` with weights in ``[0, max_weight]``."""
    from pypfopt import EfficientFrontier

    return EfficientFrontier(mu, cov, weight_bounds=(0.0, max_weight), solver=SOLVER)
