"""Agglomerative clustering of asset embeddings.

The rows of the embedding matrix are L2-normalised (so clusters follow the
direction of an embedding, not its length), one hierarchical tree is built with
:func:`scipy.cluster.hierarchy.linkage` and cut at one or more numbers of
clusters with :func:`scipy.cluster.hierarchy.fcluster`. Cutting a single tree
is both fast and consistent: the clusters are exactly those a dendrogram of
:attr:`Clustering.linkage` shows, and on data without ties they equal
scikit-learn's ``AgglomerativeClustering`` with the same linkage.

Example
-------
>>> import numpy as np
>>> from inferer.cluster import cluster_embeddings
>>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> result = cluster_embeddings(emb, 2)
>>> result.labels.tolist(), result.n_clusters
([0, 0, 1, 1], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from scipy.cluster.hierarchy import fcluster
from scipy.cluster.hierarchy import linkage as scipy_linkage
from scipy.spatial.distance import pdist, squareform

from shared.choices import MIN_CLUSTERS, Linkage
from shared.errors import DataError

__all__ = ["LINKAGES", "Clustering", "cluster_embeddings"]

#: Linkage criteria accepted by :func:`cluster_embeddings`.
LINKAGES: tuple[str, ...] = get_args(Linkage)


@dataclass(frozen=True)
class Clustering:
    """Result of :func:`cluster_embeddings`.

    Attributes
    ----------
    labels : numpy.ndarray
        Shape ``(n,)``, int, cluster of each asset in ``0 .. n_clusters - 1``.
        Clusters are numbered by first appearance: the first asset is in
        cluster 0, the first asset not in cluster 0 is in cluster 1, and so on,
        so the numbering depends only on the partition and the asset order.
    n_clusters : int
        Number of distinct labels (may be below the requested number when
        there are fewer distinct embeddings than clusters).
    linkage : numpy.ndarray
        SciPy linkage matrix, shape ``(n - 1, 4)``, for a dendrogram.
    silhouette : float or None
        Silhouette score of ``labels``; ``None`` when it is undefined (fewer
        than 2 clusters, or as many clusters as assets).
    scores : dict of int to float
        With ``n_clusters="auto"``, the silhouette of each number of clusters
        tried (those where it is defined); empty otherwise.
    """

    labels: np.ndarray
    n_clusters: int
    linkage: np.ndarray
    silhouette: float | None
    scores: dict[int, float] = field(default_factory=dict)


def _validate_embeddings(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=float)
    if x.ndim != 2:
        raise DataError(f"embeddings must be 2-D (assets x features), got shape {x.shape}")
    if x.shape[0] < 2:
        raise DataError(f"clustering needs at least 2 assets, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise DataError("embeddings have no features (0 columns)")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
        raise DataError(f"embeddings contain NaN or infinite values in {rows.size} row(s): {shown}")
    return x


def _relabel_by_first_appearance(raw: np.ndarray) -> np.ndarray:
    _, first = np.unique(raw, return_index=True)
    order = np.argsort(first)  # cluster ids sorted by where they first appear
    mapping = np.empty(order.size, dtype=np.int64)
    mapping[order] = np.arange(order.size)
    _, inverse = np.unique(raw, return_inverse=True)
    return mapping[inverse.ravel()]


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette coefficient from a precomputed distance matrix.

    ``s(i) = (b - a) / max(a, b)`` with ``a`` the mean distance from ``i`` to
    the other members of its cluster and ``b`` the smallest mean distance to
    another cluster; 0 for members of singleton clusters. The definition of
    ``sklearn.metrics.silhouette_score(metric="precomputed")``, which the tests
    hold it to: written out because importing scikit-learn costs the cron
    process about a second, a third of its start-up budget.

    Returns None where the score is undefined (fewer than 2 clusters, or as
    many clusters as points).
    """
    k = int(labels.max()) + 1
    if not 2 <= k <= labels.size - 1:
        return None
    onehot = np.zeros((labels.size, k))
    onehot[np.arange(labels.size), labels] = 1.0
    sizes = onehot.sum(axis=0)
    sums = distances @ onehot  # (n, k): total distance from each point to each cluster
    rows = np.arange(labels.size)
    own = sizes[labels]
    a = np.divide(sums[rows, labels], own - 1, out=np.zeros(labels.size), where=own > 1)
    mean_other = sums / sizes
    mean_other[rows, labels] = np.inf
    b = mean_other.min(axis=1)
    denom = np.maximum(a, b)
    s = np.divide(b - a, denom, out=np.zeros(labels.size), where=(own > 1) & (denom > 0))
    return float(s.mean())


def _requested_clusters(
    n_clusters: int | str, linkage: str, min_clusters: int, max_clusters: int
) -> int | None:
    """Check the parameters; the fixed number of clusters, or None for "auto"."""
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES}, got {linkage!r}")
    if min_clusters < MIN_CLUSTERS:
        raise ValueError(f"min_clusters must be >= {MIN_CLUSTERS}, got {min_clusters}")
    if max_clusters < min_clusters:
        raise ValueError(f"max_clusters ({max_clusters}) must be >= min_clusters ({min_clusters})")
    if n_clusters == "auto":
        return None
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise ValueError(f"n_clusters must be an int or 'auto', got {n_clusters!r}")
    if n_clusters < MIN_CLUSTERS:
        raise ValueError(f"n_clusters must be >= {MIN_CLUSTERS}, got {n_clusters}")
    return int(n_clusters)


def _cut(tree: np.ndarray, k: int) -> np.ndarray:
    return _relabel_by_first_appearance(fcluster(tree, t=k, criterion="maxclust"))


def _best_cut(
    tree: np.ndarray, distances: np.ndarray, min_clusters: int, max_clusters: int
) -> tuple[np.ndarray | None, dict[int, float]]:
    """The cut with the best silhouette in the range (smallest k on ties), and every score."""
    n = distances.shape[0]
    upper = min(max_clusters, n - 1)
    lower = max(MIN_CLUSTERS, min(min_clusters, upper))
    best_labels: np.ndarray | None = None
    best_score = -np.inf
    scores: dict[int, float] = {}
    for k in range(lower, upper + 1):
        labels_k = _cut(tree, k)
        score = silhouette(distances, labels_k)
        if score is None:
            continue
        scores[k] = score
        if score > best_score:
            best_score, best_labels = score, labels_k
    return best_labels, scores


def cluster_embeddings(
    embeddings: np.ndarray,
    n_clusters: int | Literal["auto"],
    *,
    linkage: str = "ward",
    min_clusters: int = 4,
    max_clusters: int = 20,
    normalize: bool = True,
) -> Clustering:
    """Cluster assets by their embeddings with agglomerative clustering.

    Parameters
    ----------
    embeddings : numpy.ndarray
        Shape ``(n_assets, n_features)``, finite.
    n_clusters : int or "auto"
        Number of clusters (``>= 2``; capped at the number of assets), or
        ``"auto"`` for the number in ``[min_clusters, max_clusters]`` with the
        best silhouette score (the smallest such number on ties).
    linkage : {"ward", "average", "complete", "single"}
        Linkage criterion, with Euclidean distances.
    min_clusters, max_clusters : int
        Range searched by ``"auto"``. The range is clipped to
        ``[2, n_assets - 1]``, where the silhouette is defined. When nothing
        can be scored (2 assets, or all embeddings identical) there is one
        cluster per distinct embedding.
    normalize : bool
        L2-normalise each row first (rows of norm 0 are left at 0).

    Returns
    -------
    Clustering
        Labels numbered by first appearance, the linkage matrix and scores.

    Raises
    ------
    DataError
        ``embeddings`` is not 2-D, has fewer than 2 rows, or non-finite values.
    ValueError
        A parameter is invalid.
    """
    requested = _requested_clusters(n_clusters, linkage, min_clusters, max_clusters)
    x = _validate_embeddings(embeddings)
    n = x.shape[0]
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)

    tree = scipy_linkage(x, method=linkage, metric="euclidean")
    # One distance matrix serves every silhouette evaluation.
    distances = squareform(pdist(x, metric="euclidean"))
    scores: dict[int, float] = {}
    if requested is None:
        labels, scores = _best_cut(tree, distances, min_clusters, max_clusters)
        if labels is None:
            # Nothing could be scored (2 assets, or all embeddings identical):
            # one cluster per distinct embedding keeps different assets apart
            # without splitting identical ones.
            labels = _cut(tree, int(np.unique(x, axis=0).shape[0]))
    else:
        labels = _cut(tree, min(requested, n))

    return Clustering(
        labels=labels,
        n_clusters=int(labels.max()) + 1,
        linkage=tree,
        silhouette=silhouette(distances, labels),
        scores=scores,
    )
