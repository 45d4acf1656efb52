"""The README's stability table from backtest folders: each variant against the default.

    .venv/bin/python scripts/stability_table.py DEFAULT_RUN VARIANT_RUN [VARIANT_RUN ...]

Every run is of the same period. Sharpe over the risk-free series with its
90% stationary-bootstrap interval; "vs default" is the paired difference
(the same resamples of the days); turnover a year in its parts
(``rebalances.csv``: cluster churn and the rest) and the median adjusted
Rand index of consecutive clusterings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.regime_table import _difference, _load  # noqa: E402

COLUMNS = ("Sharpe [90%]", "vs default [90%]", "CAGR", "max DD", "turnover", "of it cluster churn",
           "cost", "median ARI")  # fmt: skip


def _row(folder: Path, base: pl.DataFrame, rf, ppy: float) -> str:  # type: ignore[no-untyped-def]
    returns, metrics, _, _ = _load(folder)
    m = metrics["strategy"]
    reb = pl.read_csv(folder / "rebalances.csv")
    years = returns.height / ppy
    diff = "" if returns["strategy"].equals(base["strategy"]) else _difference(
        returns["strategy"].to_numpy(), base["strategy"].to_numpy(), rf, ppy
    )  # fmt: skip
    ari = reb["ari"].drop_nulls().median()
    cells = (
        f"{m['sharpe']:.2f} [{m['sharpe_lo']:.2f}, {m['sharpe_hi']:.2f}]",
        diff,
        f"{m['cagr']:.1%}",
        f"{m['max_drawdown']:.1%}",
        f"{m['turnover']:.0%}",
        f"{reb['turnover_cluster'].sum() / years:.0%}",
        f"{m['cost_drag']:.2%}",
        f"{ari:.2f}" if ari is not None else "",
    )
    return f"| {folder.name.removeprefix('bt_')} | " + " | ".join(cells) + " |"


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]]
    base, _, rf, ppy = _load(folders[0])
    print("| variant | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for folder in folders:
        print(_row(folder, base, rf, ppy))


if __name__ == "__main__":
    main()
