"""Agglomerative clustering trees in NumPy: SciPy's algorithms, step for step.

The cron job builds one tree a day (the asset clusters) and HRP one more;
``scipy.cluster.hierarchy`` brings ``scipy.spatial`` and ``scipy.cluster.vq``
with it, about 0.4 s of the process's start-up, for work that takes a few
milliseconds at a few hundred assets. Above :data:`SCIPY_ABOVE` observations
the compiled routines earn their import, and are used, as they are wherever
SciPy's trees are already imported (the backtest's dendrogram). Otherwise these
functions do what the SciPy 1.x routines do, in the same order and with the
same floating-point operations, so their results are the same floats (the
tests hold them to SciPy on random and tied data for every method):

- :func:`pdist` is ``scipy.spatial.distance.pdist(x, "euclidean")``: each
  pair's squared differences summed dimension by dimension, then the root;
- :func:`linkage` is ``scipy.cluster.hierarchy.linkage(d, method)``: the
  nearest-neighbour chain with the Lance-Williams updates for ``ward``,
  ``average`` and ``complete``, the minimum spanning tree for ``single``,
  then the merges sorted (stably) by height and relabelled by union-find;
- :func:`maxclust` is ``fcluster(Z, k, "maxclust")`` up to the numbering of
  the clusters: the same binary search over the nodes' heights;
- :func:`leaves` is ``leaves_list(Z)``, the tree's leaves in pre-order.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

__all__ = ["METHODS", "leaves", "linkage", "maxclust", "pdist", "square"]

FloatArray = npt.NDArray[np.float64]

#: The linkage methods implemented (``shared.choices.Linkage``).
METHODS = ("single", "complete", "average", "ward")


#: Above this many observations SciPy's compiled routines are used instead: the
#: same floats (tested), and at that size their speed pays for their import.
SCIPY_ABOVE = 1000
#: Where SciPy's trees are already imported (a backtest draws its dendrogram
#: with them), they are used at any size: the same floats, ten times faster.
USE_LOADED_SCIPY = True


def _compiled(n: int) -> bool:
    """Whether SciPy's compiled routines serve ``n`` observations (the same floats either way)."""
    loaded = USE_LOADED_SCIPY and "scipy.cluster.hierarchy" in sys.modules
    return n > SCIPY_ABOVE or loaded


def pdist(x: npt.ArrayLike) -> FloatArray:
    """Condensed Euclidean distances between the rows of ``x`` (pairs ``i < j``, row-major)."""
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[0]
    if _compiled(n):
        from scipy.spatial.distance import pdist as compiled

        return compiled(a, "euclidean")
    i, j = np.triu_indices(n, k=1)
    total = np.zeros(i.size)
    for col in a.T:  # dimension by dimension, as SciPy adds each pair's squares
        d = col[i] - col[j]
        total += d * d
    return np.sqrt(total)


def square(condensed: npt.ArrayLike, n: int) -> FloatArray:
    """The symmetric ``(n, n)`` matrix of a condensed one, zeros on the diagonal."""
    out = np.zeros((n, n))
    i, j = np.triu_indices(n, k=1)
    out[i, j] = condensed
    out[j, i] = condensed
    return out


def _observations(condensed: FloatArray) -> int:
    n = round(float((1 + np.sqrt(1 + 8 * condensed.size)) / 2))
    if n * (n - 1) // 2 != condensed.size or n < 2:
        raise ValueError(f"{condensed.size} distances are not a condensed matrix of 2 or more")
    return n


def _updated(
    method: str, d_xi: FloatArray, d_yi: FloatArray, d_xy: float, nx: int, ny: int, ni: np.ndarray
) -> FloatArray:
    """The Lance-Williams distance from the merged cluster to each other one."""
    if method == "complete":
        return np.maximum(d_xi, d_yi)
    if method == "average":
        return (nx * d_xi + ny * d_yi) / (nx + ny)
    t = 1.0 / (nx + ny + ni)
    return np.sqrt((ni + nx) * t * d_xi * d_xi + (ni + ny) * t * d_yi * d_yi - ni * t * d_xy * d_xy)


def _nearest_neighbour(x: int, chain: list[int], dist: FloatArray) -> tuple[int, float]:
    """The closest cluster to ``x``, the one before it in the chain on a tie."""
    y, best = (chain[-2], float(dist[x, chain[-2]])) if len(chain) > 1 else (-1, np.inf)
    j = int(np.argmin(dist[x]))  # the first of the smallest, as SciPy's scan keeps
    if dist[x, j] < best:
        y, best = j, float(dist[x, j])
    return y, best


def _nn_chain(condensed: FloatArray, n: int, method: str) -> FloatArray:
    z = np.empty((n - 1, 4))
    dist = square(condensed, n)
    np.fill_diagonal(dist, np.inf)  # neither itself nor a merged-away cluster is a neighbour
    size = np.ones(n, dtype=np.int64)
    chain: list[int] = []
    for k in range(n - 1):
        if not chain:
            chain = [int(np.flatnonzero(size)[0])]
        while True:
            x = chain[-1]
            y, best = _nearest_neighbour(x, chain, dist)
            if len(chain) > 1 and y == chain[-2]:
                break
            chain.append(y)
        del chain[-2:]
        x, y = min(x, y), max(x, y)
        nx, ny = int(size[x]), int(size[y])
        z[k] = (x, y, best, nx + ny)
        size[x], size[y] = 0, nx + ny
        others = np.flatnonzero(size)
        others = others[others != y]
        new = _updated(method, dist[others, x], dist[others, y], best, nx, ny, size[others])
        dist[others, y] = dist[y, others] = new
        dist[x, :] = dist[:, x] = np.inf
    return z


def _mst(condensed: FloatArray, n: int) -> FloatArray:
    z = np.empty((n - 1, 4))
    dist = square(condensed, n)
    merged = np.zeros(n, dtype=bool)
    reach = np.full(n, np.inf)
    x = 0
    for k in range(n - 1):
        merged[x] = True
        reach = np.where(~merged & (reach > dist[x]), dist[x], reach)
        candidates = np.where(merged, np.inf, reach)
        y = int(np.argmin(candidates))
        z[k, :3] = (x, y, candidates[y])
        x = y
    return z


def _label(z: FloatArray, n: int) -> None:
    """SciPy's ``label``: cluster ids and sizes of merges listed in height order, in place."""
    parent = np.arange(2 * n - 1)
    sizes = np.ones(2 * n - 1, dtype=np.int64)

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = int(parent[root])
        while parent[a] != root:
            a, parent[a] = int(parent[a]), root
        return root

    for i in range(n - 1):
        x, y = find(int(z[i, 0])), find(int(z[i, 1]))
        z[i, 0], z[i, 1] = (x, y) if x < y else (y, x)
        parent[x] = parent[y] = n + i
        sizes[n + i] = sizes[x] + sizes[y]
        z[i, 3] = sizes[n + i]


def linkage(condensed: npt.ArrayLike, method: str) -> FloatArray:
    """The linkage matrix ``(n - 1, 4)`` of a condensed distance matrix.

    Raises
    ------
    ValueError
        An unknown method, distances that are not a condensed matrix, or not finite.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    d = np.ascontiguousarray(condensed, dtype=np.float64)
    n = _observations(d)
    if not np.isfinite(d).all():
        raise ValueError("the distances must be finite")
    if _compiled(n):
        from scipy.cluster.hierarchy import linkage as compiled

        return np.asarray(compiled(d, method=method), dtype=np.float64)
    z = _mst(d, n) if method == "single" else _nn_chain(d, n, method)
    z = z[np.argsort(z[:, 2], kind="mergesort")]
    _label(z, n)
    return z


def _max_heights(z: FloatArray) -> FloatArray:
    """Each node's largest height in its subtree (SciPy's ``get_max_dist_for_each_cluster``)."""
    n = z.shape[0] + 1
    top = z[:, 2].copy()
    for i in range(n - 1):  # children have smaller ids than their parent
        for child in (int(z[i, 0]), int(z[i, 1])):
            if child >= n:
                top[i] = max(top[i], top[child - n])
    return top


def maxclust(z: FloatArray, k: int) -> np.ndarray:
    """Flat clusters, at most ``k``, cut at one height (numbered by first appearance).

    The lowest node height at which cutting leaves no more than ``k``
    clusters, as ``fcluster(Z, k, "maxclust")`` finds it: on tied heights,
    fewer than ``k``.
    """
    n = z.shape[0] + 1
    if k >= n:
        return np.arange(n)
    top = _max_heights(z)
    lower, upper = -1, n - 1
    while upper - lower > 1:
        i = (lower + upper) >> 1
        if n - np.count_nonzero(top <= top[i]) > k:
            lower = i
        else:
            upper = i
    parent = np.arange(2 * n - 1)
    for i in np.flatnonzero(top <= top[upper]):
        parent[int(z[i, 0])] = parent[int(z[i, 1])] = n + i
    root = np.arange(n)
    while True:  # climb to the highest node inside the cut
        up = parent[root]
        if np.array_equal(up, root):
            break
        root = up
    _, first, labels = np.unique(root, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[labels]


def leaves(z: FloatArray) -> np.ndarray:
    """The leaves of the tree in pre-order, left branch first (``leaves_list``)."""
    n = z.shape[0] + 1
    order: list[int] = []
    stack = [2 * n - 2]
    while stack:
        node = stack.pop()
        if node < n:
            order.append(node)
        else:
            stack += [int(z[node - n, 1]), int(z[node - n, 0])]
    return np.array(order, dtype=np.int64)
