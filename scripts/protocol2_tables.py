"""The README's protocol-2 tables from a protocol sweep's folder (default ``runs/protocol2``).

    .venv/bin/python scripts/protocol2_tables.py [runs/protocol2]

Prints, in Markdown: the development table of every variant (model seed 0,
10 bps), then the held-out table of the selected variant and its ablations
(each seed and cost) against every baseline, with the Sharpe differences
against 60/40 and equal weight and their 90% intervals.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

import numpy as np  # noqa: E402

from backtest.report import format_value  # noqa: E402
from backtest.statistics import LEVEL, sharpe_draws  # noqa: E402
from sweep.results import strategy_excess  # noqa: E402

BASELINES = ("benchmark", "equal_weight", "sixty_forty", "inverse_vol", "hrp_all",
             "max_sharpe_all", "momentum", "corr_cluster", "class_cluster", "random_cluster",
             "equal_weight_regime", "sixty_forty_regime", "trend_timing")  # fmt: skip


def _sharpe(r: dict) -> str:
    return (f"{format_value(r['sharpe'], 'ratio')} [{format_value(r['sharpe_lo'], 'ratio')}, "
            f"{format_value(r['sharpe_hi'], 'ratio')}]")  # fmt: skip


def _diff(r: dict, ref: str) -> str:
    key = f"sharpe_diff_{ref}"
    if r.get(key) is None or r[key] != r[key]:
        return ""
    return (f"{r[key]:+.2f} [{r[key + '_lo']:+.2f}, {r[key + '_hi']:+.2f}]")  # fmt: skip


def _turnover(value: float | None) -> str:
    return "" if value is None or value != value else f"{value:.0%}"


def _row(name: str, r: dict, dsr: bool = True) -> str:
    cells = [name, _sharpe(r)]
    cells.append(format_value(r.get("dsr_ledger", r["dsr"]), "ratio") if dsr else "")
    cells += [format_value(r["cagr"], "pct1"), format_value(r["ann_vol"], "pct1"),
              format_value(r["max_drawdown"], "pct1"), format_value(r["calmar"], "ratio"),
              _turnover(r["turnover"]),
              format_value(r["cost_drag"], "pct")]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def development(folder: Path) -> None:
    results = pl.read_parquet(folder / "results.parquet")
    print("| variant | Sharpe [90%] | DSR | CAGR | vol | max DD | Calmar | turnover | cost |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results.filter(pl.col("series") == "strategy").iter_rows(named=True):
        print(_row(r["variant"], r))
    ew = results.filter(pl.col("series") == "equal_weight").row(0, named=True)
    print(_row("equal weight (baseline)", ew, dsr=False))
    if "dsr_ledger_trials" in results.columns:
        trials = results.filter(pl.col("series") == "strategy")["dsr_ledger_trials"]
        print(f"\nDSR counts {trials[0]:.0f} trials of the ledger for the period.")


def held_out(folder: Path) -> None:
    results = pl.read_parquet(folder / "results.parquet")
    header = ("| series | seed | Sharpe [90%] | vs 60/40 [90%] | vs equal weight [90%] | "
              "max DD | turnover | cost |")  # fmt: skip
    for variant in results["variant"].unique(maintain_order=True):
        print(f"\n**{variant}**\n\n{header}\n|---|---:|---:|---:|---:|---:|---:|---:|")
        mine = results.filter(pl.col("variant") == variant)
        for series in ("strategy", *BASELINES):
            for r in mine.filter(pl.col("series") == series).iter_rows(named=True):
                cells = [series, str(r["seed"]), _sharpe(r), _diff(r, "sixty_forty"),
                         _diff(r, "equal_weight"), format_value(r["max_drawdown"], "pct1"),
                         _turnover(r["turnover"]), format_value(r["cost_drag"], "pct")]  # fmt: skip
                print("| " + " | ".join(cells) + " |")
                if series != "strategy" and series not in (
                    "corr_cluster",
                    "class_cluster",
                    "random_cluster",
                ):
                    break  # the model's seed does not move it


def paired(a: Path, b: Path) -> str:
    """Sharpe of job ``a`` minus job ``b``'s, with its 90% stationary-bootstrap interval."""
    (xa, ppy), (xb, _) = strategy_excess(a), strategy_excess(b)
    draws = sharpe_draws(np.column_stack([xa, xb])) * np.sqrt(ppy)
    diff = draws[:, 0] - draws[:, 1]
    point = (xa.mean() / xa.std(ddof=1) - xb.mean() / xb.std(ddof=1)) * np.sqrt(ppy)
    lo, hi = np.quantile(diff, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return f"{point:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def differences(root: Path) -> None:
    """The pairs the README quotes: what the layer adds, what its features add."""
    pairs = [("p2_jump", "p2_default"), ("p2_jump_budget10", "p2_budget10"),
             ("p2_jump_ae", "p2_jump"), ("p2_ensemble3", "p2_default"),
             ("p2_smoothed", "p2_default")]  # fmt: skip
    print("\n| development | Sharpe difference [90%] |\n|---|---:|")
    for a, b in pairs:
        print(f"| {a} - {b} | {paired(root / a / '0', root / b / '0')} |")
    held = root / "holdout"
    if not held.is_dir():
        return
    print("\n| held out, 10 bps | seed | Sharpe difference [90%] |\n|---|---:|---:|")
    chosen = json.loads((held / "selection.json").read_text())["variant"]
    for ablation in ("ae_features", "no_regime"):
        for seed in (0, 10, 20):
            a, b = held / f"{chosen}-10bps" / str(seed), held / f"{chosen}_{ablation}-10bps"
            print(f"| {chosen} - {ablation} | {seed} | {paired(a, b / str(seed))} |")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs" / "protocol2"
    print("## Development\n")
    development(root)
    differences(root)
    if (root / "holdout" / "results.parquet").is_file():
        print("\n## Held out")
        held_out(root / "holdout")
