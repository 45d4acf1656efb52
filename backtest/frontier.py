"""Monte Carlo efficient frontier: random long-only portfolios plus the exact curve.

Inputs are **annualised**: ``mu`` is the vector of expected annual returns
(fractions) and ``cov`` the annual covariance matrix of the same assets; the
backtest passes :func:`inferer.moments.moments`, the estimates ``max_sharpe``
and ``min_vol`` allocate with, so the optimum marked here is the strategy's.
Every return, volatility and Sharpe ratio in a :class:`Frontier` is then
annual too, and ``rf`` is an annual rate.

Random portfolios are drawn from Dirichlet(1, ..., 1), the uniform distribution
on the simplex. Normalising independent uniform draws, a common shortcut, is
*not* uniform: it crowds portfolios towards equal weight.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from inferer.moments import optimizer
from shared.errors import DataError
from shared.metrics import sharpe_ratio

__all__ = [
    "Frontier",
    "analytical_frontier",
    "efficient_frontier",
    "portfolio_stats",
    "random_portfolios",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Frontier:
    """Random portfolios and the analytical long-only frontier (all annualised).

    Attributes
    ----------
    weights : ndarray, shape (n_portfolios, n_assets)
        Random long-only portfolios, each row summing to 1.
    returns, vols, sharpes : ndarray, shape (n_portfolios,)
        Their expected return, volatility and Sharpe ratio.
    curve_vols, curve_returns : ndarray, shape (n_points,)
        Points of the analytical efficient frontier, by increasing return;
        possibly empty when every optimisation failed.
    markers : dict[str, tuple[float, float]]
        Name -> (vol, return): ``min_vol``, ``max_sharpe`` and any extra
        portfolio passed to :func:`efficient_frontier`.
    """

    weights: FloatArray
    returns: FloatArray
    vols: FloatArray
    sharpes: FloatArray
    curve_vols: FloatArray
    curve_returns: FloatArray
    markers: dict[str, tuple[float, float]] = field(default_factory=dict)


def _moments(mu: npt.ArrayLike, cov: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    m = np.asarray(mu, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    if m.ndim != 1 or c.shape != (m.size, m.size):
        raise ValueError(f"mu {m.shape} and cov {c.shape} do not describe the same assets")
    if not (np.isfinite(m).all() and np.isfinite(c).all()):
        raise DataError("mu or cov contains NaN or infinite values")
    return m, c


def random_portfolios(n_portfolios: int, n_assets: int, *, rng: np.random.Generator) -> FloatArray:
    r"""Draw long-only portfolios uniformly on the simplex.

    .. math:: w = \frac{g}{\sum_i g_i}, \qquad g_i \sim \mathrm{Exp}(1)
        = \mathrm{Gamma}(1, 1) \text{ i.i.d.}
        \;\Rightarrow\; w \sim \mathrm{Dirichlet}(1, \dots, 1)

    Each weight has mean :math:`1/N` and variance :math:`(N-1)/(N^2(N+1))`.

    Returns
    -------
    ndarray, shape (n_portfolios, n_assets)
        Non-negative rows summing to 1.
    """
    if n_portfolios < 1 or n_assets < 1:
        raise ValueError("n_portfolios and n_assets must be positive")
    # Same law as rng.dirichlet(np.ones(n)), but normalised in place: one array, no copies.
    w = rng.standard_exponential((n_portfolios, n_assets))
    w /= w.sum(axis=1, keepdims=True)
    return w


def portfolio_stats(
    weights: npt.ArrayLike, mu: npt.ArrayLike, cov: npt.ArrayLike, rf: float = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Expected return, volatility and Sharpe ratio of many portfolios at once.

    .. math:: \mu_p = W\mu, \qquad
        \sigma_p = \sqrt{\textstyle\sum_j (W\Sigma)_{pj} W_{pj}}, \qquad
        S_p = \frac{\mu_p - r_f}{\sigma_p}

    The row-wise sum of ``(W @ cov) * W`` is the diagonal of
    :math:`W \Sigma W^\top` without forming the (n_portfolios x n_portfolios)
    product; one BLAS matrix product does the work (~30 ms for 10,000 x 300
    on two cores), and a row-wise ``einsum`` takes the sum without a temporary.

    Parameters
    ----------
    weights : array_like, shape (n_portfolios, n_assets) or (n_assets,)
    mu : array_like, shape (n_assets,)
        Annual expected returns.
    cov : array_like, shape (n_assets, n_assets)
        Annual covariance.
    rf : float
        Annual risk-free rate.

    Returns
    -------
    ret, vol, sharpe : ndarray, shape (n_portfolios,)
        ``sharpe`` is ``nan`` for a zero-volatility portfolio.
    """
    m, c = _moments(mu, cov)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if w.shape[1] != m.size:
        raise ValueError(f"weights have {w.shape[1]} assets, mu has {m.size}")
    ret = w @ m
    # Rounding can make a near-singular quadratic form a hair negative.
    var = np.maximum(np.einsum("ij,ij->i", w @ c, w), 0.0)
    vol = np.sqrt(var)
    return ret, vol, sharpe_ratio(ret - rf, vol, 1.0)


def _solve(make: Callable[[], Mapping[Any, float]]) -> FloatArray | None:
    """Run one PyPortfolioOpt optimisation; None when it fails."""
    from pypfopt.exceptions import OptimizationError

    try:
        with warnings.catch_warnings():
            # cvxpy warns about "optimal_inaccurate" and reused problems; failures raise.
            warnings.simplefilter("ignore")
            weights = make()
    except (OptimizationError, ValueError, ArithmeticError) as exc:
        log.debug("frontier optimisation failed: %s", exc)
        return None
    w = np.asarray(list(weights.values()), dtype=np.float64)
    return w if np.isfinite(w).all() else None


def _min_vol_weights(mu: FloatArray, cov: FloatArray, max_weight: float) -> FloatArray | None:
    return _solve(optimizer(mu, cov, max_weight).min_volatility)


def analytical_frontier(
    mu: npt.ArrayLike, cov: npt.ArrayLike, n_points: int = 50, max_weight: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    r"""Long-only efficient frontier by minimum variance at target returns.

    For targets :math:`t_k` evenly spaced from the minimum-volatility
    portfolio's return to :math:`\max_i \mu_i`, solve

    .. math:: \min_w w^\top \Sigma w \quad \text{s.t.}\quad
        \mu^\top w \ge t_k,\; \mathbf{1}^\top w = 1,\; 0 \le w \le w_{max}

    with PyPortfolioOpt's ``EfficientFrontier.efficient_return`` and the
    CLARABEL solver. One problem is built and only its target parameter
    changes between points, so cvxpy compiles once; the solver itself then
    dominates (~0.1 s a point at 300 assets on two cores, so ~5 s for 50).
    Points whose solve fails are skipped.

    Returns
    -------
    vols, rets : ndarray, shape (<= n_points,)
        Annual volatility and return of each solved point, by increasing target.
    """
    m, c = _moments(mu, cov)
    return _curve(m, c, n_points, _min_vol_weights(m, c, max_weight), max_weight)


def _curve(
    m: FloatArray, c: FloatArray, n_points: int, w_min: FloatArray | None, max_weight: float
) -> tuple[FloatArray, FloatArray]:
    if n_points < 1:
        raise ValueError("n_points must be positive")
    lo = float(w_min @ m) if w_min is not None else float(m.min())
    hi = float(m.max())
    # PyPortfolioOpt rejects targets above its own *solved* maximum return, which
    # sits ~1e-10 below max(mu); stop a millionth of the range short of it.
    hi -= 1e-6 * max(hi - lo, 1e-9)
    targets = np.linspace(lo, hi, n_points) if hi > lo else np.array([lo])
    ef = optimizer(m, c, max_weight)
    solved: list[FloatArray] = []
    for t in targets:
        w = _solve(partial(ef.efficient_return, float(t)))
        if w is not None:
            solved.append(w)
    if not solved:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy()
    rets, vols, _ = portfolio_stats(np.vstack(solved), m, c)
    return vols, rets


def efficient_frontier(
    mu: npt.ArrayLike,
    cov: npt.ArrayLike,
    *,
    n_portfolios: int = 10_000,
    seed: int = 0,
    rf: float = 0.0,
    max_weight: float = 1.0,
    extra_markers: Mapping[str, npt.ArrayLike] | None = None,
    n_points: int = 50,
) -> Frontier:
    """Random portfolios, the analytical curve and its marked portfolios.

    Parameters
    ----------
    mu, cov : array_like
        Annual expected returns (n_assets,) and covariance (n_assets, n_assets).
    n_portfolios : int
        Number of Dirichlet(1, ..., 1) portfolios.
    seed : int
        Seed of the random generator, for reproducible plots.
    rf : float
        Annual risk-free rate for the Sharpe ratios and the max-Sharpe marker.
    max_weight : float
        Cap on each weight of the curve and the optimised markers, the
        strategy's ``max_weight`` (random portfolios are uncapped).
    extra_markers : dict[str, array_like], optional
        Name -> weight vector (e.g. ``"hrp"``, ``"strategy"``) to mark on the plot.
    n_points : int
        Points on the analytical curve.

    Returns
    -------
    Frontier

    Notes
    -----
    ``min_vol`` is PyPortfolioOpt's long-only ``min_volatility``. ``max_sharpe``
    is its ``max_sharpe(risk_free_rate=rf)``; when that fails (e.g. no asset
    beats ``rf``) the marker falls back to the curve point with the highest
    Sharpe ratio, and to the best random portfolio when the curve is empty.
    """
    m, c = _moments(mu, cov)
    rng = np.random.default_rng(seed)
    w = random_portfolios(n_portfolios, m.size, rng=rng)
    ret, vol, sr = portfolio_stats(w, m, c, rf)
    w_min = _min_vol_weights(m, c, max_weight)
    curve = _curve(m, c, n_points, w_min, max_weight)
    w_ms = _solve(lambda: optimizer(m, c, max_weight).max_sharpe(risk_free_rate=rf))
    markers = {
        "min_vol": _point(w_min, m, c, curve, np.argmin(curve[0]) if curve[0].size else None),
        "max_sharpe": _max_sharpe_point(w_ms, m, c, rf, curve, (vol, ret, sr)),
    }
    markers.update(
        {name: _point(wt, m, c, curve, None) for name, wt in (extra_markers or {}).items()}
    )
    return Frontier(
        weights=w,
        returns=ret,
        vols=vol,
        sharpes=sr,
        curve_vols=curve[0],
        curve_returns=curve[1],
        markers={k: v for k, v in markers.items() if v is not None},
    )


def _point(
    weights: npt.ArrayLike | None,
    m: FloatArray,
    c: FloatArray,
    curve: tuple[FloatArray, FloatArray],
    fallback: Any,
) -> tuple[float, float] | None:
    """(vol, return) of ``weights``; else of curve point ``fallback``; else None."""
    if weights is not None:
        r_, v_, _ = portfolio_stats(weights, m, c)
        return float(v_[0]), float(r_[0])
    if fallback is None:
        return None
    return float(curve[0][fallback]), float(curve[1][fallback])


def _max_sharpe_point(
    w_ms: FloatArray | None,
    m: FloatArray,
    c: FloatArray,
    rf: float,
    curve: tuple[FloatArray, FloatArray],
    cloud: tuple[FloatArray, FloatArray, FloatArray],
) -> tuple[float, float] | None:
    """The max-Sharpe marker: the solved optimum, else the best curve point, else the best draw."""
    if w_ms is not None:
        return _point(w_ms, m, c, curve, None)
    log.info("max_sharpe failed; marking the best curve point instead")
    if curve[0].size:
        curve_sr = np.nan_to_num(sharpe_ratio(curve[1] - rf, curve[0], 1.0), nan=-math.inf)
        return _point(None, m, c, curve, int(np.argmax(curve_sr)))
    vol, ret, sr = cloud
    if np.isfinite(sr).any():
        i = int(np.nanargmax(sr))
        return float(vol[i]), float(ret[i])
    return None
