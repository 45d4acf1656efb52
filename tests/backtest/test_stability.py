"""Cluster stability: hand-counted kept shares, and the adjusted Rand index."""

from __future__ import annotations

import datetime as dt

import pytest

from backtest.stability import cluster_stability, kept_share


def test_kept_share_by_hand() -> None:
    before = {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1}
    # Renumbered but identical: everything kept.
    assert kept_share(before, {"a": 5, "b": 5, "c": 5, "d": 2, "e": 2}) == 1.0
    # Cluster 0 splits 2 + 1, cluster 1 stays together: (2 + 2) / 5.
    assert kept_share(before, {"a": 0, "b": 0, "c": 1, "d": 2, "e": 2}) == pytest.approx(0.8)
    # Only the assets clustered both times count: "e" left, "f" arrived.
    assert kept_share(before, {"a": 0, "b": 1, "c": 1, "d": 1, "f": 0}) == pytest.approx(3 / 4)


def test_stability_rows() -> None:
    dates = [dt.date(2021, 1, 29), dt.date(2021, 2, 26), dt.date(2021, 3, 31)]
    same = {"a": 0, "b": 0, "c": 1, "d": 1}
    frame = cluster_stability(dates, [same, same, {"a": 0, "b": 1, "c": 0, "d": 1}])
    assert frame["date"].to_list() == dates[1:]
    assert frame["k"].to_list() == [2, 2]
    assert frame["kept"].to_list() == [1.0, 0.5]
    assert frame["ari"][0] == pytest.approx(1.0)
    assert frame["ari"][1] < 0.01  # a reshuffle agrees no better than chance
    with pytest.raises(ValueError, match="3 dates but 2"):
        cluster_stability(dates, [same, same])
