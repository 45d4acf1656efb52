"""inferer.stable: cadence, label matching (a split, a merge), carried clusters, sticky k,
and the live job's stable clusters equal to the backtest's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from inferer.cluster import Clustering
from inferer.stable import Previous, carried, due, match_labels, sticky_k
from shared.config import Settings

D = dt.date


def test_clusters_are_rebuilt_in_a_new_month_or_quarter() -> None:
    assert due(D(2020, 1, 31), D(2020, 1, 31), "each")
    assert not due(D(2020, 1, 2), D(2020, 1, 31), "monthly") and due(
        D(2020, 1, 31), D(2020, 2, 28), "monthly"
    )
    assert not due(D(2020, 1, 31), D(2020, 3, 31), "quarterly")
    assert due(D(2020, 3, 31), D(2020, 4, 30), "quarterly") and due(
        D(2019, 12, 31), D(2020, 1, 31), "quarterly"
    )


def test_labels_follow_the_clusters_they_overlap_most() -> None:
    previous = {"A": 7, "B": 7, "C": 7, "D": 3, "E": 3}
    tickers = ["A", "B", "C", "D", "E"]
    # The same partition renumbered: the old numbers come back.
    assert match_labels(previous, tickers, np.array([0, 0, 0, 1, 1])).tolist() == [7, 7, 7, 3, 3]
    # A split: A, B stay 7; C alone takes a fresh number above the old ones.
    assert match_labels(previous, tickers, np.array([0, 0, 1, 2, 2])).tolist() == [7, 7, 8, 3, 3]
    # A merge: one cluster of five takes the number it shares most with (7: three names).
    assert match_labels(previous, tickers, np.array([0, 0, 0, 0, 0])).tolist() == [7] * 5
    # A new name in a matched cluster takes its number.
    assert match_labels(previous, [*tickers, "F"], np.array([0, 0, 0, 1, 1, 1])).tolist() == [
        7, 7, 7, 3, 3, 3,
    ]  # fmt: skip


def test_kept_names_keep_their_cluster_and_new_ones_join_the_nearest() -> None:
    previous = Previous(D(2020, 1, 31), {"A": 0, "B": 0, "C": 5, "D": 5, "GONE": 5})
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.2, 0.8], [0.95, 0.0]])
    labels = carried(previous, ["A", "B", "C", "D", "NEW1", "NEW2"], x)
    assert labels is not None and labels.tolist() == [0, 0, 5, 5, 5, 0]
    assert carried(Previous(D(2020, 1, 31), {"A": 0}), ["A", "B"], x[:2]) is None


def test_the_last_k_holds_unless_beaten_by_the_margin() -> None:
    clustering = Clustering(np.zeros(3, dtype=np.int64), 6, np.zeros((2, 4)), 0.30,
                            scores={5: 0.28, 6: 0.30, 7: 0.25})  # fmt: skip
    last = Previous(D(2020, 1, 31), {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4})  # k = 5
    assert sticky_k(clustering, last, 0.03) == 5  # 0.30 - 0.28 <= 0.03: keep 5
    assert sticky_k(clustering, last, 0.01) is None  # beaten by more: take 6
    assert sticky_k(clustering, last, 0.0) is None  # off


def _settings() -> Settings:
    return Settings.model_validate(
        {
            "data": {"benchmark": "SP500"},
            "inference": {
                "min_clusters": 3, "max_clusters": 6, "recluster": "quarterly",
                "match_clusters": True, "k_margin": 0.02,
            },
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def stable_run(sample_prices: pl.DataFrame, sample_models: Path):  # type: ignore[no-untyped-def]
    from backtest.engine import run_backtest

    return run_backtest(sample_prices, _settings(), sample_models, D(2018, 1, 1), D(2018, 9, 30))


def test_a_backtest_builds_clusters_each_quarter_and_keeps_them_between(stable_run) -> None:  # type: ignore[no-untyped-def]
    built = [a.clustered_on for a in stable_run.allocations]
    for alloc, on in zip(stable_run.allocations, built, strict=True):
        assert (on.year, (on.month - 1) // 3) == (alloc.asof.year, (alloc.asof.month - 1) // 3)
        assert on == alloc.asof or on < alloc.asof
    assert len(set(built)) < len(built)  # kept at some decisions
    for before, after in zip(stable_run.allocations, stable_run.allocations[1:], strict=False):
        if after.clustered_on == before.clustered_on:  # carried: every kept name, its cluster
            assert all(
                after.clusters[t] == c for t, c in before.clusters.items() if t in after.clusters
            )


def test_the_live_job_reads_its_last_run_as_the_backtest_its_last_decision(
    stable_run,
    sample_prices: pl.DataFrame,
    sample_models: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from inferer.output import previous_clusters, write_outputs
    from inferer.pipeline import decide_asof
    from shared.bundle import find_bundle
    from shared.universe import Universe

    settings = _settings()
    universe = Universe(tuple(c for c in sample_prices.columns if c != "date"), {})
    for last, alloc in zip(stable_run.allocations, stable_run.allocations[1:], strict=False):
        out = tmp_path / alloc.asof.isoformat()
        write_outputs(last, out, universe, config_digest="x")  # what the live job wrote then
        bundle = find_bundle(sample_models, alloc.asof, features=settings.features)
        live = decide_asof(
            sample_prices, alloc.asof, bundle, settings, incumbents=tuple(last.weights),
            previous=previous_clusters(out, alloc.asof),
        )  # fmt: skip
        assert live.clusters == alloc.clusters and live.clustered_on == alloc.clustered_on
        assert live.weights == pytest.approx(alloc.weights, abs=1e-12)
