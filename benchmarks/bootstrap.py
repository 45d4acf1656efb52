"""Sharpe-ratio statistics of a backtest: 10 series x 5,000 stationary-bootstrap resamples.

The shape of a 2017-2026 backtest (2,400 days, the strategy, the benchmark and
eight baselines) on simulated returns; :func:`backtest.statistics.sharpe_statistics`
does the block-length selection, the paired resamples, every interval and
Sharpe difference, PSR and DSR. Target: under 5 s. Baseline in the same run:
the bare ``arch`` loop (``StationaryBootstrap.apply`` of a mean / std) it is
built on, so the ratio shows what our bookkeeping adds.

    .venv/bin/python benchmarks/bootstrap.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from common import ROOT, timed

DAYS, SERIES, RESAMPLES = 2400, 10, 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from arch.bootstrap import StationaryBootstrap

    from backtest.statistics import sharpe_statistics

    rng = np.random.default_rng(0)
    names = ["strategy", "benchmark", "sixty_forty", "equal_weight"]
    names += [f"baseline_{k}" for k in range(SERIES - len(names))]
    returns = rng.normal(0.0004, 0.01, size=(DAYS, SERIES)) + rng.normal(0, 0.005, (DAYS, 1))
    series = dict(zip(names, returns.T, strict=True))
    rf = np.full(DAYS, 0.0001)

    ours, _ = timed(lambda: sharpe_statistics(series, rf, 252, reps=RESAMPLES), args.repeat)

    def bare() -> np.ndarray:
        bs = StationaryBootstrap(20, returns - rf[:, None], seed=np.random.default_rng(0))
        return bs.apply(lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1), RESAMPLES)

    base, _ = timed(bare, args.repeat)
    print(f"sharpe_statistics, {SERIES} series x {DAYS} days x {RESAMPLES} resamples: "
          f"{ours:.2f} s (median of {args.repeat}; target < 5 s)")  # fmt: skip
    print(f"bare arch StationaryBootstrap.apply, same data and resamples: {base:.2f} s")
    print(f"ratio ours / bare: {ours / base:.2f}")


if __name__ == "__main__":
    main()
