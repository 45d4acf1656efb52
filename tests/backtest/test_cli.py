"""``deepquant backtest`` end to end on the sample: every output file, strict JSON."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl
from click.testing import CliRunner, Result

from backtest.baselines import BASELINES
from deepquant.cli import cli
from tests.backtest.conftest import backtest_args
from tests.bundles import make_bundle


def test_backtest_writes_every_output(backtest_run: Result) -> None:
    out = backtest_run.out  # type: ignore[attr-defined]
    names = {p.name for p in out.iterdir()}
    assert {
        "returns.csv",
        "weights.csv",
        "rebalances.csv",
        "metrics.json",
        "report.html",
        "report.md",
        "equity.png",
        "drawdowns.png",
        "monthly.png",
        "rolling_risk.png",
        "rolling_sharpe.png",
        "asset_classes.png",
        "risk_contribution.png",
        "stability.png",
        "dendrogram.png",
        "frontier.png",
    } <= names
    assert not [n for n in names if n.endswith(".tmp")]
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=_no_nan)
    # The sample has no SPY or AGG: 60/40 is left out with a warning, the others run.
    assert set(metrics) == {"strategy", "benchmark", *BASELINES} - {"sixty_forty"}
    assert "baseline sixty_forty left out: SPY, AGG not in the prices" in backtest_run.output
    assert metrics["strategy"]["max_drawdown"] < 0 < metrics["strategy"]["var_95"]
    returns = pl.read_csv(out / "returns.csv", try_parse_dates=True)
    assert returns.columns[:3] == ["date", "strategy", "benchmark"]
    weights = pl.read_csv(out / "weights.csv")
    assert {"date", "ticker", "weight"} <= set(weights.columns)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 10
    assert "| Metric | Strategy | Benchmark |" in backtest_run.output
    assert "report:" in backtest_run.output


def _no_nan(name: str) -> float:
    raise AssertionError(f"metrics.json holds {name}: not strict JSON")


def test_end_before_start_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, backtest_args(tmp_path, "2019-01-01", "2018-01-01", tmp_path / "o")
    )
    assert result.exit_code == 2
    assert "--end 2018-01-01 is not after --start 2019-01-01" in result.output


def test_one_rebalance_on_a_panel_without_classes_writes_a_whole_set(
    sample_prices: pl.DataFrame, tmp_path: Path
) -> None:
    # A routine "last month" check, on a panel with no universe.csv beside it.
    models = tmp_path / "models"
    make_bundle(models / "2018-12-28", sample_prices, dt.date(2017, 1, 1), dt.date(2018, 12, 28))
    panel = tmp_path / "panel" / "prices.csv"
    panel.parent.mkdir()
    sample_prices.write_csv(panel)
    out = tmp_path / "bt"
    args = backtest_args(models, "2019-01-31", "2019-02-15", out, "--prices", str(panel))
    try:
        result = CliRunner().invoke(cli, ["-q", *args])
    finally:
        logging.getLogger("deepquant").setLevel(logging.NOTSET)  # -q set it for this process
    assert result.exit_code == 0, result.output
    assert "rebalance" not in result.stderr  # -q silences the progress
    weights = pl.read_csv(out / "weights.csv")
    assert weights["date"].unique().to_list() == ["2019-01-31"]
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert {"report.html", "returns.csv", "rebalances.csv", "dendrogram.png"} <= names
    assert "stability.png" not in names  # one rebalance: nothing to compare with
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]
