"""Tests for inferer.cluster: scipy tree cuts, sklearn parity, auto k, edge cases."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score

from inferer.cluster import (
    LINKAGES,
    Clustering,
    cluster_embeddings,
    cluster_with,
    clustering_params,
)
from shared.config import InferenceSettings
from shared.errors import DataError

#: The settings' own clustering defaults, for the calls that do not set them.
_DEFAULTS = {
    k: v
    for k, v in clustering_params(InferenceSettings()).items()
    if k in ("linkage", "min_clusters", "max_clusters")
}


def cluster(x: np.ndarray, *args: object, **kwargs: object) -> Clustering:
    return cluster_embeddings(x, *args, **{**_DEFAULTS, **kwargs})  # type: ignore[arg-type]


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.fixture(scope="module")
def panel_embeddings(shared_panel_path: Path) -> np.ndarray:
    """Real stand-in embeddings: the last 64 daily returns of each instrument."""
    prices = pd.read_csv(shared_panel_path, index_col=0)
    returns = prices.pct_change(fill_method=None).iloc[-64:]
    returns = returns.loc[:, returns.notna().all()]
    return returns.to_numpy().T


@pytest.fixture(scope="module")
def sp500_embeddings() -> np.ndarray:
    from skfolio.datasets import load_sp500_dataset

    returns = load_sp500_dataset().iloc[-253:].pct_change().iloc[1:]
    return returns.to_numpy().T


def _blobs(rng: np.random.Generator, k: int, per: int, dim: int = 16) -> np.ndarray:
    centres = np.eye(dim)[:k] * 10
    return np.vstack([c + rng.normal(0, 0.3, (per, dim)) for c in centres])


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("k", [2, 5, 12])
def test_cut_equals_sklearn_on_real_data(panel_embeddings, linkage, k):
    result = cluster(panel_embeddings, k, linkage=linkage)
    expected = AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(
        _normalised(panel_embeddings)
    )
    assert result.n_clusters == k
    assert _same_partition(result.labels, expected)


@pytest.mark.parametrize("linkage", LINKAGES)
def test_cut_equals_sklearn_on_sp500(sp500_embeddings, linkage):
    result = cluster(sp500_embeddings, 6, linkage=linkage)
    expected = AgglomerativeClustering(n_clusters=6, linkage=linkage).fit_predict(
        _normalised(sp500_embeddings)
    )
    assert _same_partition(result.labels, expected)


def test_result_shape_and_dendrogram_consistency(panel_embeddings):
    result = cluster(panel_embeddings, 7)
    n = panel_embeddings.shape[0]
    assert isinstance(result, Clustering)
    assert result.labels.shape == (n,)
    assert np.issubdtype(result.labels.dtype, np.integer)
    assert result.linkage.shape == (n - 1, 4)
    assert set(result.labels.tolist()) == set(range(7))
    assert _same_partition(result.labels, fcluster(result.linkage, 7, criterion="maxclust"))
    assert result.scores == {}
    assert result.silhouette == pytest.approx(
        silhouette_score(_normalised(panel_embeddings), result.labels)
    )


def test_labels_numbered_by_first_appearance():
    rng = np.random.default_rng(1)
    x = _blobs(rng, 4, 5)
    order = rng.permutation(len(x))
    labels = cluster(x[order], 4).labels
    first_seen = [labels.tolist().index(c) for c in range(4)]
    assert labels[0] == 0
    assert first_seen == sorted(first_seen)


def test_auto_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    x = _blobs(rng, 6, 8)
    truth = np.repeat(np.arange(6), 8)
    result = cluster(x, "auto", min_clusters=2, max_clusters=12)
    assert result.n_clusters == 6
    assert _same_partition(result.labels, truth)
    assert set(result.scores) == set(range(2, 13))
    assert result.silhouette == max(result.scores.values()) == result.scores[6]


def test_auto_scores_are_sklearn_silhouettes(panel_embeddings):
    result = cluster(panel_embeddings, "auto", linkage="average", max_clusters=8)
    assert sorted(result.scores) == list(range(4, 9))
    assert result.silhouette == max(result.scores.values())
    for k, score in result.scores.items():
        labels = cluster(panel_embeddings, k, linkage="average").labels
        assert score == pytest.approx(silhouette_score(_normalised(panel_embeddings), labels))


def test_normalisation_makes_row_scale_irrelevant():
    rng = np.random.default_rng(2)
    x = _blobs(rng, 3, 6)
    scaled = x * rng.uniform(0.1, 50, size=(len(x), 1))
    assert np.array_equal(cluster(x, 3).labels, cluster(scaled, 3).labels)
    raw = cluster(scaled, 3, normalize=False)
    assert raw.labels.shape == (len(x),)


def test_two_assets():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    for k in ("auto", 2):
        result = cluster(x, k)
        assert result.labels.tolist() == [0, 1]
        assert result.silhouette is None
    # More clusters than assets cannot hold: said, not quietly capped.
    with pytest.raises(DataError, match="n_clusters = 5 but only 2 assets can be clustered"):
        cluster(x, 5)
    with pytest.raises(ValueError, match="n_clusters must be >= 2"):
        cluster(x, 1)  # as the config refuses it: one cluster selects nothing


def test_three_assets_auto_clips_range_below_min_clusters():
    x = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
    result = cluster(x, "auto", min_clusters=4)
    assert list(result.scores) == [2]
    assert result.labels.tolist() == [0, 0, 1]


def test_fewer_distinct_points_than_clusters():
    x = np.vstack([np.ones((4, 3)), np.eye(3)])
    result = cluster(x, 6)
    assert result.n_clusters == 4
    assert result.labels.tolist() == [0, 0, 0, 0, 1, 2, 3]

    same = cluster(np.ones((5, 3)), "auto")
    assert same.labels.tolist() == [0] * 5
    assert same.n_clusters == 1
    assert same.silhouette is None
    assert same.scores == {}


def test_zero_row_is_allowed():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    result = cluster(x, 2)
    assert result.n_clusters == 2


@pytest.mark.parametrize(
    ("embeddings", "match"),
    [
        (np.ones(5), "2-D"),
        (np.ones((1, 3)), "at least 2"),
        (np.ones((3, 0)), "no features"),
        (np.array([[1.0, np.nan], [1.0, 2.0], [0.0, 1.0]]), "NaN or infinite.*row.*: 0"),
        (np.array([[1.0, 2.0], [1.0, np.inf], [0.0, 1.0]]), "NaN or infinite.*: 1"),
    ],
)
def test_bad_embeddings_raise_data_error(embeddings, match):
    with pytest.raises(DataError, match=match):
        cluster(embeddings, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": "many"}, "n_clusters"),
        ({"n_clusters": True}, "n_clusters"),
        ({"n_clusters": 2.5}, "n_clusters"),
        ({"n_clusters": 2, "linkage": "median"}, "linkage"),
        ({"n_clusters": "auto", "min_clusters": 1}, "min_clusters"),
        ({"n_clusters": "auto", "min_clusters": 6, "max_clusters": 5}, "max_clusters"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster(np.eye(4), **kwargs)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 40), k=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_silhouette_equals_sklearn(n: int, k: int, seed: int) -> None:
    from scipy.spatial.distance import cdist
    from sklearn.metrics import silhouette_score

    from inferer.cluster import silhouette

    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 3))
    labels = rng.integers(0, min(k, n - 1), size=n)
    labels = np.unique(labels, return_inverse=True)[1]  # consecutive 0..k'-1
    distances = cdist(points, points)
    got = silhouette(distances, labels)
    if not 2 <= labels.max() + 1 <= n - 1:
        assert got is None
    else:
        assert got == pytest.approx(
            silhouette_score(distances, labels, metric="precomputed"), abs=1e-12
        )


def test_sizes_at_or_above_the_universe_are_exact(panel_embeddings) -> None:
    n = len(panel_embeddings)
    exact = cluster(panel_embeddings, "auto", max_clusters=12)
    same = cluster(panel_embeddings, "auto", max_clusters=12, tree_sample=n, silhouette_sample=n)
    assert np.array_equal(exact.labels, same.labels) and exact.scores == same.scores
    np.testing.assert_array_equal(exact.linkage, same.linkage)
    assert not same.sampled and same.tree_rows.size == n and same.silhouette_assets == n


def test_sampled_tree_clusters_its_sample_and_spreads_by_nearest_neighbour() -> None:
    rng = np.random.default_rng(0)
    x = _blobs(rng, 6, 150)
    result = cluster(x, 6, tree_sample=120, silhouette_sample=80, seed=3)
    assert result.sampled and result.tree_rows.size == 120 and result.silhouette_assets == 80
    assert result.linkage.shape == (119, 4) and result.labels.shape == (900,)
    # The sampled rows are clustered exactly as a tree over them alone would.
    alone = cluster(x[result.tree_rows], 6)
    assert _same_partition(result.labels[result.tree_rows], alone.labels)
    # Every other row takes the label of its nearest sampled row.
    xs = _normalised(x)
    others = np.setdiff1d(np.arange(900), result.tree_rows)
    d = ((xs[others, None, :] - xs[None, result.tree_rows, :]) ** 2).sum(axis=2)
    nearest = result.tree_rows[np.argmin(d, axis=1)]
    assert np.array_equal(result.labels[others], result.labels[nearest])
    # Well-separated blobs are recovered whole, and the sample is seeded.
    truth = np.repeat(np.arange(6), 150)
    assert _same_partition(result.labels, truth)
    again = cluster(x, 6, tree_sample=120, silhouette_sample=80, seed=3)
    assert np.array_equal(result.tree_rows, again.tree_rows)


def test_sampled_silhouette_tracks_the_full_one() -> None:
    rng = np.random.default_rng(1)
    x = _blobs(rng, 5, 200) + rng.normal(0, 2.0, (1000, 16))
    full = cluster(x, "auto", min_clusters=2, max_clusters=8)
    sampled = cluster(x, "auto", min_clusters=2, max_clusters=8, silhouette_sample=300)
    assert sampled.n_clusters == full.n_clusters
    for k, score in full.scores.items():
        assert abs(sampled.scores[k] - score) < 0.05


@pytest.mark.parametrize("key", ["tree_sample", "silhouette_sample"])
def test_sample_sizes_must_leave_room_for_two_clusters(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        cluster(np.eye(5), 2, **{key: 2})


def test_the_clustering_key_names_every_setting_the_clustering_reads() -> None:
    # A keyword of cluster_embeddings that [inference] sets and clustering_params
    # leaves out would cluster differently under one cache key (and one sweep wave).
    settable = set(InferenceSettings.model_fields)
    params = set(inspect.signature(cluster_embeddings).parameters) - {"embeddings"}
    assert set(clustering_params(InferenceSettings())) == params & settable
    # And every one of them moves the key.
    cfg = InferenceSettings()
    base = clustering_params(cfg)
    changed = {"n_clusters": 5, "linkage": "average", "min_clusters": 3, "max_clusters": 9,
               "tree_sample": 500, "silhouette_sample": 400}  # fmt: skip
    assert set(changed) == set(base)
    for name, value in changed.items():
        other = clustering_params(cfg.model_copy(update={name: value}))
        assert other[name] == value and other != base


def test_cluster_with_is_cluster_embeddings_under_the_settings(
    panel_embeddings: np.ndarray,
) -> None:
    cfg = InferenceSettings(max_clusters=8)
    a, b = cluster_with(panel_embeddings, cfg), cluster(panel_embeddings, "auto", max_clusters=8)
    assert np.array_equal(a.labels, b.labels) and a.silhouette == b.silhouette
