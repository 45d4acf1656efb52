"""The command group: lazy loading, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from shared.cli import cli
from tests.paths import ROOT

SAMPLE = str(ROOT / "configs" / "sample.toml")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_data_command_on_the_sample() -> None:
    result = CliRunner().invoke(cli, ["data", "--config", SAMPLE])
    assert result.exit_code == 0, result.output
    assert "26 assets" in result.output and "x 30 days x 5 features" in result.output


def test_help_lists_commands_without_importing_them() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from shared.cli import cli;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "assert all(c in r.output for c in ('train', 'infer', 'backtest', 'fetch', 'data'));"
        "heavy = ('torch', 'onnxruntime', 'trainer', 'inferer', 'yfinance');"
        "bad = [m for m in heavy if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_missing_config_is_exit_2_and_one_line() -> None:
    proc = _run("data", "--config", "nope.toml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "deepquant: error: nope.toml: config file not found"


def test_bad_prices_file_is_exit_2_and_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("date,A\n2024-01-02,1.0\n2024-01-01,2.0\n")
    proc = _run("data", "--config", SAMPLE, "--prices", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "dates are not sorted" in lines[0] and "Traceback" not in proc.stderr


def test_bad_date_option_is_a_usage_error() -> None:
    proc = _run("data", "--config", SAMPLE, "--asof", "2024-99-01")
    assert proc.returncode == 2 and "is not a date" in proc.stderr


def test_options_can_come_from_the_environment(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DEEPQUANT_CONFIG": SAMPLE, "DEEPQUANT_DATA_ASOF": "2019-06-14"}
    proc = subprocess.run(
        [sys.executable, "-m", "shared", "data"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "as of 2019-06-14" in proc.stdout
