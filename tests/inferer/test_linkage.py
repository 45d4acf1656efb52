"""inferer.linkage: SciPy's trees, cuts and leaf orders, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster, leaves_list
from scipy.cluster.hierarchy import linkage as scipy_linkage
from scipy.spatial.distance import pdist as scipy_pdist
from scipy.spatial.distance import squareform

import inferer.linkage as module
from inferer.linkage import METHODS, leaves, linkage, maxclust, pdist, square


@pytest.fixture(autouse=True)
def _numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # SciPy is imported here as the reference: without this, its routines would serve.
    monkeypatch.setattr(module, "USE_LOADED_SCIPY", False)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _data(seed: int, n: int, d: int, ties: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if ties:  # repeated rows and a coarse grid: equal distances everywhere
        x = np.round(x, 0)
        x[n // 2 :] = x[: n - n // 2]
    return x


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(2, 40),
    st.integers(1, 70),
    st.booleans(),
    st.sampled_from(METHODS),
)
def test_the_tree_is_scipys_bit_for_bit(seed: int, n: int, d: int, ties: bool, method: str) -> None:
    x = _data(seed, n, d, ties)
    condensed = pdist(x)
    assert np.array_equal(condensed, scipy_pdist(x, "euclidean"))
    z = linkage(condensed, method)
    expected = scipy_linkage(condensed, method=method)
    assert np.array_equal(z, expected)
    assert np.array_equal(leaves(z), leaves_list(expected))
    for k in range(1, n + 1):
        assert _same_partition(maxclust(z, k), fcluster(expected, t=k, criterion="maxclust"))


def test_the_tree_of_a_real_universe_is_scipys(shared_panel_path) -> None:  # type: ignore[no-untyped-def]
    # Stand-in embeddings of the 338-asset panel: each asset's last 64 daily returns.
    from shared.prices.panel import read_panel

    prices = read_panel(shared_panel_path).drop("date").to_numpy()[-65:]
    r = (prices[1:] / prices[:-1] - 1).T
    r = r[np.isfinite(r).all(axis=1)]
    x = r / np.linalg.norm(r, axis=1, keepdims=True)
    condensed = pdist(x)
    assert np.array_equal(condensed, scipy_pdist(x, "euclidean"))
    for method in METHODS:
        z = linkage(condensed, method)
        assert np.array_equal(z, scipy_linkage(condensed, method=method)), method
        for k in (2, 7, 20):
            labels = fcluster(z, t=k, criterion="maxclust")
            assert _same_partition(maxclust(z, k), labels)


def test_square_is_squareform() -> None:
    c = pdist(np.random.default_rng(1).normal(size=(7, 3)))
    assert np.array_equal(square(c, 7), squareform(c))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="method"):
        linkage(np.ones(3), "centroid")
    with pytest.raises(ValueError, match="condensed"):
        linkage(np.ones(4), "ward")
    with pytest.raises(ValueError, match="finite"):
        linkage(np.array([1.0, np.nan, 2.0]), "ward")


def test_above_the_threshold_scipys_routines_give_the_same_floats(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    x = np.random.default_rng(3).normal(size=(module.SCIPY_ABOVE + 50, 8))
    compiled = linkage(pdist(x), "ward")
    monkeypatch.setattr(module, "SCIPY_ABOVE", 10**9)
    assert np.array_equal(linkage(pdist(x), "ward"), compiled)


def test_loaded_scipy_serves_any_size(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    x = np.random.default_rng(4).normal(size=(30, 5))
    ours = linkage(pdist(x), "average")
    monkeypatch.setattr(module, "USE_LOADED_SCIPY", True)  # scipy.cluster.hierarchy is loaded
    assert module._compiled(30) and np.array_equal(linkage(pdist(x), "average"), ours)
