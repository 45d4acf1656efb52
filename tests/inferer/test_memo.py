"""The memo: a hit is the very result, across processes too; a shared memo changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.engine import run_backtest
from inferer.memo import Memo, digest
from shared.config import Settings

SETTINGS = Settings.model_validate(
    {"data": {"benchmark": "SP500"}, "inference": {"min_clusters": 3, "max_clusters": 6}}
)


def test_digest_sees_dtype_shape_and_values() -> None:
    a = np.arange(6, dtype=np.float64)
    assert digest(a) == digest(a.copy())
    assert digest(a) != digest(a.astype(np.float32))
    assert digest(a) != digest(a.reshape(2, 3))
    assert digest(a, "ward") != digest(a, "average")


def test_memo_computes_once_and_survives_the_process(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.array([1.0, 2.0])

    memo = Memo(tmp_path)
    first = memo.get("embed", "k", compute)
    assert memo.get("embed", "k", compute) is first and len(calls) == 1
    again = Memo(tmp_path).get("embed", "k", compute)  # a new process reads the file
    np.testing.assert_array_equal(again, first)
    assert len(calls) == 1 and list((tmp_path / "embed").iterdir()) == [tmp_path / "embed/k.pkl"]
    off = Memo(keep=False)
    off.get("embed", "k", compute)
    off.get("embed", "k", compute)
    assert len(calls) == 3 and off.misses == 2


def test_variants_sharing_a_memo_get_what_they_get_alone(
    sample_prices: pl.DataFrame, sample_models: Path
) -> None:
    start, end = dt.date(2018, 1, 1), dt.date(2018, 8, 15)
    top2 = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"top_n": 2})}
    )
    memo = Memo()
    shared = [run_backtest(sample_prices, s, sample_models, start, end, memo=memo)
              for s in (SETTINGS, top2)]  # fmt: skip
    assert memo.hits > 0, "the second variant found the first one's embeddings and clusters"
    alone = run_backtest(sample_prices, top2, sample_models, start, end)
    assert shared[1].returns.equals(alone.returns)
    assert shared[1].rebalances.equals(alone.rebalances)
    assert not shared[0].returns.equals(alone.returns)
    assert (
        pytest.approx(shared[1].metrics["strategy"]["sharpe"])
        == (alone.metrics["strategy"]["sharpe"])
    )
