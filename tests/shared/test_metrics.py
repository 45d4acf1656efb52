"""shared.metrics against hand-computed values, independent formulas and skfolio.

Convention differences with ``skfolio.measures`` (checked below):

* ``max_drawdown``: skfolio returns a positive magnitude, ours is negative;
  both use the compounded wealth curve with the peak starting at 1.
* ``value_at_risk``: skfolio takes an order statistic (index
  ``floor((1 - beta) n)`` of the sorted returns, no interpolation); ours
  interpolates linearly (``numpy.quantile`` type 7). They agree when
  ``(n - 1)(1 - alpha)`` is that same integer, e.g. n = 101 at 95 %.
* ``cvar``: skfolio averages exactly ``(1 - beta) n`` worst observations
  (a fractional weight on the last); ours averages the returns at or below
  the interpolated VaR. They agree when ``(1 - alpha) n`` is an integer and
  the interpolated quantile lies strictly inside that gap, e.g. n = 100.
* Sortino: skfolio's ``Portfolio.sortino_ratio`` divides by the semi-deviation
  around the *mean* with Bessel's correction; ours is around rf over all n
  periods, i.e. ``semi_deviation(r, min_acceptable_return=rf, biased=True)``.
* Kurtosis: skfolio's is Pearson (normal = 3); Cornish-Fisher uses excess.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from shared import metrics as M
from shared.errors import DataError

skm = pytest.importorskip("skfolio.measures")

R = [0.1, -0.05, 0.02, -0.03, 0.04]
PPY = 252.0

# Whole basis points: realistic, full of ties, and free of underflowing 1e-300 returns.
returns_st = arrays(np.int64, st.integers(2, 120), elements=st.integers(-5000, 5000)).map(
    lambda a: a / 10_000.0
)
alpha_st = st.floats(0.5, 0.999)


def approx(x: float, rel: float = 1e-12, atol: float = 1e-15) -> object:
    return pytest.approx(x, rel=rel, abs=atol)


def noisy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_t(4, n) * 0.01 + 0.0004


# --------------------------------------------------------------------------- hand-computed


def test_hand_computed_returns() -> None:
    wealth = 1.1 * 0.95 * 1.02 * 0.97 * 1.04
    assert M.total_return(R) == approx(wealth - 1)
    assert M.cagr(R, PPY) == approx(wealth ** (252 / 5) - 1)
    assert M.cagr(R, periods_per_year=5.0) == approx(wealth - 1)
    assert M.ann_return(R, PPY) == approx(0.016 * 252)
    # Deviations from the mean 0.016: .084 -.066 .004 -.046 .024, squares sum to .01412.
    assert M.ann_vol(R, PPY) == approx(math.sqrt(0.01412 / 4 * 252))


def test_hand_computed_ratios() -> None:
    assert M.sharpe(R, 0.0, PPY) == approx(0.016 / math.sqrt(0.00353) * math.sqrt(252))
    # Downside below 0: -0.05 and -0.03, over all five periods.
    assert M.sortino(R, 0.0, PPY) == approx(0.016 / math.sqrt(0.0034 / 5) * math.sqrt(252))
    # rf = 0.01 per period: excess .09 -.06 .01 -.04 .03, mean .006, downside .06 and .04.
    assert M.sortino(R, 0.01, PPY) == approx(0.006 / math.sqrt(0.0052 / 5) * math.sqrt(252))
    assert M.sharpe(R, 0.01, PPY) == approx(0.006 / math.sqrt(0.00353) * math.sqrt(252))


def test_hand_computed_drawdown() -> None:
    # Wealth 1.1, 1.045, 1.0659, 1.033923, 1.07527992: peak 1.1 from day one.
    dd = M.drawdown_series(R)
    expected = [0.0, 1.045 / 1.1 - 1, 1.0659 / 1.1 - 1, 1.033923 / 1.1 - 1, 1.07527992 / 1.1 - 1]
    np.testing.assert_allclose(dd, expected, rtol=0, atol=1e-14)
    assert M.max_drawdown(R) == approx(1.033923 / 1.1 - 1)
    assert M.calmar(R, PPY) == approx(M.cagr(R, PPY) / (1 - 1.033923 / 1.1))
    # A first-day loss is a drawdown from the initial wealth of 1.
    assert M.max_drawdown([-0.1, 0.05]) == approx(-0.1)
    assert M.max_drawdown([0.01, 0.02]) == 0.0
    assert math.copysign(1.0, M.max_drawdown([0.01, 0.02])) == 1.0
    assert math.isnan(M.calmar([0.01, 0.02]))


def test_hand_computed_var_cvar() -> None:
    # Sorted: -0.05 -0.03 0.02 0.04 0.10; position h = 4 (1 - alpha).
    assert M.var_historical(R, 0.95) == approx(0.046)  # h = .2: -.05 + .2 * .02
    assert M.cvar_historical(R, 0.95) == approx(0.05)
    assert M.var_historical(R, 0.8) == approx(0.034)
    assert M.cvar_historical(R, 0.8) == approx(0.05)
    assert M.var_historical(R, 0.75) == approx(0.03)  # h = 1 exactly
    assert M.cvar_historical(R, 0.75) == approx(0.04)
    assert M.var_historical(R, 0.5) == approx(-0.02)  # median is a gain


def test_gaussian_var_matches_scipy_normal() -> None:
    r = noisy(500)
    ref = -stats.norm(loc=r.mean(), scale=statistics.stdev(r)).ppf(0.05)
    assert M.var_gaussian(r, 0.95) == approx(ref, rel=1e-10)
    ref99 = -stats.norm(loc=r.mean(), scale=statistics.stdev(r)).ppf(0.01)
    assert M.var_gaussian(r, 0.99) == approx(ref99, rel=1e-10)


def test_cornish_fisher_formula() -> None:
    z = float(stats.norm.ppf(0.05))
    assert M.cornish_fisher_quantile(z, 0.0, 0.0) == z
    # Hand evaluation with z = -1.6448536, S = -0.5, K = 3:
    # z^2 - 1 = 1.7055434, z^3 - 3z = 0.4843381, 2z^3 - 5z = -0.6761775.
    zc = -1.6448536 + 1.7055434 * -0.5 / 6 + 0.4843381 * 3 / 24 + 0.6761775 * 0.25 / 36
    assert M.cornish_fisher_quantile(z, -0.5, 3.0) == pytest.approx(zc, abs=1e-6)


def test_cornish_fisher_var_reduces_to_gaussian_without_skew_or_kurtosis() -> None:
    # {-a, 0, 0, 0, 0, a}: skew 0 and kurtosis 6/2 = 3, i.e. excess kurtosis 0.
    r = np.array([-0.02, 0.0, 0.0, 0.0, 0.0, 0.02]) + 0.001
    assert abs(stats.skew(r)) < 1e-12
    assert abs(stats.kurtosis(r)) < 1e-12
    assert abs(M.var_cornish_fisher(r, 0.95) - M.var_gaussian(r, 0.95)) < 1e-12
    assert abs(M.var_cornish_fisher(r, 0.99) - M.var_gaussian(r, 0.99)) < 1e-12


def test_cornish_fisher_var_direction() -> None:
    rng = np.random.default_rng(3)
    left_skewed = -rng.lognormal(0, 0.8, 2000) * 0.01 + 0.02
    assert stats.skew(left_skewed) < -1
    assert M.var_cornish_fisher(left_skewed, 0.99) > M.var_gaussian(left_skewed, 0.99)
    const = np.full(10, 0.001)
    assert M.var_cornish_fisher(const) == approx(-0.001)
    assert M.var_gaussian(const) == approx(-0.001)


def test_beta_alpha_against_polyfit() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(0.0004, 0.01, 400)
    r = 0.0002 + 1.3 * b + rng.normal(0, 0.005, 400)
    rf = 0.0001
    slope, intercept = np.polyfit(b - rf, r - rf, 1)
    assert M.beta(r, b, rf) == approx(slope, rel=1e-9)
    assert M.alpha(r, b, rf, PPY) == approx(intercept * 252, rel=1e-9)
    rf_arr = np.linspace(0.0, 0.0002, 400)
    slope, intercept = np.polyfit(b - rf_arr, r - rf_arr, 1)
    assert M.beta(r, b, rf_arr) == approx(slope, rel=1e-9)
    assert M.alpha(r, b, rf_arr, PPY) == approx(intercept * 252, rel=1e-9)


def test_beta_of_itself_is_one_alpha_zero() -> None:
    b = noisy(300)
    assert M.beta(b, b, 0.0001) == approx(1.0)
    assert M.alpha(b, b, 0.0001) == pytest.approx(0.0, abs=1e-14)
    assert M.beta(2 * b, b) == approx(2.0)
    assert math.isnan(M.beta(b, np.full(300, 0.001)))


def test_tracking_error_information_ratio() -> None:
    r, b = noisy(250, 1), noisy(250, 2)
    active = [x - y for x, y in zip(r.tolist(), b.tolist(), strict=True)]
    te = statistics.stdev(active) * math.sqrt(252)
    assert M.tracking_error(r, b, PPY) == approx(te, rel=1e-10)
    assert M.information_ratio(r, b, PPY) == approx(statistics.fmean(active) * 252 / te, rel=1e-10)
    assert M.tracking_error(b + 0.001, b) == pytest.approx(0.0, abs=1e-12)


def test_annual_turnover() -> None:
    assert M.annual_turnover([0.2, 0.3, 0.1], 2.0) == approx(0.3)
    assert M.annual_turnover([], 1.0) == 0.0
    with pytest.raises(DataError):
        M.annual_turnover([0.1, float("nan")], 1.0)
    with pytest.raises(DataError):
        M.annual_turnover([0.1], 0.0)


def test_periods_per_year() -> None:
    daily = np.arange("2020-01-01", "2021-01-01", dtype="datetime64[D]")  # 366 dates, 365 days
    assert M.periods_per_year(daily) == approx(365.25)
    weekly = [dt.date(2020, 1, 6) + dt.timedelta(weeks=k) for k in range(105)]
    assert M.periods_per_year(weekly) == approx(365.25 / 7)
    assert M.periods_per_year(daily[::-1]) == approx(365.25)
    business = np.busday_offset("2021-01-04", np.arange(0, 2520), roll="forward")
    assert 255 < M.periods_per_year(business) < 265  # 5/7 of 365.25 without holidays
    assert M.periods_per_year(daily.astype("datetime64[ns]")) == approx(365.25)
    with pytest.raises(DataError):
        M.periods_per_year([dt.date(2020, 1, 1)])
    with pytest.raises(DataError):
        M.periods_per_year([dt.date(2020, 1, 1)] * 3)


# --------------------------------------------------------------------------- skfolio


def test_drawdown_matches_skfolio() -> None:
    r = noisy(1000)
    ours = M.drawdown_series(r)
    np.testing.assert_allclose(ours, skm.get_drawdowns(r, compounded=True), atol=1e-13)
    # skfolio reports the magnitude, we report the (negative) drawdown.
    assert M.max_drawdown(r) == approx(-skm.max_drawdown(ours), rel=1e-12)
    assert M.max_drawdown([-0.1, 0.05]) == approx(
        -skm.max_drawdown(skm.get_drawdowns(np.array([-0.1, 0.05]), compounded=True))
    )


def test_var_cvar_vs_skfolio_conventions() -> None:
    r101 = noisy(101, 5)
    # (n-1)(1-alpha) = 5 = floor(n(1-alpha)): both take the 6th worst return.
    assert M.var_historical(r101, 0.95) == approx(skm.value_at_risk(r101, beta=0.95), rel=1e-9)
    r100 = noisy(100, 6)
    # n(1-alpha) = 5 worst returns: same CVaR; VaR interpolates between the 5th and 6th.
    assert M.cvar_historical(r100, 0.95) == approx(skm.cvar(r100, beta=0.95), rel=1e-9)
    s = np.sort(r100)
    assert M.var_historical(r100, 0.95) == approx(-(s[4] + 0.95 * (s[5] - s[4])), rel=1e-9)
    assert skm.value_at_risk(r100, beta=0.95) == approx(-s[5])


def test_vol_and_sortino_vs_skfolio() -> None:
    r = noisy(500)
    assert M.ann_vol(r, PPY) == approx(skm.standard_deviation(r) * math.sqrt(252), rel=1e-12)
    rf = 0.0001
    dd = skm.semi_deviation(r, min_acceptable_return=rf, biased=True)
    assert M.sortino(r, rf, PPY) == approx((r.mean() - rf) / dd * math.sqrt(252), rel=1e-12)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(returns_st, alpha_st)
def test_cvar_at_least_var(r: np.ndarray, a: float) -> None:
    assert M.cvar_historical(r, a) >= M.var_historical(r, a) - 1e-15


@settings(max_examples=60, deadline=None)
@given(returns_st, alpha_st, alpha_st)
def test_var_monotone_in_alpha(r: np.ndarray, a1: float, a2: float) -> None:
    lo, hi = sorted((a1, a2))
    assert M.var_historical(r, lo) <= M.var_historical(r, hi) + 1e-15
    assert M.cvar_historical(r, lo) <= M.cvar_historical(r, hi) + 1e-15
    assert M.var_gaussian(r, lo) <= M.var_gaussian(r, hi) + 1e-15


@settings(max_examples=60, deadline=None)
@given(returns_st, st.floats(0.01, 100.0))
def test_sharpe_sortino_scale_invariant(r: np.ndarray, c: float) -> None:
    assume(r.std(ddof=1) > 1e-6 and (r < 0).any())
    assert M.sharpe(c * r) == pytest.approx(M.sharpe(r), rel=1e-9, abs=1e-9)
    assert M.sortino(c * r) == pytest.approx(M.sortino(r), rel=1e-9, abs=1e-9)
    assert M.var_historical(c * r) == pytest.approx(c * M.var_historical(r), rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(returns_st)
def test_drawdown_bounds(r: np.ndarray) -> None:
    dd = M.drawdown_series(r)
    assert (dd <= 0).all() and (dd >= -1).all()
    assert M.max_drawdown(r) == dd.min()


# --------------------------------------------------------------------------- summary, errors


def test_summary_keys_and_types() -> None:
    r, b = noisy(300, 1), noisy(300, 2)
    out = M.summary(r, benchmark=b, rf=0.0001, turnover=2.5, cost_drag=0.001)
    assert list(out) == [
        "total_return", "cagr", "ann_return", "ann_vol", "sharpe", "sortino", "max_drawdown",
        "calmar", "var_95", "var_95_gaussian", "var_95_cf", "cvar_95",
        "beta", "alpha", "tracking_error", "information_ratio", "turnover", "cost_drag",
    ]  # fmt: skip
    assert all(type(v) is float for v in out.values())
    assert out["sharpe"] == M.sharpe(r, 0.0001)
    assert out["var_95"] == M.var_historical(r, 0.95)
    assert out["turnover"] == 2.5
    assert json.loads(json.dumps(out)) == out
    short = M.summary(r)
    assert "beta" not in short and "turnover" not in short and len(short) == 12


@pytest.mark.parametrize(
    "func",
    [M.total_return, M.sharpe, M.max_drawdown, M.var_historical, M.cvar_historical, M.summary],
)
def test_bad_input_raises_data_error(func: object) -> None:
    for bad in ([0.01], [], [0.01, float("nan"), 0.02], [0.01, float("inf")]):
        with pytest.raises(DataError) as exc:
            func(bad)  # type: ignore[operator]
        assert "\n" not in str(exc.value)


def test_mismatched_inputs() -> None:
    with pytest.raises(DataError):
        M.beta([0.01, 0.02, 0.03], [0.01, 0.02])
    with pytest.raises(DataError):
        M.sharpe([0.01, 0.02, 0.03], rf=[0.0, 0.0])
    with pytest.raises(ValueError):
        M.var_historical(R, 1.0)
