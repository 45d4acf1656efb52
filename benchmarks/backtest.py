"""Full walk-forward backtest time against skfolio's walk-forward HRP, same assets and dates.

Ours embeds with the ONNX encoder, clusters, selects and allocates at every
monthly rebalance, runs every baseline besides (nine, with the panel's asset
classes) and the Sharpe statistics (5,000 bootstrap resamples); skfolio's
``cross_val_predict(HierarchicalRiskParity(), X, cv=WalkForward(21, 252))``
only fits HRP per fold. Target: ratio ours / skfolio <= 1.0.

    .venv/bin/python benchmarks/backtest.py --model models/wf [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from common import HISTORY, PANEL, ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--prices", type=Path, default=PANEL)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default.toml")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2017, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 7, 31))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from skfolio.model_selection import WalkForward, cross_val_predict
    from skfolio.optimization import HierarchicalRiskParity

    from backtest.engine import run_backtest
    from shared.config import load_settings
    from shared.prices import load_prices

    settings = load_settings(args.config, HISTORY)
    data = load_prices(settings.data, args.prices)

    ours, result = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = run_backtest(
            data.prices, settings, args.model, args.start, args.end,
            classes=data.universe.asset_class,
        )  # fmt: skip
        ours.append(time.perf_counter() - t0)
    assert result is not None
    n_reb = len(result.turnover["strategy"])

    # skfolio needs complete returns: the same dates (lookback before the first
    # rebalance to the end), the assets with a price over all of them.
    lookback = settings.inference.lookback
    frame = data.prices.filter(data.prices["date"] <= args.end).to_pandas().set_index("date")
    first = int(np.searchsorted(frame.index.values, np.datetime64(args.start))) - lookback - 1
    window = frame.iloc[max(first, 0) :]
    window = window.loc[:, window.notna().all()]
    returns = window.pct_change().iloc[1:]
    theirs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = cross_val_predict(
                HierarchicalRiskParity(), returns, cv=WalkForward(test_size=21, train_size=lookback)
            )
        theirs.append(time.perf_counter() - t0)

    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"period {args.start} .. {args.end}, {len(data.tickers)} assets, models {args.model}")
    print(f"median of {args.repeat} runs:")
    n_base = len(result.turnover) - 1
    print(f"  deepquant backtest: {n_reb} rebalances, strategy + {n_base} baselines   {a:7.1f} s")
    print(
        f"  skfolio WalkForward HRP: {len(pred.portfolios)} folds x {returns.shape[1]} assets"
        f"      {b:7.1f} s"
    )
    print(f"  ratio ours / skfolio   {a / b:5.2f}   target <= 1.0")
    print(
        "  ours, per phase (last run): "
        + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    )


if __name__ == "__main__":
    main()
