"""How much of each cluster's membership survives from one rebalance to the next.

For consecutive rebalances, over the assets clustered at both: each earlier
cluster's *kept* share is the largest fraction of its members that land
together in one later cluster. ``kept`` is the size-weighted mean of those
shares (1: every cluster carried over whole, perhaps under a new number;
near ``1/k``: reshuffled). The adjusted Rand index (scikit-learn) is the
chance-corrected agreement of the two partitions, for comparison.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

import polars as pl

__all__ = ["adjusted_rand", "cluster_stability", "kept_share"]

SCHEMA = {"date": pl.Date, "k": pl.Int64, "kept": pl.Float64, "ari": pl.Float64}


def kept_share(before: Mapping[str, int], after: Mapping[str, int]) -> float:
    """Size-weighted share of each earlier cluster kept together in one later cluster."""
    common = [t for t in before if t in after]
    if not common:
        return float("nan")
    pairs = Counter((before[t], after[t]) for t in common)
    best: dict[int, int] = {}
    for (c, _), count in pairs.items():
        best[c] = max(best.get(c, 0), count)
    return sum(best.values()) / len(common)


def adjusted_rand(before: Mapping[str, int], after: Mapping[str, int]) -> float:
    """The adjusted Rand index of two clusterings over their common names (label-free)."""
    from sklearn.metrics import adjusted_rand_score

    common = [t for t in before if t in after]
    if len(common) < 2:
        return float("nan")
    return float(adjusted_rand_score([before[t] for t in common], [after[t] for t in common]))


def cluster_stability(
    dates: Sequence[dt.date], clusters: Sequence[Mapping[str, int]]
) -> pl.DataFrame:
    """A row per rebalance after the first: ``k``, and ``kept`` and ``ari`` against the last."""
    if len(dates) != len(clusters):
        raise ValueError(f"{len(dates)} dates but {len(clusters)} clusterings")
    rows = []
    for k in range(1, len(dates)):
        before, after = clusters[k - 1], clusters[k]
        rows.append(
            {
                "date": dates[k],
                "k": len(set(after.values())),
                "kept": kept_share(before, after),
                "ari": adjusted_rand(before, after),
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)
