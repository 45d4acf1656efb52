"""The sweep's cache, filled in runs of decision dates, leaves its backtests nothing to compute."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from backtest.engine import decision_dates, run_backtest, warm_memo
from inferer.memo import Memo
from shared.config import Settings
from sweep.run import chunks

SETTINGS = Settings.model_validate(
    {"data": {"benchmark": "SP500"}, "inference": {"min_clusters": 3, "max_clusters": 6}}
)


def test_a_cache_filled_in_chunks_of_dates_leaves_nothing_to_compute(
    sample_prices: pl.DataFrame, sample_models: Path, tmp_path: Path
) -> None:
    # What a sweep does: the decision dates in runs, one task each, then every variant.
    start, end = dt.date(2018, 1, 1), dt.date(2018, 8, 15)
    days = decision_dates(sample_prices, start, end, SETTINGS.backtest)
    runs = chunks(days, 3, end)
    assert len(runs) == 3 and runs[0][0] == days[0] and runs[-1][1] == end
    warmed = [decision_dates(sample_prices, a, b, SETTINGS.backtest) for a, b in runs]
    assert [d for part in warmed for d in part] == days, "the runs hold every date once"
    counts = [warm_memo(sample_prices, SETTINGS, sample_models, a, b, Memo(tmp_path))
              for a, b in runs]  # fmt: skip
    assert counts == [len(part) for part in warmed]
    top2 = SETTINGS.model_copy(
        update={"inference": SETTINGS.inference.model_copy(update={"top_n": 2})}
    )
    memo = Memo(tmp_path)
    result = run_backtest(sample_prices, top2, sample_models, start, end, memo=memo)
    assert memo.misses == 0 and memo.hits > 0, "every embedding, clustering and weight was there"
    alone = run_backtest(sample_prices, top2, sample_models, start, end)
    assert result.returns.equals(alone.returns) and result.weights.equals(alone.weights)
