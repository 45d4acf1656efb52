"""Portfolio weights for the selected assets, with a recorded fallback.

Methods
-------
``"hrp"``
    Hierarchical Risk Parity with PyPortfolioOpt ``HRPOpt``'s choices: single
    linkage on the distance ``sqrt((1 - corr) / 2)`` and the tree's own leaf
    order (no optimal leaf reordering), computed by :mod:`inferer.hrp`, a
    NumPy version that tests hold to ``HRPOpt`` and to skfolio's
    ``HierarchicalRiskParity`` (``optimal_ordering=False``) within 1e-10 and
    that is ~20x faster at 300 assets.
``"risk_parity"``
    Equal risk contributions (:mod:`inferer.risk_parity`) under the
    configured covariance.
``"max_sharpe"``, ``"min_vol"``
    PyPortfolioOpt ``EfficientFrontier`` on the moments of
    :mod:`inferer.moments` (geometric mean return, the configured covariance,
    Ledoit-Wolf by default, CLARABEL), the same the backtest's frontier chart
    uses. The weight cap is a bound inside the optimiser.
``"inverse_vol"``
    Weights proportional to 1 / volatility of each asset's own returns.
``"equal"``
    1 / n each.

Missing data: covariance-based methods use only the days on which every asset
has a return (:func:`inferer.moments.complete_rows`). Inverse-vol uses each
asset's own history.

When a method raises (solver failure, infeasible problem, no asset with an
expected return above the risk-free rate, too little data), :func:`allocate`
uses the ``fallback`` method, then equal weights if that fails too, and says so
in :attr:`MethodResult.method_used` and :attr:`MethodResult.fallback_reason`.

Example
-------
>>> import numpy as np
>>> from inferer.allocate import allocate
>>> rng = np.random.default_rng(0)
>>> r = rng.normal(0.0005, [0.01, 0.02], size=(250, 2))
>>> res = allocate(r, "inverse_vol", fallback="equal", covariance="sample")
>>> res.method_used, bool(res.weights[0] > res.weights[1])
('inverse_vol', True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

import numpy as np

from inferer.hrp import hrp
from inferer.moments import complete_rows, moments, optimizer
from inferer.risk_parity import risk_parity
from shared.choices import Fallback, Method
from shared.errors import DataError, EstimationError
from shared.metrics import TRADING_DAYS, ZERO_VOL

if TYPE_CHECKING:
    from pypfopt import EfficientFrontier

__all__ = [
    "FALLBACKS",
    "METHODS",
    "METHOD_FAILURES",
    "MethodResult",
    "allocate",
    "cap_weights",
    "equal_weights",
    "hrp_weights",
    "inverse_vol_weights",
    "max_sharpe_weights",
    "min_vol_weights",
    "risk_parity_weights",
    "validate_weights",
]

METHODS: tuple[str, ...] = get_args(Method)
FALLBACKS: tuple[str, ...] = get_args(Fallback)

#: Solver output more negative than this is a failed solve, not rounding.
_SOLVER_NEG_TOL = 1e-6


def _solver_failures() -> tuple[type[BaseException], ...]:
    """What PyPortfolioOpt and cvxpy raise when a problem has no solution on the data.

    PyPortfolioOpt says "no asset's expected return exceeds the risk-free
    rate" with a ValueError: a condition of the data, like a solver failure,
    so it is one here, turned into an :class:`EstimationError` at the call.
    """
    import cvxpy as cp
    from pypfopt.exceptions import InstantiationError, OptimizationError

    return (ValueError, OptimizationError, InstantiationError, cp.error.SolverError)


#: What a failing method raises; anything else (a ValueError among them) is a bug.
METHOD_FAILURES: tuple[type[BaseException], ...] = (EstimationError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class MethodResult:
    """Result of :func:`allocate`.

    Attributes
    ----------
    weights : numpy.ndarray
        Shape ``(n,)``, finite, ``>= 0``, summing to 1, in column order.
    method : str
        The method requested.
    method_used : str
        The method that produced ``weights``.
    fallback_reason : str or None
        Why ``method_used`` differs from ``method``; ``None`` exactly when they
        are the same.
    """

    weights: np.ndarray
    method: str
    method_used: str
    fallback_reason: str | None


def _as_returns(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2:
        raise DataError(f"returns must be 2-D (days x assets), got shape {r.shape}")
    if r.shape[1] == 0:
        raise DataError("returns have no assets (0 columns)")
    if np.isinf(r).any():
        raise DataError("returns contain infinite values")
    return r


def _check_max_weight(max_weight: float, n: int | None = None) -> None:
    if not 0 < max_weight <= 1:
        raise ValueError(f"max_weight must be in (0, 1], got {max_weight}")
    if n is not None and max_weight * n < 1 - 1e-12:
        raise ValueError(f"max_weight {max_weight} x {n} assets < 1: no portfolio fits the cap")


def equal_weights(n: int) -> np.ndarray:
    """``1 / n`` for each of ``n >= 1`` assets."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return np.full(n, 1.0 / n)


def inverse_vol_weights(returns: np.ndarray) -> np.ndarray:
    """Weights proportional to ``1 / std`` of each column (NaN-aware, ddof 1).

    Raises
    ------
    EstimationError
        An asset has fewer than 2 returns or zero volatility (its weight would
        be infinite).
    """
    r = _as_returns(returns)
    with warnings.catch_warnings():
        # A column with < 2 values warns; the NaN it yields is handled below.
        warnings.simplefilter("ignore", RuntimeWarning)
        vol = np.nanstd(r, axis=0, ddof=1)
    bad = ~(vol > ZERO_VOL)
    if bad.any():
        raise EstimationError(
            f"zero or undefined volatility for asset column(s) {np.flatnonzero(bad)}"
        )
    inv = 1.0 / vol
    return inv / inv.sum()


def hrp_weights(returns: np.ndarray) -> np.ndarray:
    """Hierarchical Risk Parity weights (single linkage, as PyPortfolioOpt's ``HRPOpt``).

    Rows with any NaN are dropped first.

    Raises
    ------
    ValueError
        Fewer than 2 complete rows, or a correlation is undefined (an asset
        with zero variance).
    """
    r = _as_returns(returns)
    if r.shape[1] == 1:
        return np.ones(1)
    return hrp(complete_rows(r))


def _frontier(
    returns: np.ndarray, max_weight: float, periods_per_year: float, kind: str
) -> tuple[EfficientFrontier, int]:
    mu, cov = moments(returns, periods_per_year, kind)
    return optimizer(mu, cov, max_weight), mu.size


def _solver_weights(ef: EfficientFrontier, n: int, max_weight: float) -> np.ndarray:
    w = np.array([ef.weights[j] for j in range(n)], dtype=float)
    if not np.isfinite(w).all() or w.min() < -_SOLVER_NEG_TOL:
        raise EstimationError("solver returned invalid weights")
    # Interior-point solutions sit a hair outside the bounds; pull them back.
    w = np.clip(w, 0.0, None)
    return cap_weights(w / w.sum(), max_weight)


def _optimise(
    returns: np.ndarray,
    run: Callable[[EfficientFrontier], object],
    max_weight: float,
    periods_per_year: float,
    kind: str,
) -> np.ndarray:
    r = _as_returns(returns)
    _check_max_weight(max_weight, r.shape[1])
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    if r.shape[1] == 1:
        return np.ones(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypfopt and cvxpy warn liberally
        ef, n = _frontier(r, max_weight, periods_per_year, kind)
        try:
            run(ef)
        except Exception as err:
            if not isinstance(err, _solver_failures()):
                raise
            raise EstimationError(_short(err)) from None
    return _solver_weights(ef, n, max_weight)


def max_sharpe_weights(
    returns: np.ndarray,
    *,
    max_weight: float = 1.0,
    risk_free_rate: float = 0.0,
    periods_per_year: float = TRADING_DAYS,
    covariance: str,
) -> np.ndarray:
    """Long-only maximum-Sharpe weights with each weight ``<= max_weight``.

    Parameters
    ----------
    returns : numpy.ndarray
        Shape ``(T, n)`` simple returns per period.
    max_weight : float
        Upper bound on each weight, in ``(0, 1]``, with ``max_weight * n >= 1``.
    risk_free_rate : float
        Annual risk-free rate.
    periods_per_year : float
        Periods per year, for annualising.
    covariance : {"ledoit_wolf", "sample", "ewma"}
        Covariance estimator (:mod:`inferer.moments`).

    Raises
    ------
    ValueError
        No asset's expected return exceeds ``risk_free_rate``, or too little data.
    pypfopt.exceptions.OptimizationError, cvxpy.error.SolverError
        The solver failed.
    """
    if not np.isfinite(risk_free_rate):
        raise ValueError(f"risk_free_rate must be finite, got {risk_free_rate}")
    rf = float(risk_free_rate)
    return _optimise(
        returns,
        lambda ef: ef.max_sharpe(risk_free_rate=rf),
        max_weight,
        periods_per_year,
        covariance,
    )


def min_vol_weights(
    returns: np.ndarray,
    *,
    max_weight: float = 1.0,
    periods_per_year: float = TRADING_DAYS,
    covariance: str,
) -> np.ndarray:
    """Long-only minimum-volatility weights with each weight ``<= max_weight``.

    Parameters and errors as :func:`max_sharpe_weights` (no risk-free rate).
    """
    return _optimise(
        returns, lambda ef: ef.min_volatility(), max_weight, periods_per_year, covariance
    )


def risk_parity_weights(
    returns: np.ndarray, *, periods_per_year: float = TRADING_DAYS, covariance: str
) -> np.ndarray:
    """Equal-risk-contribution weights under the ``covariance`` estimate of ``returns``.

    Raises
    ------
    ValueError
        Too few complete days, or an asset with zero variance.
    """
    r = _as_returns(returns)
    if r.shape[1] == 1:
        return np.ones(1)
    from inferer.moments import covariance as estimate

    return risk_parity(estimate(r, periods_per_year, covariance))


def cap_weights(w: np.ndarray, max_weight: float) -> np.ndarray:
    """Cap each weight at ``max_weight``, giving the excess to the others.

    Weights above the cap are set to it and the excess goes to the uncapped
    weights in proportion to their size (equally if they are all zero),
    repeated until none exceeds the cap. The result is ``min(max_weight, c * w)``
    for the scalar ``c`` that makes it sum to 1.

    Parameters
    ----------
    w : numpy.ndarray
        Non-negative weights with a positive sum (normalised to 1 first).
    max_weight : float
        Cap in ``(0, 1]``. When ``max_weight * n < 1`` no portfolio fits the
        cap; equal weights, the portfolio with the smallest largest weight,
        are returned.

    Returns
    -------
    numpy.ndarray
        Weights summing to 1, each ``<= max_weight`` (to rounding) when feasible.
    """
    _check_max_weight(max_weight)
    x = np.asarray(w, dtype=float).copy()
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"w must be a non-empty 1-D array, got shape {x.shape}")
    if not np.isfinite(x).all() or (x < -1e-12).any() or not x.sum() > 0:
        raise ValueError("w must be finite, non-negative and have a positive sum")
    x = np.clip(x, 0.0, None)
    x /= x.sum()
    n = x.size
    if max_weight >= 1:
        return x
    if max_weight * n < 1 - 1e-12:
        return equal_weights(n)
    capped = np.zeros(n, dtype=bool)
    for _ in range(n):
        over = ~capped & (x > max_weight)
        if not over.any():
            break
        capped |= over
        free = ~capped
        x[capped] = max_weight
        if not free.any():
            break
        rest = 1.0 - max_weight * capped.sum()
        total = x[free].sum()
        x[free] = x[free] * (rest / total) if total > 0 else rest / free.sum()
    return x


def validate_weights(w: np.ndarray) -> np.ndarray:
    """Check weights are finite, non-negative and sum to 1; return them tidied.

    Negatives down to ``-1e-12`` are rounding and become 0; a sum within
    ``1e-9`` of 1 is renormalised to 1.

    Raises
    ------
    ValueError
        Not a non-empty 1-D array (a bug of the caller).
    EstimationError
        Non-finite, clearly negative, or a sum further than ``1e-9`` from 1:
        a method that could not weigh this data.
    """
    x = np.asarray(w, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise EstimationError("weights contain NaN or infinite values")
    if (x < -1e-12).any():
        raise EstimationError(f"weights contain a negative value {x.min():.3g}")
    x = np.clip(x, 0.0, None)
    total = x.sum()
    if abs(total - 1.0) > 1e-9:
        raise EstimationError(f"weights sum to {total!r}, not 1")
    return x / total


def _short(err: BaseException) -> str:
    """The first line of an error, within 120 characters; a bug's class name first."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text if len(text) <= 120 else text[:117] + "..."
    if isinstance(err, EstimationError):  # a condition of the data: its message says it
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def allocate(
    returns: np.ndarray,
    method: str,
    *,
    fallback: str,
    covariance: str,
    max_weight: float = 1.0,
    periods_per_year: float = TRADING_DAYS,
    risk_free_rate: float = 0.0,
) -> MethodResult:
    """Weights for the columns of ``returns`` by ``method``, falling back on failure.

    Parameters
    ----------
    returns : numpy.ndarray
        Shape ``(T, n)`` simple returns per period of the selected assets over
        the lookback window, NaN where missing.
    method : {"hrp", "risk_parity", "max_sharpe", "min_vol", "inverse_vol", "equal"}
    max_weight : float
        Cap on each weight in ``(0, 1]``: a bound inside the optimiser for
        max-Sharpe and min-vol, :func:`cap_weights` afterwards for the others.
        When ``max_weight * n < 1`` no portfolio fits: a DataError.
    fallback : {"hrp", "inverse_vol", "equal"}
        Method used when ``method`` fails; equal weights if it fails too.
    periods_per_year : float
        Periods per year, for annualising.
    risk_free_rate : float
        Annual risk-free rate for max-Sharpe.
    covariance : {"ledoit_wolf", "sample", "ewma"}
        Covariance estimator of risk parity, max-Sharpe and min-vol.

    Returns
    -------
    MethodResult
        A single asset gets weight 1.

    Raises
    ------
    DataError
        ``returns`` is not 2-D, has no column, or infinite values; or the
        cap cannot be met by ``n`` assets.
    ValueError
        A parameter is invalid.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    _check_max_weight(max_weight)
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    if not np.isfinite(risk_free_rate):
        raise ValueError(f"risk_free_rate must be finite, got {risk_free_rate}")
    r = _as_returns(returns)
    n = r.shape[1]
    if n == 1:
        return MethodResult(np.ones(1), method, method, None)
    if max_weight * n < 1 - 1e-12:
        # Quietly equal-weighting would break the cap the user set.
        raise DataError(
            f"[inference] max_weight {max_weight:g} x {n} selected assets = "
            f"{max_weight * n:.3g} < 1: no portfolio fits the cap (raise max_weight or top_n)"
        )

    compute: dict[str, Callable[[], np.ndarray]] = {
        "hrp": lambda: cap_weights(hrp_weights(r), max_weight),
        "risk_parity": lambda: cap_weights(
            risk_parity_weights(r, periods_per_year=periods_per_year, covariance=covariance),
            max_weight,
        ),
        "max_sharpe": lambda: max_sharpe_weights(
            r,
            max_weight=max_weight,
            risk_free_rate=risk_free_rate,
            periods_per_year=periods_per_year,
            covariance=covariance,
        ),
        "min_vol": lambda: min_vol_weights(
            r, max_weight=max_weight, periods_per_year=periods_per_year, covariance=covariance
        ),
        "inverse_vol": lambda: cap_weights(inverse_vol_weights(r), max_weight),
        "equal": lambda: equal_weights(n),
    }
    chain = list(dict.fromkeys([method, fallback, "equal"]))
    failures: list[str] = []
    for name in chain:
        try:
            weights = validate_weights(compute[name]())
        except METHOD_FAILURES as err:
            failures.append(f"{name} failed ({_short(err)})")
            continue
        reason = "; ".join(failures) if failures else None
        return MethodResult(weights, method, name, reason)
    raise AssertionError("equal weights cannot fail")  # pragma: no cover
