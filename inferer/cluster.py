"""Agglomerative clustering of asset embeddings.

The rows of the embedding matrix are L2-normalised (so clusters follow the
direction of an embedding, not its length), one hierarchical tree is built
(:func:`inferer.linkage.linkage`, SciPy's ``linkage`` to the last bit, without
its import) and cut at one or more numbers of clusters
(:func:`inferer.linkage.maxclust`, SciPy's ``fcluster``). Cutting a single tree
is both fast and consistent: the clusters are exactly those a dendrogram of
:attr:`Clustering.linkage` shows, and on data without ties they equal
scikit-learn's ``AgglomerativeClustering`` with the same linkage.

Large universes: the tree costs O(n^2) time and memory (10,000 assets: 5.4 s
and 800 MB here), so above ``tree_sample`` assets it is built on a seeded
sample of that many, and every other asset joins the cluster of its nearest
sampled neighbour. Above ``silhouette_sample`` assets, silhouettes are scored
on a seeded sample of that many. Both sizes are reported in
:class:`Clustering`; at or below them the result is exact.

Example
-------
>>> import numpy as np
>>> from inferer.cluster import cluster_embeddings
>>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> result = cluster_embeddings(emb, 2, linkage="ward", min_clusters=2, max_clusters=3)
>>> result.labels.tolist(), result.n_clusters
([0, 0, 1, 1], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from inferer.linkage import linkage as build_tree
from inferer.linkage import maxclust, pdist, square
from shared.choices import MIN_CLUSTERS, Linkage
from shared.config import InferenceSettings
from shared.errors import DataError

__all__ = ["LINKAGES", "Clustering", "cluster_embeddings", "unit_rows"]

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
    #: Rows whose leaves the tree holds, in leaf-index order (all rows unless sampled).
    tree_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    #: Number of assets the silhouettes were scored on.
    silhouette_assets: int = 0

    @property
    def sampled(self) -> bool:
        """Whether the tree was built on a sample of the assets."""
        return self.tree_rows.size < self.labels.size


#: Assets compared at once when joining unsampled assets to their nearest neighbour.
_BLOCK = 2048


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
    return _relabel_by_first_appearance(maxclust(tree, k))


def _best_cut(
    tree: np.ndarray,
    distances: np.ndarray,
    scored: np.ndarray,
    min_clusters: int,
    max_clusters: int,
) -> tuple[np.ndarray | None, dict[int, float]]:
    """The cut with the best silhouette in the range (smallest k on ties), and every score.

    ``distances`` are between the tree's rows ``scored``; the cut's range is
    bounded by the tree's size.
    """
    n = tree.shape[0] + 1
    upper = min(max_clusters, n - 1)
    lower = max(MIN_CLUSTERS, min(min_clusters, upper))
    best_labels: np.ndarray | None = None
    best_score = -np.inf
    scores: dict[int, float] = {}
    for k in range(lower, upper + 1):
        labels_k = _cut(tree, k)
        score = silhouette(distances, _relabel_by_first_appearance(labels_k[scored]))
        if score is None:
            continue
        scores[k] = score
        if score > best_score:
            best_score, best_labels = score, labels_k
    return best_labels, scores


def _sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _nearest(points: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``references`` for each row of ``points`` (Euclidean)."""
    ref_sq = np.einsum("ij,ij->i", references, references)
    out = np.empty(points.shape[0], dtype=np.int64)
    for i in range(0, points.shape[0], _BLOCK):
        block = points[i : i + _BLOCK]
        # |a - b|^2 up to the |a|^2 term, which does not change the argmin.
        out[i : i + _BLOCK] = np.argmin(ref_sq - 2.0 * block @ references.T, axis=1)
    return out


def _spread(labels: np.ndarray, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Labels of every row: sampled rows keep theirs, others take their nearest sampled row's."""
    if rows.size == x.shape[0]:
        return labels
    full = np.empty(x.shape[0], dtype=np.int64)
    full[rows] = labels
    others = np.setdiff1d(np.arange(x.shape[0]), rows, assume_unique=True)
    full[others] = labels[_nearest(x[others], x[rows])]
    return _relabel_by_first_appearance(full)


def _silhouette_distances(
    x: np.ndarray, condensed: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (of ``x``) the silhouette is scored on, and their square distance matrix,
    taken from the tree's own distances."""
    rows = _sample_rows(x.shape[0], size, rng)
    full = square(condensed, x.shape[0])
    return rows, full if rows.size == x.shape[0] else full[np.ix_(rows, rows)]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` over its L2 norm; a row of norm 0 stays 0."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def cluster_embeddings(
    embeddings: np.ndarray,
    n_clusters: int | Literal["auto"],
    *,
    linkage: str,
    min_clusters: int,
    max_clusters: int,
    normalize: bool = True,
    tree_sample: int | None = None,
    silhouette_sample: int | None = None,
    seed: int = 0,
) -> Clustering:
    """Cluster assets by their embeddings with agglomerative clustering.

    Parameters
    ----------
    embeddings : numpy.ndarray
        Shape ``(n_assets, n_features)``, finite.
    n_clusters : int or "auto"
        Number of clusters (``>= 2``, at most the number of assets), or
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
    tree_sample, silhouette_sample : int, optional
        Most assets the tree, and the silhouettes, are computed on; above
        them a seeded sample (see the module docstring). None: all of them
        (``[inference]`` sets both).
    seed : int
        Seed of those samples.

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
    for name, size in (("tree_sample", tree_sample), ("silhouette_sample", silhouette_sample)):
        if size is not None and size <= MIN_CLUSTERS:
            raise ValueError(f"{name} must be > {MIN_CLUSTERS}, got {size}")
    x = _validate_embeddings(embeddings)
    tree_sample = x.shape[0] if tree_sample is None else tree_sample
    silhouette_sample = x.shape[0] if silhouette_sample is None else silhouette_sample
    if normalize:
        x = unit_rows(x)
    rng = np.random.default_rng(seed)
    rows = _sample_rows(x.shape[0], tree_sample, rng)
    tree_x = x[rows]
    # One condensed distance matrix serves the tree and, when not sampled, every silhouette.
    condensed = pdist(tree_x)
    tree = build_tree(condensed, linkage)
    scored, distances = _silhouette_distances(tree_x, condensed, silhouette_sample, rng)
    scores: dict[int, float] = {}
    if requested is None:
        labels, scores = _best_cut(tree, distances, scored, min_clusters, max_clusters)
        if labels is None:
            # Nothing could be scored (2 assets, or all embeddings identical):
            # one cluster per distinct embedding keeps different assets apart
            # without splitting identical ones.
            labels = _cut(tree, int(np.unique(tree_x, axis=0).shape[0]))
    else:
        if requested > x.shape[0]:
            raise DataError(
                f"[inference] n_clusters = {requested} but only {x.shape[0]} assets can be "
                "clustered: lower n_clusters or use 'auto'"
            )
        labels = _cut(tree, min(requested, tree_x.shape[0]))
    return Clustering(
        labels=_spread(labels, rows, x),
        n_clusters=int(labels.max()) + 1,
        linkage=tree,
        silhouette=silhouette(distances, _relabel_by_first_appearance(labels[scored])),
        scores=scores,
        tree_rows=rows,
        silhouette_assets=int(scored.size),
    )


def clustering_params(cfg: InferenceSettings) -> dict[str, Any]:
    """The keyword arguments of :func:`cluster_embeddings` that ``[inference]`` sets.

    The one list of what a clustering depends on besides the embeddings: the
    pipeline clusters with it and keys its cache by it, and the sweep groups
    the jobs that share clusterings by it.
    """
    return {
        "n_clusters": cfg.n_clusters,
        "linkage": cfg.linkage,
        "min_clusters": cfg.min_clusters,
        "max_clusters": cfg.max_clusters,
        "tree_sample": cfg.tree_sample,
        "silhouette_sample": cfg.silhouette_sample,
    }


def cluster_with(embeddings: np.ndarray, cfg: InferenceSettings) -> Clustering:
    """:func:`cluster_embeddings` with the settings of ``[inference]``."""
    return cluster_embeddings(embeddings, **clustering_params(cfg))
