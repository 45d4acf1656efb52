"""Which of a sweep's backtests get their charts and report: ``deepquant sweep --reports``.

A grid's reader compares its variants in ``summary.md`` and opens the report
of one or two, while each report's charts cost a variant about a third of its
time. So every job writes its data and :func:`draw` draws the reports asked
for from it afterwards: the best variant's (the highest mean Sharpe ratio of
the strategy over its seeds and costs, the first in the grid on a tie), all,
or none.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import get_args

import numpy as np
import polars as pl

from backtest.job import draw_report
from shared.choices import Reports
from sweep.grid import Grid

__all__ = ["REPORTS", "best_variant", "draw"]

log = logging.getLogger("deepquant.sweep")

#: The values of ``--reports``.
REPORTS: tuple[str, ...] = get_args(Reports)


def best_variant(results: pl.DataFrame, grid: Grid) -> str:
    """The variant whose strategy has the highest mean Sharpe ratio (the first on a tie)."""
    strat = results.filter(pl.col("series") == "strategy")
    means = {}
    for v in grid.variants:
        sharpes = strat.filter(pl.col("variant") == v)["sharpe"].to_numpy().astype(float)
        finite = sharpes[np.isfinite(sharpes)]  # an undefined seed does not sink its variant
        if finite.size:
            means[v] = float(finite.mean())
    return max(means, key=lambda v: means[v]) if means else next(iter(grid.variants))


def draw(grid: Grid, out: Path, results: pl.DataFrame, which: str) -> list[Path]:
    """Draw the reports ``which`` asks for that the folders lack; the reports drawn."""
    if which not in REPORTS:
        raise ValueError(f"reports must be one of {REPORTS}, got {which!r}")
    if which == "none":
        return []
    best = best_variant(results, grid) if which == "best" else None
    drawn = []
    for job in grid.jobs:
        folder = out / job.label
        if (best is None or job.variant == best) and not (folder / "report.html").is_file():
            drawn.append(draw_report(folder))
            log.info("sweep: drew %s", drawn[-1])
    return drawn
