"""The README's regime tables from backtest folders: each series with and without the layer.

    .venv/bin/python scripts/regime_table.py BASE_RUN LAYERED_RUN [LAYERED_RUN ...]

BASE_RUN is a backtest of the default construction without the layer;
each LAYERED_RUN one with it (its folder name says which model). Every
Sharpe ratio is over the run's risk-free series, with its 90% stationary
bootstrap interval; a "difference" is the layered series' Sharpe minus the
same series' without the layer, its interval from the same resamples of
the days (paired), as the backtest's own differences are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtest.statistics import _bounds, _per_period_sharpe, sharpe_draws  # noqa: E402

PAIRS = {
    "strategy": "strategy",
    "equal_weight_regime": "equal_weight",
    "sixty_forty_regime": "sixty_forty",
}
COLUMNS = (
    "Sharpe [90%]",
    "vs no layer [90%]",
    "CAGR",
    "vol",
    "max DD",
    "Calmar",
    "turnover",
    "cost",
)


def _load(folder: Path) -> tuple[pl.DataFrame, dict, np.ndarray, float]:
    returns = pl.read_csv(folder / "returns.csv", try_parse_dates=True)
    metrics = json.loads((folder / "metrics.json").read_text())
    inputs = json.loads((folder / "report_inputs.json").read_text())
    rf = np.array([np.nan if v is None else v for v in inputs["risk_free"]], dtype=float)
    return returns, metrics, rf, float(inputs["periods_per_year"])


def _difference(a: np.ndarray, b: np.ndarray, rf: np.ndarray, ppy: float) -> str:
    excess = np.column_stack([a - rf, b - rf])
    draws = sharpe_draws(excess, seed=0) * np.sqrt(ppy)
    point = _per_period_sharpe(excess) * np.sqrt(ppy)
    lo, hi = _bounds(draws[:, 0] - draws[:, 1])
    return f"{point[0] - point[1]:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def _row(label: str, m: dict, diff: str) -> str:
    cells = (
        f"{m['sharpe']:.2f} [{m['sharpe_lo']:.2f}, {m['sharpe_hi']:.2f}]",
        diff,
        f"{m['cagr']:.1%}",
        f"{m['ann_vol']:.1%}",
        f"{m['max_drawdown']:.1%}",
        f"{m['calmar']:.2f}",
        f"{(m.get('turnover') or 0):.0%}",
        f"{(m.get('cost_drag') or 0):.2%}",
    )
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    base_dir, *layered = (Path(a) for a in sys.argv[1:])
    base, base_metrics, rf, ppy = _load(base_dir)
    print("| series | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for name in ("strategy", "equal_weight", "sixty_forty", "benchmark"):
        print(_row(f"{name}, no layer", base_metrics[name], ""))
    for folder in layered:
        returns, metrics, _, _ = _load(folder)
        assert returns["date"].equals(base["date"]), f"{folder}: other dates than {base_dir}"
        for name, plain in PAIRS.items():
            diff = _difference(returns[name].to_numpy(), base[plain].to_numpy(), rf, ppy)
            print(_row(f"{name} ({folder.name})", metrics[name], diff))
        print(_row(f"trend_timing ({folder.name})", metrics["trend_timing"], ""))


if __name__ == "__main__":
    main()
