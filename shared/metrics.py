"""Return and risk statistics for inference and backtest reports.

Every function takes a 1-D array of **daily simple returns** as fractions
(``0.01`` is +1 %) and returns a plain Python ``float``. Annualised figures
take ``periods_per_year`` (default 252); pass :func:`periods_per_year` of the
dates actually used, since FX or crypto panels trade on more days than US
exchanges.

Conventions, shared by the whole module:

* Standard deviations are sample ones (``ddof=1``).
* Maximum drawdown is a negative fraction (``-0.2`` is a 20 % fall) of the
  compounded wealth curve that starts at 1 before the first return.
* VaR and CVaR are positive loss fractions for one period.
* A ratio whose denominator is zero, meaning at or below :data:`ZERO_VOL`
  (Sharpe of a constant series, Sortino without a single period below the
  risk-free rate, Calmar without a drawdown) is ``nan``: there is no finite
  number that is right for it. :func:`sharpe_ratio` is the one Sharpe formula
  of the project: selection, metrics, charts and the frontier all use it.

Input that is not finite, or shorter than two observations, raises
:class:`~shared.errors.DataError`.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from shared.errors import DataError

__all__ = [
    "alpha",
    "ann_return",
    "ann_vol",
    "annual_turnover",
    "beta",
    "cagr",
    "calmar",
    "cornish_fisher_quantile",
    "cvar_historical",
    "drawdown_series",
    "information_ratio",
    "max_drawdown",
    "periods_per_year",
    "sharpe",
    "sharpe_ratio",
    "sortino",
    "summary",
    "total_return",
    "tracking_error",
    "var_cornish_fisher",
    "var_gaussian",
    "var_historical",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
RiskFree = float | npt.ArrayLike

DAYS_PER_YEAR = 365.25
#: Periods per year where the calendar cannot be measured: US exchange days.
TRADING_DAYS = 252.0
#: A standard deviation at or below this counts as zero. The mean of a constant
#: series is not exact in floating point, so its standard deviation comes out
#: as rounding noise (~1e-19) instead of 0, which would turn an undefined ratio
#: into a huge finite one.
ZERO_VOL = 1e-10
_DEFAULT_PPY = TRADING_DAYS


# --------------------------------------------------------------------------- validation


def _returns(values: ArrayLike, name: str = "returns") -> FloatArray:
    """Return ``values`` as a finite 1-D float64 array of at least 2 entries."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < 2:
        raise DataError(f"{name} needs at least 2 observations, got {arr.size}")
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise DataError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def _paired(returns: ArrayLike, benchmark: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r = _returns(returns)
    b = _returns(benchmark, "benchmark")
    if r.shape != b.shape:
        raise DataError(f"returns ({r.size}) and benchmark ({b.size}) differ in length")
    return r, b


def _excess(r: FloatArray, rf: RiskFree) -> FloatArray:
    """``r - rf`` with ``rf`` a per-period scalar or an array as long as ``r``."""
    rf_arr = np.asarray(rf, dtype=np.float64)
    if rf_arr.ndim == 0:
        if not np.isfinite(rf_arr):
            raise DataError("rf is not finite")
        return r - float(rf_arr)
    if rf_arr.shape != r.shape:
        raise DataError(f"rf has {rf_arr.size} values for {r.size} returns")
    if not np.isfinite(rf_arr).all():
        raise DataError("rf contains NaN or infinite value(s)")
    return r - rf_arr


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > ZERO_VOL else math.nan


def sharpe_ratio(mean: npt.ArrayLike, std: npt.ArrayLike, periods_per_year: float) -> FloatArray:
    r"""Annualised Sharpe ratio from per-period moments of excess returns.

    .. math:: S = \frac{\bar e}{\sigma_e} \sqrt{P}

    Vectorised over arrays of moments (a 0-d array for scalars); ``nan`` where
    :math:`\sigma_e` is at or below :data:`ZERO_VOL` (or undefined). Pass
    annual moments with ``periods_per_year = 1``.
    """
    m = np.asarray(mean, dtype=np.float64)
    s = np.asarray(std, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(s > ZERO_VOL, m / s * math.sqrt(periods_per_year), math.nan)
    return out


# --------------------------------------------------------------------------- returns


def total_return(returns: ArrayLike) -> float:
    r"""Compounded return over the whole series.

    .. math:: R = \prod_{t=1}^{n} (1 + r_t) - 1
    """
    r = _returns(returns)
    return float(np.prod(1.0 + r) - 1.0)


def cagr(returns: ArrayLike, periods_per_year: float = _DEFAULT_PPY) -> float:
    r"""Compound annual growth rate.

    .. math:: \mathrm{CAGR} = (1 + R)^{1/Y} - 1, \qquad Y = n / \text{periods\_per\_year}

    with :math:`R` the :func:`total_return` and :math:`n` the number of returns.
    A wealth curve that reaches zero or below (a -100 % period) gives -1.
    """
    r = _returns(returns)
    wealth = float(np.prod(1.0 + r))
    if wealth <= 0.0:
        return -1.0
    years = r.size / periods_per_year
    return float(wealth ** (1.0 / years) - 1.0)


def ann_return(returns: ArrayLike, periods_per_year: float = _DEFAULT_PPY) -> float:
    r"""Arithmetic annualised return.

    .. math:: \bar r \cdot P, \qquad \bar r = \frac{1}{n}\sum_t r_t

    with :math:`P` the periods per year.
    """
    r = _returns(returns)
    return float(r.mean() * periods_per_year)


def ann_vol(returns: ArrayLike, periods_per_year: float = _DEFAULT_PPY) -> float:
    r"""Annualised volatility.

    .. math:: \sigma \sqrt{P}, \qquad
        \sigma = \sqrt{\frac{1}{n-1}\sum_t (r_t - \bar r)^2}
    """
    r = _returns(returns)
    return float(r.std(ddof=1) * math.sqrt(periods_per_year))


# --------------------------------------------------------------------------- ratios


def sharpe(returns: ArrayLike, rf: RiskFree = 0.0, periods_per_year: float = _DEFAULT_PPY) -> float:
    r"""Annualised Sharpe ratio of excess returns.

    .. math:: S = \frac{\bar e}{\sigma_e} \sqrt{P}, \qquad e_t = r_t - r^f_t

    ``rf`` is the risk-free rate **per period** (a float, or one value per
    return). :math:`\sigma_e` uses ``ddof=1``. ``nan`` when :math:`\sigma_e = 0`.
    """
    e = _excess(_returns(returns), rf)
    return float(sharpe_ratio(e.mean(), e.std(ddof=1), periods_per_year))


def sortino(
    returns: ArrayLike, rf: RiskFree = 0.0, periods_per_year: float = _DEFAULT_PPY
) -> float:
    r"""Annualised Sortino ratio with the risk-free rate as target.

    .. math:: \mathrm{So} = \frac{\bar e}{D} \sqrt{P}, \qquad
        D = \sqrt{\frac{1}{n}\sum_{t=1}^{n} \min(e_t, 0)^2}

    The downside deviation :math:`D` averages over **all** :math:`n` periods
    (periods above target count as zero), not only the losing ones, and is
    taken around the target (``rf``), not around the mean. ``nan`` when no
    period falls below the target.
    """
    e = _excess(_returns(returns), rf)
    downside = math.sqrt(float(np.mean(np.minimum(e, 0.0) ** 2)))
    return _ratio(float(e.mean()), downside) * math.sqrt(periods_per_year)


# --------------------------------------------------------------------------- drawdown


def drawdown_series(returns: ArrayLike) -> FloatArray:
    r"""Drawdown after each period, as negative fractions.

    .. math:: W_t = \prod_{s \le t}(1 + r_s), \qquad
        DD_t = \frac{W_t}{\max(1, \max_{s \le t} W_s)} - 1

    The peak starts at the initial wealth of 1, so a loss in the very first
    period is already a drawdown.
    """
    r = _returns(returns)
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
    dd: FloatArray = wealth / peak - 1.0
    return dd


def max_drawdown(returns: ArrayLike) -> float:
    r"""Maximum drawdown, a negative fraction (0 when wealth never falls).

    .. math:: \mathrm{MDD} = \min_t DD_t

    See :func:`drawdown_series`.
    """
    # + 0.0 turns a -0.0 into 0.0 so reports do not print "-0.0".
    return float(drawdown_series(returns).min()) + 0.0


def calmar(returns: ArrayLike, periods_per_year: float = _DEFAULT_PPY) -> float:
    r"""Calmar ratio.

    .. math:: \frac{\mathrm{CAGR}}{|\mathrm{MDD}|}

    ``nan`` when there is no drawdown.
    """
    return _ratio(cagr(returns, periods_per_year), abs(max_drawdown(returns)))


# --------------------------------------------------------------------------- tail risk


def var_historical(returns: ArrayLike, alpha: float = 0.95) -> float:
    r"""Historical one-period Value at Risk, a positive loss fraction.

    .. math:: \mathrm{VaR}_\alpha = -Q(1 - \alpha)

    :math:`Q` is the empirical quantile with **linear interpolation** between
    order statistics (``numpy.quantile(method="linear")``, Hyndman-Fan type 7):
    with sorted returns :math:`x_{(0)} \le \dots \le x_{(n-1)}` and
    :math:`h = (n-1)(1-\alpha)`,
    :math:`Q = x_{(\lfloor h \rfloor)} + (h - \lfloor h \rfloor)
    (x_{(\lfloor h \rfloor + 1)} - x_{(\lfloor h \rfloor)})`.
    It is negative when even the :math:`1-\alpha` quantile is a gain.
    """
    _check_alpha(alpha)
    r = _returns(returns)
    return float(-np.quantile(r, 1.0 - alpha, method="linear"))


def var_gaussian(returns: ArrayLike, alpha: float = 0.95) -> float:
    r"""Parametric (normal) one-period Value at Risk.

    .. math:: \mathrm{VaR}_\alpha = -(\bar r + z_{1-\alpha}\,\sigma), \qquad
        z_{1-\alpha} = \Phi^{-1}(1 - \alpha)

    with :math:`\sigma` the sample standard deviation (``ddof=1``).
    """
    _check_alpha(alpha)
    r = _returns(returns)
    z = NormalDist().inv_cdf(1.0 - alpha)
    return float(-(r.mean() + z * r.std(ddof=1)))


def cornish_fisher_quantile(z: float, skew: float, excess_kurtosis: float) -> float:
    r"""Cornish-Fisher expansion of a standard normal quantile.

    .. math:: z_{cf} = z + \frac{(z^2 - 1) S}{6} + \frac{(z^3 - 3z) K}{24}
        - \frac{(2z^3 - 5z) S^2}{36}

    with :math:`S` the skewness and :math:`K` the **excess** kurtosis.
    Returns ``z`` itself when :math:`S = K = 0`.
    """
    return float(
        z
        + (z**2 - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * excess_kurtosis / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
    )


def var_cornish_fisher(returns: ArrayLike, alpha: float = 0.95) -> float:
    r"""Modified (Cornish-Fisher) one-period Value at Risk.

    .. math:: \mathrm{VaR}_\alpha = -(\bar r + z_{cf}\,\sigma)

    :math:`z_{cf}` is :func:`cornish_fisher_quantile` of
    :math:`\Phi^{-1}(1-\alpha)` with the sample's population (biased) skewness
    and excess kurtosis (``scipy.stats.skew`` / ``kurtosis`` defaults),
    :math:`\sigma` with ``ddof=1``. A constant series has no shape: its VaR is
    :math:`-\bar r`, as for :func:`var_gaussian`. Note that for fat tails at
    moderate confidence (95 %) the expansion can give a *smaller* VaR than the
    normal one; at 99 % it gives a larger one.
    """
    _check_alpha(alpha)
    r = _returns(returns)
    sd = float(r.std(ddof=1))
    if sd <= ZERO_VOL:
        return float(-r.mean())
    from scipy import stats  # lazily: scipy.stats takes ~0.5 s to import

    z = NormalDist().inv_cdf(1.0 - alpha)
    s = float(stats.skew(r, bias=True))
    k = float(stats.kurtosis(r, fisher=True, bias=True))
    return float(-(r.mean() + cornish_fisher_quantile(z, s, k) * sd))


def cvar_historical(returns: ArrayLike, alpha: float = 0.95) -> float:
    r"""Historical Conditional VaR (expected shortfall), a positive loss fraction.

    .. math:: \mathrm{CVaR}_\alpha = -\operatorname{mean}\{r_t : r_t \le -\mathrm{VaR}_\alpha\}

    with :math:`\mathrm{VaR}_\alpha` from :func:`var_historical` (interpolated),
    so :math:`\mathrm{CVaR}_\alpha \ge \mathrm{VaR}_\alpha` always.
    """
    _check_alpha(alpha)
    r = _returns(returns)
    q = np.quantile(r, 1.0 - alpha, method="linear")
    tail = r[r <= q]
    # The interpolated quantile is >= min(r) mathematically; guard against rounding.
    return float(-tail.mean()) if tail.size else float(-r.min())


# --------------------------------------------------------------------------- vs benchmark


def beta(returns: ArrayLike, benchmark: ArrayLike, rf: RiskFree = 0.0) -> float:
    r"""CAPM beta: OLS slope of excess returns on benchmark excess returns.

    .. math:: \beta = \frac{\operatorname{cov}(e, e^b)}{\operatorname{var}(e^b)},
        \qquad e = r - r^f,\; e^b = b - r^f

    ``nan`` when the benchmark excess return is constant.
    """
    r, b = _paired(returns, benchmark)
    e, eb = _excess(r, rf), _excess(b, rf)
    cov = float(np.mean((e - e.mean()) * (eb - eb.mean())))
    sd = float(eb.std())
    return cov / sd**2 if sd > ZERO_VOL else math.nan


def alpha(
    returns: ArrayLike,
    benchmark: ArrayLike,
    rf: RiskFree = 0.0,
    periods_per_year: float = _DEFAULT_PPY,
) -> float:
    r"""Annualised CAPM alpha: OLS intercept times periods per year.

    .. math:: \alpha = (\bar e - \beta\,\bar e^b)\,P

    with :math:`\beta` from :func:`beta` (arithmetic, not compounded).
    """
    r, b = _paired(returns, benchmark)
    e, eb = _excess(r, rf), _excess(b, rf)
    return float((e.mean() - beta(r, b, rf) * eb.mean()) * periods_per_year)


def tracking_error(
    returns: ArrayLike, benchmark: ArrayLike, periods_per_year: float = _DEFAULT_PPY
) -> float:
    r"""Annualised tracking error: volatility of active returns.

    .. math:: TE = \sigma(r - b) \sqrt{P} \quad (\text{ddof}=1)
    """
    r, b = _paired(returns, benchmark)
    return float((r - b).std(ddof=1) * math.sqrt(periods_per_year))


def information_ratio(
    returns: ArrayLike, benchmark: ArrayLike, periods_per_year: float = _DEFAULT_PPY
) -> float:
    r"""Information ratio: annualised mean active return over tracking error.

    .. math:: IR = \frac{\overline{(r - b)}\,P}{TE}
        = \frac{\overline{(r - b)}}{\sigma(r - b)} \sqrt{P}

    ``nan`` when the tracking error is zero.
    """
    r, b = _paired(returns, benchmark)
    active = r - b
    return float(sharpe_ratio(active.mean(), active.std(ddof=1), periods_per_year))


# --------------------------------------------------------------------------- calendar, turnover


def annual_turnover(turnovers: ArrayLike, years: float) -> float:
    r"""Average turnover per year.

    .. math:: \frac{1}{Y} \sum_k \tau_k

    ``turnovers`` holds one turnover per rebalance in whatever convention the
    caller uses (e.g. one-way :math:`\tfrac12\sum_i |w_i^{new} - w_i^{old}|`);
    ``years`` is the length of the period they cover. An empty list is 0.
    """
    t = np.asarray(turnovers, dtype=np.float64).ravel()
    if not np.isfinite(t).all():
        raise DataError("turnovers contain NaN or infinite value(s)")
    if not (math.isfinite(years) and years > 0.0):
        raise DataError(f"years must be positive, got {years}")
    return float(t.sum() / years)


def periods_per_year(
    dates: npt.NDArray[np.datetime64] | Sequence[_dt.date] | Sequence[np.datetime64],
) -> float:
    r"""Observations per year of the calendar actually used.

    .. math:: P = \frac{n - 1}{(d_{max} - d_{min}) / 365.25}

    :math:`n - 1` intervals separate :math:`n` dates, which makes the estimate
    exact for evenly spaced dates (daily dates give 365.25, weekly 52.18) rather
    than biased up by :math:`n/(n-1)`. A US-exchange calendar gives about 252,
    one with FX or crypto days more. ``dates`` may be ``datetime64`` of any
    unit or Python dates; order does not matter.
    """
    d = np.asarray(dates).astype("datetime64[D]").ravel()
    if d.size < 2:
        raise DataError(f"periods_per_year needs at least 2 dates, got {d.size}")
    if np.isnat(d).any():
        raise DataError("dates contain NaT")
    span_days = float((d.max() - d.min()) / np.timedelta64(1, "D"))
    if span_days <= 0.0:
        raise DataError("dates span zero days")
    return float((d.size - 1) / (span_days / DAYS_PER_YEAR))


# --------------------------------------------------------------------------- summary


def summary(
    returns: ArrayLike,
    *,
    benchmark: ArrayLike | None = None,
    rf: RiskFree = 0.0,
    periods_per_year: float = _DEFAULT_PPY,
    turnover: float | None = None,
    cost_drag: float | None = None,
) -> dict[str, float]:
    """All statistics of one return series, as plain floats.

    Parameters
    ----------
    returns : array_like
        Daily simple returns.
    benchmark : array_like, optional
        Benchmark returns on the same dates; adds ``beta``, ``alpha``,
        ``tracking_error`` and ``information_ratio``.
    rf : float or array_like
        Risk-free rate per period, used by Sharpe, Sortino, beta and alpha.
    periods_per_year : float
        Annualisation factor; see :func:`periods_per_year`.
    turnover, cost_drag : float, optional
        Precomputed annual turnover and annual cost drag, passed through.

    Returns
    -------
    dict[str, float]
        Keys ``total_return, cagr, ann_return, ann_vol, sharpe, sortino,
        max_drawdown, calmar, var_95, var_95_gaussian, var_95_cf, cvar_95``,
        then the benchmark keys and ``turnover``, ``cost_drag`` when given.
        Undefined ratios are ``nan`` (``json.dumps`` writes ``NaN``).
    """
    r = _returns(returns)
    ppy = periods_per_year
    out: dict[str, float] = {
        "total_return": total_return(r),
        "cagr": cagr(r, ppy),
        "ann_return": ann_return(r, ppy),
        "ann_vol": ann_vol(r, ppy),
        "sharpe": sharpe(r, rf, ppy),
        "sortino": sortino(r, rf, ppy),
        "max_drawdown": max_drawdown(r),
        "calmar": calmar(r, ppy),
        "var_95": var_historical(r, 0.95),
        "var_95_gaussian": var_gaussian(r, 0.95),
        "var_95_cf": var_cornish_fisher(r, 0.95),
        "cvar_95": cvar_historical(r, 0.95),
    }
    if benchmark is not None:
        r, b = _paired(r, benchmark)
        out["beta"] = beta(r, b, rf)
        out["alpha"] = alpha(r, b, rf, ppy)
        out["tracking_error"] = tracking_error(r, b, ppy)
        out["information_ratio"] = information_ratio(r, b, ppy)
    if turnover is not None:
        out["turnover"] = float(turnover)
    if cost_drag is not None:
        out["cost_drag"] = float(cost_drag)
    return out
