"""What the benchmark scripts share: the shared data's paths and a median timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PANEL = ROOT.parent / "shared" / "data" / "prices_2015_2026.csv.gz"
#: SPY's closes since 1993: what the default's regime layer learns from on a --prices run.
HISTORY = ROOT.parent / "shared" / "data" / "benchmark_1993_2026.csv.gz"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls of ``fn``, and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out
