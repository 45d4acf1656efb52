"""backtest.report_file and `deepquant report`: a report drawn later is the one drawn then."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtest.report_file import INPUTS, read_report
from deepquant.cli import cli
from shared.errors import DataError
from tests.backtest.conftest import backtest_args

DRAWN = ("report.html", "report.md", "equity.png", "drawdowns.png", "monthly.png",
         "rolling_risk.png", "rolling_sharpe.png", "asset_classes.png", "risk_contribution.png",
         "stability.png", "dendrogram.png", "frontier.png")  # fmt: skip


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in DRAWN}


def test_drawing_from_the_folder_gives_the_same_report(backtest_run, tmp_path: Path) -> None:
    run = Path(backtest_run.out)
    assert (run / INPUTS).is_file()
    copy = tmp_path / "bt"
    shutil.copytree(run, copy)
    for name in DRAWN:
        (copy / name).unlink()
    result = CliRunner().invoke(cli, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert _bytes(copy) == _bytes(run)
    assert (copy / "returns.csv").read_bytes() == (run / "returns.csv").read_bytes()


def test_a_backtest_without_its_report_draws_it_later(sample_models: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = backtest_args(sample_models, "2018-01-01", "2019-06-30", out, "--no-report")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert not (out / "report.html").exists() and (out / INPUTS).is_file()
    assert not list(out.glob("*.png"))
    assert CliRunner().invoke(cli, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").is_file() and len(list(out.glob("*.png"))) == 10
    report = read_report(out)
    assert report.book.weights and report.data.frontier is not None


def test_a_folder_that_is_not_a_backtest_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a finished backtest folder"):
        read_report(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a finished backtest folder" in result.output
