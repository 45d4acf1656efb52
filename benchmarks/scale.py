"""Cost against universe size: 338 to 10,000 assets on a synthetic panel.

The panel is the shared panel since 2023, tiled: copy ``c`` of each asset has
the original's log returns plus seeded Gaussian noise (0.5% a day) and the
original's missing days, so every copy is a distinct, realistic price series.
It is written as CSV in the shared panel's format (6 decimals); nothing is
stored in the repository.

For each size it runs, as separate processes:

- ``deepquant -q infer`` (whole process: interpreter start to weights written;
  and each step from the run JSON, load and clean included);
- a 12-month backtest (strategy, equal weight and the correlation clusters);
- one training of one bundle (``[train] max_windows`` caps the windows an
  epoch sees, so this is bounded above some size);

and prints medians, peak memory (maximum resident set) and the log-log slope
of each cost against the asset count between the smallest and largest size.
One bundle, trained on the 338-asset panel, serves every size (the encoder is
per asset, so it does not depend on the universe).

Targets (2-core CPU): ``infer`` at 3,000 assets at most 3x the 338-asset
time, at 10,000 under 6 s and 2 GB; load + clean + features slope at or
under 1.1; the 12-month backtest at 1,000 assets at most 2x the 338-asset time.

    .venv/bin/python benchmarks/scale.py [--sizes 338,1000,3000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import PANEL, ROOT

DEEPQUANT = str(ROOT / ".venv" / "bin" / "deepquant")
SINCE = "2023-01-01"
NOISE = 0.005
#: The 12-month backtest.
BT_START, BT_END = "2025-01-01", "2025-12-31"
#: Bundles are trained on data before the backtest starts.
TRAIN_END = "2024-12-31"
#: Steps whose sum is the "load + clean + features" figure.
DATA_STEPS = ("read", "clean", "features")

CONFIG = """\
[data]
benchmark = "SPY"
[inference]
n_clusters = "auto"
min_clusters = 6
max_clusters = 20
method = "hrp"
risk_free = "BIL"
[train]
epochs = 1
train_years = 2
[backtest]
baselines = ["equal_weight", "corr_cluster"]
frontier_portfolios = 1000
"""


def synthetic_panel(n_assets: int, seed: int = 0) -> object:
    """The shared panel since 2023 tiled to ``n_assets`` columns (see the module docstring)."""
    import polars as pl

    from shared.prices.panel import read_panel

    raw = read_panel(PANEL)
    raw = raw.filter(pl.col("date") >= SINCE)
    tickers = [c for c in raw.columns if c != "date"]
    prices = raw.select(tickers).to_numpy().astype(np.float64)
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {"date": raw["date"]}
    copy = 0
    while len(columns) - 1 < n_assets:
        for j, ticker in enumerate(tickers[: n_assets - (len(columns) - 1)]):
            if copy == 0:
                columns[ticker] = prices[:, j]
                continue
            steps = np.diff(np.log(prices[:, j])) + rng.normal(0.0, NOISE, len(prices) - 1)
            path = prices[0, j] * np.exp(np.concatenate([[0.0], np.nancumsum(steps)]))
            path[np.isnan(prices[:, j])] = np.nan
            columns[f"{ticker}_{copy}"] = path
        copy += 1
    return pl.DataFrame(columns)


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{tail}")
    return wall, usage.ru_maxrss / 1024  # kilobytes on Linux


def measure_infer(config: Path, panel: Path, model: Path, out: Path, repeat: int) -> dict:
    walls, peaks, steps = [], [], []
    for i in range(repeat):
        target = out / f"infer{i}"
        cmd = [DEEPQUANT, "-q", "infer", "--config", str(config), "--prices", str(panel)]
        wall, peak = run([*cmd, "--model", str(model), "--out", str(target)])
        walls.append(wall)
        peaks.append(peak)
        record = json.loads(next(target.glob("run_*.json")).read_text())
        steps.append(record["timings"])
    step = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    return {"infer": statistics.median(walls), "infer_mb": max(peaks), **step}


def measure_size(n: int, work: Path, config: Path, model: Path, repeat: int) -> dict:
    panel = work / f"panel_{n}.csv"
    synthetic_panel(n).write_csv(panel, float_precision=6)  # type: ignore[attr-defined]
    row = {"assets": n, **measure_infer(config, panel, model, work / f"out_{n}", repeat)}
    row["data"] = sum(row[k] for k in DATA_STEPS)
    bt = [DEEPQUANT, "-q", "backtest", "--config", str(config), "--prices", str(panel)]
    bt += ["--model", str(model), "--start", BT_START, "--end", BT_END]
    row["backtest"], row["backtest_mb"] = run([*bt, "--out", str(work / f"bt_{n}")])
    train = [DEEPQUANT, "-q", "train", "--config", str(config), "--prices", str(panel)]
    train += ["--end", TRAIN_END]
    row["train"], row["train_mb"] = run([*train, "--out", str(work / f"model_{n}")])
    manifest = json.loads((work / f"model_{n}" / "manifest.json").read_text())
    row["val_loss"] = manifest["losses"]["val"]
    row["naive_val"] = manifest["losses"]["naive_val"]
    return row


def slope(rows: list[dict], key: str) -> float:
    """Log-log slope of ``key`` against assets, first to last size."""
    a, b = rows[0], rows[-1]
    return math.log(b[key] / a[key]) / math.log(b["assets"] / a["assets"])


COLUMNS = (
    ("assets", "{:>7}"), ("infer", "{:7.2f}"), ("infer_mb", "{:8.0f}"), ("read", "{:6.2f}"),
    ("clean", "{:6.2f}"), ("features", "{:8.2f}"), ("embed", "{:6.2f}"), ("cluster", "{:7.2f}"),
    ("select", "{:6.2f}"), ("backtest", "{:8.1f}"), ("backtest_mb", "{:11.0f}"),
    ("train", "{:6.1f}"), ("train_mb", "{:8.0f}"), ("val_loss", "{:8.3f}"),
    ("naive_val", "{:9.3f}"),
)  # fmt: skip


def report(rows: list[dict]) -> None:
    print(" ".join(f"{name:>{len(fmt.format(0))}}" for name, fmt in COLUMNS))
    for row in rows:
        print(" ".join(fmt.format(row[name]) for name, fmt in COLUMNS))
    print("\nlog-log slope against assets, first to last size:")
    for key in ("infer", "data", "read", "clean", "features", "embed", "cluster", "backtest"):
        print(f"  {key:<9} {slope(rows, key):5.2f}")
    by = {r["assets"]: r for r in rows}
    base = by.get(338)
    if base:
        for n, key, limit in ((3000, "infer", 3.0), (1000, "backtest", 2.0)):
            if n in by:
                ratio = by[n][key] / base[key]
                print(f"{key} {n} / 338: {ratio:.2f}x (target <= {limit:g}x)")
    if 10000 in by:
        big = by[10000]
        print(f"infer 10000: {big['infer']:.2f} s (target < 6), {big['infer_mb']:.0f} MB (< 2048)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="338,1000,3000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="keep files here (default: temp)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="deepquant-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "scale.toml"
    config.write_text(CONFIG)
    base_panel = work / "panel_base.csv"
    synthetic_panel(338).write_csv(base_panel, float_precision=6)  # type: ignore[attr-defined]
    model = work / "model"
    train = [DEEPQUANT, "-q", "train", "--config", str(config), "--prices", str(base_panel)]
    run([*train, "--end", TRAIN_END, "--out", str(model)])
    rows = []
    for n in sizes:
        rows.append(measure_size(n, work, config, model, args.repeat))
        print(f"done {n} assets", file=sys.stderr, flush=True)
    report(rows)


if __name__ == "__main__":
    main()
