"""Where tests find the repository, their fixtures and the shared real panel."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = Path(os.environ.get("DEEPQUANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHARED_PANEL = SHARED_DATA / "prices_2015_2026.csv.gz"
SHARED_BENCHMARK = SHARED_DATA / "benchmark_1993_2026.csv.gz"
