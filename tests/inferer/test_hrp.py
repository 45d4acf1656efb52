"""The NumPy HRP against PyPortfolioOpt's HRPOpt, the reference implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypfopt import HRPOpt

from inferer.hrp import hrp
from shared.errors import EstimationError
from shared.prices.panel import read_panel
from tests.cleaning import clean


def _reference(r: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = HRPOpt(pd.DataFrame(r)).optimize()
    return np.array([raw[j] for j in range(r.shape[1])])


def test_matches_hrpopt_on_the_whole_shared_panel(shared_panel_path) -> None:
    prices = clean(read_panel(shared_panel_path)).prices.drop("date").to_numpy()[-253:]
    r = prices[1:] / prices[:-1] - 1
    r = r[:, np.isfinite(r).all(axis=0)]
    assert r.shape[1] > 300
    np.testing.assert_allclose(hrp(r), _reference(r), rtol=0, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 10_000))
def test_matches_hrpopt_on_random_correlated_returns(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = (a @ a.T + n * np.eye(n)) * 1e-5
    r = rng.multivariate_normal(np.zeros(n), cov, size=120)
    w = hrp(r)
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12
    np.testing.assert_allclose(w, _reference(r), rtol=0, atol=1e-10)


def test_two_assets_inverse_variance() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0, [0.01, 0.03], size=(500, 2))
    var = r.var(axis=0, ddof=1)
    np.testing.assert_allclose(hrp(r), (1 / var) / (1 / var).sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "bad", [np.ones((1, 3)), np.array([[0.1, np.nan], [0.2, 0.1]]), np.zeros((10, 2))]
)
def test_bad_input(bad: np.ndarray) -> None:
    with pytest.raises(EstimationError, match="HRP"):
        hrp(bad)
