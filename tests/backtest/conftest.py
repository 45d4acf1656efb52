"""One ``deepquant backtest`` run on the sample, shared by the tests that read its files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from deepquant.cli import cli
from tests.paths import ROOT

SAMPLE_CONFIG = ROOT / "configs" / "sample.toml"


def backtest_args(model: Path, start: str, end: str, out: Path, *more: str) -> list[str]:
    """``deepquant backtest`` arguments on the sample config."""
    return ["backtest", "--config", str(SAMPLE_CONFIG), "--model", str(model), "--start", start,
            "--end", end, "--out", str(out), *more]  # fmt: skip


@pytest.fixture(scope="session")
def backtest_run(sample_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Result:
    """A monthly backtest 2018-01 .. 2019-06 on the sample; its folder is ``run.out``."""
    out = tmp_path_factory.mktemp("backtest") / "bt"
    result = CliRunner().invoke(cli, backtest_args(sample_models, "2018-01-01", "2019-06-30", out))
    assert result.exit_code == 0, result.output
    result.out = out  # type: ignore[attr-defined]
    return result
