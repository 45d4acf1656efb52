"""Clusters that hold from one decision to the next (``[inference]`` stability settings).

Two thirds of the default's turnover is names entering or leaving the book
because their cluster changed (``docs/results.md``): the tree is cut afresh
every month, often at another ``k``. Three settings act on that, each off by
default, each reading only the last decision's clustering (a
:class:`Previous`: the backtest keeps it; the live job reads it from its
last ``run_<date>.json``, :func:`inferer.output.previous_clusters`):

``recluster`` ("each", "monthly", "quarterly")
    Build clusters only when the decision's month or quarter is not the one
    the last clusters were built in; between, each name keeps its cluster,
    and a name new to the candidates joins the cluster whose centre (mean
    normalised embedding) is nearest (:func:`carried`).
``k_margin``
    Keep the last number of clusters unless the best silhouette beats it by
    more than this margin.
``match_clusters``
    Number each new cluster as the last cluster it shares most names with
    (the Hungarian assignment on the overlap counts, SciPy's
    ``linear_sum_assignment``); an unmatched cluster takes a fresh number.
    Labels then mean the same cluster over time; weights do not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from inferer.cluster import Clustering, unit_rows
from shared.config import InferenceSettings

__all__ = ["Previous", "carried", "due", "match_labels", "stabilised", "sticky_k"]


@dataclass(frozen=True)
class Previous:
    """The last decision's clusters: when they were built, and each name's cluster."""

    clustered_on: dt.date
    labels: dict[str, int]

    @property
    def n_clusters(self) -> int:
        return len(set(self.labels.values()))


def due(clustered_on: dt.date, asof: dt.date, cadence: str) -> bool:
    """Whether clusters built on ``clustered_on`` are rebuilt on ``asof``."""
    if cadence == "monthly":
        return (asof.year, asof.month) != (clustered_on.year, clustered_on.month)
    if cadence == "quarterly":
        quarter = (asof.month - 1) // 3, ((clustered_on.month - 1) // 3)
        return asof.year != clustered_on.year or quarter[0] != quarter[1]
    return True


def carried(
    previous: Previous, tickers: Sequence[str], embeddings: np.ndarray
) -> np.ndarray | None:
    """The last clusters on today's names: kept names keep theirs, new ones join the nearest
    centre. None when fewer than two of the last clusters have a name today."""
    x = unit_rows(np.asarray(embeddings, dtype=np.float64))
    known = np.array([t in previous.labels for t in tickers], dtype=bool)
    labels = np.array([previous.labels.get(t, -1) for t in tickers], dtype=np.int64)
    clusters = np.unique(labels[known])
    if clusters.size < 2:
        return None
    centres = np.vstack([x[known & (labels == c)].mean(axis=0) for c in clusters])
    if (~known).any():
        distance = ((x[~known, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels[~known] = clusters[np.argmin(distance, axis=1)]
    return labels


def match_labels(
    previous: Mapping[str, int], tickers: Sequence[str], labels: np.ndarray
) -> np.ndarray:
    """``labels`` renumbered as the last clusters they overlap most (Hungarian assignment)."""
    from scipy.optimize import linear_sum_assignment

    new = np.unique(labels)
    old = np.array(sorted(set(previous.values())), dtype=np.int64)
    overlap = np.zeros((new.size, old.size))
    for ticker, label in zip(tickers, labels, strict=True):
        if ticker in previous:
            overlap[np.searchsorted(new, label), np.searchsorted(old, previous[ticker])] += 1
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {int(new[r]): int(old[c]) for r, c in zip(rows, cols, strict=True) if overlap[r, c]}
    fresh = iter(range(int(old.max(initial=-1)) + 1, 1 << 30))
    for label in new:
        if int(label) not in mapping:
            mapping[int(label)] = next(fresh)
    return np.array([mapping[int(label)] for label in labels], dtype=np.int64)


def sticky_k(clustering: Clustering, previous: Previous, margin: float) -> int | None:
    """The last ``k`` when the best silhouette beats it by at most ``margin``; else None."""
    k = previous.n_clusters
    if margin <= 0 or k == clustering.n_clusters or k not in clustering.scores:
        return None
    best = max(clustering.scores.values())
    return k if best - clustering.scores[k] <= margin else None


def stabilised(
    clustering: Clustering,
    recut: Clustering | None,
    previous: Previous | None,
    tickers: Sequence[str],
    embeddings: np.ndarray,
    cfg: InferenceSettings,
    asof: dt.date,
) -> tuple[Clustering, dt.date]:
    """The clustering a decision uses, and the date its clusters were built.

    ``recut``: the tree cut at :func:`sticky_k`'s ``k`` (None when it holds none).
    """
    if previous is None:
        return clustering, asof
    if not due(previous.clustered_on, asof, cfg.recluster):
        labels = carried(previous, tickers, embeddings)
        if labels is not None:
            n = int(np.unique(labels).size)
            return replace(clustering, labels=labels, n_clusters=n), previous.clustered_on
    chosen = clustering if recut is None else replace(recut, scores=clustering.scores)
    if cfg.match_clusters:
        chosen = replace(chosen, labels=match_labels(previous.labels, tickers, chosen.labels))
    return chosen, asof
