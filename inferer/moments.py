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
    ValueError
        Fewer than ``min_rows`` such days (a method failure that the
        allocation's fallback handles).
    """
    r = np.asarray(returns, dtype=np.float64)
    full = r[~np.isnan(r).any(axis=1)]
    if full.shape[0] < min_rows:
        raise ValueError(
            f"only {full.shape[0]} days where every asset has a return, need {min_rows}"
        )
    return full


def _frame(returns: npt.ArrayLike) -> Any:
    import pandas as pd

    return pd.DataFrame(complete_rows(returns))


def _covariance(df: Any, periods_per_year: float, kind: str = "ledoit_wolf") -> FloatArray:
    from pypfopt import risk_models

    if kind not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got {kind!r}")
    freq = periods_per_year
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypfopt warns about short or odd histories
        if kind == "sample":
            cov = risk_models.sample_cov(df, returns_data=True, frequency=freq)
        elif kind == "ewma":
            cov = risk_models.exp_cov(df, returns_data=True, span=EWMA_SPAN, frequency=freq)
        else:
            shrink = risk_models.CovarianceShrinkage(df, returns_data=True, frequency=freq)
            cov = shrink.ledoit_wolf()
    c = cov.to_numpy(dtype=np.float64)
    if not np.isfinite(c).all():
        raise ValueError("covariance is not finite")
    return c


def covariance(
    returns: npt.ArrayLike, periods_per_year: float, kind: str = "ledoit_wolf"
) -> FloatArray:
    """The covariance ``(n, n)`` of :func:`moments`, without the expected returns.

    Raises
    ------
    ValueError
        Too few complete days, or a covariance that is not finite.
    """
    return _covariance(_frame(returns), periods_per_year, kind)


def moments(
    returns: npt.ArrayLike, periods_per_year: float, kind: str = "ledoit_wolf"
) -> tuple[FloatArray, FloatArray]:
    """Annual expected returns ``(n,)`` and covariance ``(n, n)`` (``kind``, Ledoit-Wolf).

    Raises
    ------
    ValueError
        Too few complete days, or moments that are not finite.
    """
    from pypfopt.expected_returns import mean_historical_return

    df = _frame(returns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu = mean_historical_return(df, returns_data=True, frequency=periods_per_year)
    m = mu.to_numpy(dtype=np.float64)
    if not np.isfinite(m).all():
        raise ValueError("expected returns are not finite")
    return m, _covariance(df, periods_per_year, kind)


def optimizer(mu: FloatArray, cov: FloatArray, max_weight: float = 1.0) -> EfficientFrontier:
    """A long-only PyPortfolioOpt ``EfficientFrontier`` with weights in ``[0, max_weight]``."""
    from pypfopt import EfficientFrontier

    return EfficientFrontier(mu, cov, weight_bounds=(0.0, max_weight), solver=SOLVER)
