"""Tests for inferer.allocate: reference parity, hand examples, properties, fallbacks."""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypfopt import EfficientFrontier
from pypfopt.exceptions import OptimizationError

from inferer.allocate import (
    FALLBACKS,
    METHODS,
    MethodResult,
    cap_weights,
    equal_weights,
    hrp_weights,
    inverse_vol_weights,
    validate_weights,
)
from inferer.allocate import (
    allocate as _allocate,
)
from inferer.allocate import (
    max_sharpe_weights as _max_sharpe_weights,
)
from inferer.allocate import (
    min_vol_weights as _min_vol_weights,
)
from shared.config import InferenceSettings
from shared.errors import DataError, EstimationError

_CFG = InferenceSettings()
#: The settings' defaults (shared/config.py) for the calls that leave them out.
min_vol_weights = partial(_min_vol_weights, covariance=_CFG.covariance)
max_sharpe_weights = partial(_max_sharpe_weights, covariance=_CFG.covariance)
allocate = partial(_allocate, fallback=_CFG.fallback, covariance=_CFG.covariance)


def _check_valid(w: np.ndarray, n: int, max_weight: float = 1.0) -> None:
    assert w.shape == (n,)
    assert np.isfinite(w).all()
    assert (w >= 0).all()
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    if max_weight * n >= 1:
        assert w.max() <= max_weight + 1e-9


# --- HRP -----------------------------------------------------------------------------------


def test_hrp_equals_skfolio_single_linkage_without_leaf_reordering(sp500_returns):
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalRiskParity
    from skfolio.seriation import HierarchicalSeriation

    # skfolio >= 1.12 takes the tree through a seriation estimator; its default
    # optimal leaf ordering changes the bisection order, PyPortfolioOpt has none.
    seriation = HierarchicalSeriation(
        hierarchical_clustering_estimator=HierarchicalClustering(
            linkage_method=LinkageMethod.SINGLE
        ),
        optimal_ordering=False,
    )
    reference = HierarchicalRiskParity(
        risk_measure=RiskMeasure.VARIANCE, seriation_estimator=seriation
    ).fit(sp500_returns)
    ours = allocate(sp500_returns.to_numpy(), "hrp")
    assert ours.method_used == "hrp"
    np.testing.assert_allclose(ours.weights, reference.weights_, rtol=0, atol=1e-10)


def test_hrp_two_assets_is_inverse_variance():
    rng = np.random.default_rng(0)
    r = rng.normal(0, [0.01, 0.03], size=(300, 2))
    var = r.var(axis=0, ddof=1)
    expected = (1 / var) / (1 / var).sum()
    np.testing.assert_allclose(hrp_weights(r), expected, rtol=1e-12)


def test_hrp_drops_rows_with_missing_values(sp500_returns):
    r = sp500_returns.to_numpy()[:, :6].copy()
    holed = r.copy()
    holed[[3, 50, 51], [0, 2, 5]] = np.nan
    keep = np.ones(len(r), dtype=bool)
    keep[[3, 50, 51]] = False
    np.testing.assert_allclose(hrp_weights(holed), hrp_weights(r[keep]), rtol=1e-14)


# --- inverse vol, equal ---------------------------------------------------------------------


def test_inverse_vol_hand_computed():
    base = np.tile([0.01, -0.01], 10)
    r = np.column_stack([base, 2 * base, 4 * base])  # vols in ratio 1 : 2 : 4
    np.testing.assert_allclose(inverse_vol_weights(r), [4 / 7, 2 / 7, 1 / 7], rtol=1e-12)


def test_inverse_vol_uses_each_assets_own_history():
    base = np.tile([0.01, -0.01], 10)
    r = np.column_stack([base, 2 * base])
    r[:6, 0] = np.nan
    # Zero-mean +-a series of length m: std (ddof 1) = a * sqrt(m / (m - 1)).
    inv = 1 / np.array([0.01 * math.sqrt(14 / 13), 0.02 * math.sqrt(20 / 19)])
    np.testing.assert_allclose(inverse_vol_weights(r), inv / inv.sum(), rtol=1e-12)


def test_inverse_vol_rejects_constant_asset():
    r = np.column_stack([np.tile([0.01, -0.01], 5), np.full(10, 0.001)])
    with pytest.raises(EstimationError, match="zero or undefined volatility"):
        inverse_vol_weights(r)


def test_equal_weights():
    np.testing.assert_array_equal(equal_weights(4), [0.25] * 4)
    with pytest.raises(ValueError, match="n must be"):
        equal_weights(0)


# --- cap and validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("w", "cap", "expected"),
    [
        ([0.5, 0.3, 0.2], 0.4, [0.4, 0.36, 0.24]),
        ([0.7, 0.2, 0.1], 0.35, [0.35, 0.35, 0.3]),  # the first redistribution overshoots
        ([0.7, 0.2, 0.1], 1.0, [0.7, 0.2, 0.1]),
        ([0.6, 0.3, 0.1], 0.6, [0.6, 0.3, 0.1]),  # at the cap is fine
        ([1.0, 0.0, 0.0], 0.5, [0.5, 0.25, 0.25]),  # nothing to scale: spread equally
        ([0.9, 0.05, 0.05], 0.25, [1 / 3, 1 / 3, 1 / 3]),  # infeasible -> equal
        ([0.9, 0.05, 0.05, 0.0], 0.25, [0.25, 0.25, 0.25, 0.25]),  # exactly feasible
        ([7.0, 2.0, 1.0], 0.35, [0.35, 0.35, 0.3]),  # unnormalised input
    ],
)
def test_cap_weights_examples(w, cap, expected):
    got = cap_weights(np.array(w), cap)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert got.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("w", "cap", "match"),
    [
        ([0.5, 0.5], 0.0, "max_weight"),
        ([0.5, 0.5], 1.5, "max_weight"),
        ([0.5, np.nan], 0.6, "finite"),
        ([1.5, -0.5], 0.6, "non-negative"),
        ([0.0, 0.0], 0.6, "positive sum"),
        ([], 0.6, "non-empty"),
    ],
)
def test_cap_weights_rejects_bad_input(w, cap, match):
    with pytest.raises(ValueError, match=match):
        cap_weights(np.array(w, dtype=float), cap)


def test_validate_weights_tidies_rounding():
    got = validate_weights(np.array([0.5 + 5e-11, 0.5, -1e-13]))
    assert (got >= 0).all()
    assert got.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("w", "match"),
    [
        ([0.5, 0.6], "sum to"),
        ([1.0 + 1e-6, -1e-6], "negative"),
        ([np.nan, 1.0], "NaN"),
        ([], "non-empty"),
        ([[1.0]], "1-D"),
    ],
)
def test_validate_weights_rejects(w, match):
    bug = match in ("non-empty", "1-D")  # a caller's mistake, not the data's
    with pytest.raises(ValueError if bug else EstimationError, match=match):
        validate_weights(np.array(w, dtype=float))


# --- optimisers -----------------------------------------------------------------------------


def test_optimisers_respect_cap_and_beat_equal_weight(sp500_returns):
    r = sp500_returns.to_numpy()
    n = r.shape[1]
    ms = allocate(r, "max_sharpe", max_weight=0.15)
    mv = allocate(r, "min_vol", max_weight=0.15)
    for res in (ms, mv):
        assert res.fallback_reason is None
        _check_valid(res.weights, n, 0.15)
    assert mv.weights.max() == pytest.approx(0.15, abs=1e-6)  # the bound binds here

    # The same estimates the optimiser used, recomputed independently.
    mu = (1 + r).prod(axis=0) ** (252 / len(r)) - 1
    from sklearn.covariance import ledoit_wolf

    cov = ledoit_wolf(r)[0] * 252
    eq = equal_weights(n)

    def sharpe(w):
        return (w @ mu) / math.sqrt(w @ cov @ w)

    def vol(w):
        return math.sqrt(w @ cov @ w)

    assert sharpe(ms.weights) > sharpe(eq)
    assert sharpe(ms.weights) >= sharpe(mv.weights)
    assert vol(mv.weights) < vol(eq)
    assert vol(mv.weights) <= vol(ms.weights)


def test_optimiser_functions_direct(sp500_returns):
    r = sp500_returns.to_numpy()[:, :5]
    _check_valid(max_sharpe_weights(r, max_weight=0.5), 5, 0.5)
    _check_valid(min_vol_weights(r), 5)
    with pytest.raises(ValueError, match="no portfolio fits"):
        min_vol_weights(r, max_weight=0.1)
    with pytest.raises(ValueError, match="risk_free_rate"):
        max_sharpe_weights(r, risk_free_rate=float("nan"))


def test_max_sharpe_impossible_falls_back(sp500_returns):
    r = -np.abs(sp500_returns.to_numpy()[:, :5])  # every asset loses money
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pypfopt's warnings must not leak
        res = allocate(r, "max_sharpe")
    assert res.method == "max_sharpe"
    assert res.method_used == "inverse_vol"
    assert res.fallback_reason is not None
    assert res.fallback_reason.startswith("max_sharpe failed")
    assert "risk-free" in res.fallback_reason
    np.testing.assert_allclose(res.weights, inverse_vol_weights(r))


def test_solver_failure_falls_back_to_chosen_method(sp500_returns, monkeypatch):
    def boom(self, *args, **kwargs):
        raise OptimizationError("Solver status: infeasible")

    monkeypatch.setattr(EfficientFrontier, "min_volatility", boom)
    r = sp500_returns.to_numpy()[:, :6]
    res = allocate(r, "min_vol", fallback="hrp", max_weight=0.3)
    assert (res.method, res.method_used) == ("min_vol", "hrp")
    assert "min_vol failed (OptimizationError" in (res.fallback_reason or "")
    _check_valid(res.weights, 6, 0.3)
    np.testing.assert_allclose(res.weights, cap_weights(hrp_weights(r), 0.3))


def test_failing_fallback_ends_at_equal_weights(sp500_returns, monkeypatch):
    def boom(self, *args, **kwargs):
        raise OptimizationError()

    def also_boom(*args, **kwargs):
        raise EstimationError("HRP: an asset has zero variance")

    monkeypatch.setattr(EfficientFrontier, "max_sharpe", boom)
    monkeypatch.setattr("inferer.allocate.hrp", also_boom)
    res = allocate(sp500_returns.to_numpy()[:, :4], "max_sharpe", fallback="hrp")
    assert res.method_used == "equal"
    assert res.fallback_reason is not None
    assert "max_sharpe failed (OptimizationError" in res.fallback_reason
    assert "hrp failed (HRP: an asset has zero variance)" in res.fallback_reason
    np.testing.assert_array_equal(res.weights, [0.25] * 4)


def test_a_bug_in_a_method_is_not_a_fallback(sp500_returns, monkeypatch):
    # A ValueError is a bug (docs/design.md, Errors): it must surface, not be
    # turned into "hrp failed" and an equal-weight book.
    def bug(*args, **kwargs):
        raise ValueError("index out of range")

    monkeypatch.setattr("inferer.allocate.hrp", bug)
    with pytest.raises(ValueError, match="index out of range"):
        allocate(sp500_returns.to_numpy()[:, :4], "hrp")


def test_no_asset_above_the_risk_free_rate_falls_back(sp500_returns):
    # PyPortfolioOpt says so with a ValueError: a condition of the data, not a bug.
    r = sp500_returns.to_numpy()[:, :4]
    res = allocate(r, "max_sharpe", fallback="inverse_vol", risk_free_rate=5.0)
    assert res.method_used == "inverse_vol"
    assert "max_sharpe failed (ValueError: at least one of the assets" in res.fallback_reason


def test_constant_asset_makes_covariance_methods_fall_back():
    rng = np.random.default_rng(5)
    r = np.column_stack([rng.normal(0, 0.01, 100), np.full(100, 0.0001)])
    hrp = allocate(r, "hrp", fallback="inverse_vol")
    assert hrp.method_used == "equal"  # inverse-vol cannot weigh a constant either
    assert "hrp failed" in (hrp.fallback_reason or "")


def test_too_few_complete_rows_falls_back_to_inverse_vol():
    base = np.tile([0.01, -0.02, 0.015, -0.005], 5)
    r = np.column_stack([base, 2 * base])
    r[::2, 0] = np.nan
    r[1::2, 1] = np.nan  # no day has both
    res = allocate(r, "min_vol")
    assert res.method_used == "inverse_vol"
    assert "only 0 days" in (res.fallback_reason or "")


def test_single_asset_and_infeasible_cap():
    r = np.random.default_rng(6).normal(0, 0.01, (50, 3))
    for method in METHODS:
        one = allocate(r[:, :1], method)
        assert one.weights.tolist() == [1.0]
        assert one.method_used == method
    # A cap three assets cannot meet is the user's to fix, never quietly broken.
    for method in METHODS:
        with pytest.raises(DataError, match=r"max_weight 0.2 x 3 selected assets = 0.6 < 1"):
            allocate(r, method, max_weight=0.2)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_real_data(sp500_returns, method):
    res = allocate(sp500_returns.to_numpy(), method, max_weight=0.2)
    assert isinstance(res, MethodResult)
    assert (res.method, res.method_used, res.fallback_reason) == (method, method, None)
    _check_valid(res.weights, 20, 0.2)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"method": "herc"}, ValueError, "method"),
        ({"fallback": "max_sharpe"}, ValueError, "fallback"),
        ({"max_weight": 0.0}, ValueError, "max_weight"),
        ({"max_weight": 1.01}, ValueError, "max_weight"),
        ({"periods_per_year": 0}, ValueError, "periods_per_year"),
        ({"risk_free_rate": float("inf")}, ValueError, "risk_free_rate"),
        ({"returns": np.ones(10)}, DataError, "2-D"),
        ({"returns": np.ones((10, 0))}, DataError, "no assets"),
        ({"returns": np.array([[np.inf, 0.0]] * 5)}, DataError, "infinite"),
    ],
)
def test_allocate_rejects_bad_input(kwargs, exc, match):
    args = {"returns": np.random.default_rng(7).normal(0, 0.01, (30, 2)), "method": "hrp"}
    args.update(kwargs)
    returns, method = args.pop("returns"), args.pop("method")
    with pytest.raises(exc, match=match):
        allocate(returns, method, **args)


# --- properties -----------------------------------------------------------------------------


@st.composite
def _market(draw):
    n = draw(st.integers(2, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    vols = rng.uniform(0.005, 0.03, n)
    corr_raw = a @ a.T + 0.1 * np.eye(n)  # positive definite
    d = np.sqrt(np.diag(corr_raw))
    cov = corr_raw / np.outer(d, d) * np.outer(vols, vols)
    mean = rng.normal(0.0003, 0.001, n)
    returns = rng.multivariate_normal(mean, cov, size=draw(st.integers(30, 150)))
    max_weight = draw(st.sampled_from([1.0, 0.6, 0.35, 0.2]))
    fallback = draw(st.sampled_from(FALLBACKS))
    return returns, max_weight, fallback


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_market())
def test_every_method_gives_valid_capped_weights(market):
    returns, max_weight, fallback = market
    n = returns.shape[1]
    for method in METHODS:
        if n > 1 and max_weight * n < 1:
            with pytest.raises(DataError, match="no portfolio fits the cap"):
                allocate(returns, method, max_weight=max_weight, fallback=fallback)
            continue
        res = allocate(returns, method, max_weight=max_weight, fallback=fallback)
        _check_valid(res.weights, n, max_weight)
        assert res.method == method
        assert (res.fallback_reason is None) == (res.method_used == method)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=12).filter(
        lambda w: sum(w) > 1e-6
    ),
    st.floats(0.01, 1.0),
)
def test_cap_weights_property(w, cap):
    x = np.array(w)
    got = cap_weights(x, cap)
    _check_valid(got, len(w), cap)
    if cap * len(w) >= 1:
        # Uncapped weights keep their proportions: min(cap, c * w) for one c.
        free = (got < cap - 1e-12) & (x > 0)
        ratio = got[free] / (x[free] / x.sum())
        if ratio.size >= 2:
            assert np.ptp(ratio) <= 1e-9 * ratio.max()
