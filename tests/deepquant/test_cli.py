"""The command group: lazy loading, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from deepquant.cli import COMMANDS, cli
from shared.options import ENV, ENV_PREFIX
from tests.imports import imported_after
from tests.paths import ROOT

SAMPLE = str(ROOT / "configs" / "sample.toml")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deepquant", *args],
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
        "from click.testing import CliRunner; from deepquant.cli import cli;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "assert all(c in r.output for c in ('train', 'infer', 'backtest', 'fetch', 'data'))"
    )
    heavy = {"torch", "onnxruntime", "trainer", "inferer", "yfinance"}
    assert not heavy & imported_after(code)


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "--config", SAMPLE, "--asof", "2024-99-01"], "'2024-99-01' is not a date"),
        (["data"], "Missing option '--config'"),
        (["data", "--config", SAMPLE, "--bogus"], "No such option '--bogus'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["--log-format", "xml", "data"], "Invalid value for '--log-format'"),
        (["train", "--config", SAMPLE, "--retrain-every", "0", "--out", "x"], "--retrain-every"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert lines[0].startswith("deepquant: error: ") and "--help" in lines[0]


def test_quiet_silences_info_and_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    spiky = tmp_path / "p.csv"
    spiky.write_text(
        "date,A,B\n"
        + "".join(f"2024-01-{d:02d},{d},{d}\n" for d in range(1, 31))
        + "2024-01-31,,1\n"
    )
    loud = _run("--log-format", "json", "data", "--config", SAMPLE, "--prices", str(spiky))
    records = [json.loads(line) for line in loud.stderr.strip().splitlines()[:-1]]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"].startswith("deepquant") for r in records)
    quiet = _run("-q", "data", "--config", SAMPLE, "--prices", str(spiky))
    assert quiet.stderr.strip().splitlines()[:-1] == []


def test_options_can_come_from_the_environment(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DEEPQUANT_CONFIG": SAMPLE, "DEEPQUANT_ASOF": "2019-06-14"}
    proc = subprocess.run(
        [sys.executable, "-m", "deepquant", "data"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "as of 2019-06-14" in proc.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_reads_the_documented_environment_variable(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    group_ctx = click.Context(cli, info_name="deepquant", auto_envvar_prefix=ENV_PREFIX)
    command = cli.get_command(group_ctx, name)
    assert command is not None
    ctx = click.Context(
        command, parent=group_ctx, info_name=name, auto_envvar_prefix=f"{ENV_PREFIX}_{name.upper()}"
    )
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in ("help",):
            continue
        # The parameter is named as its flag, so the automatic name reads as documented.
        assert param.opts[0] == "--" + str(param.name).replace("_", "-")
        expected = ENV.get(str(param.name), f"DEEPQUANT_{name.upper()}_{str(param.name).upper()}")
        monkeypatch.setenv(expected, "sentinel")
        assert param.resolve_envvar_value(ctx) == "sentinel", (name, param.name, expected)
        monkeypatch.delenv(expected)


def test_readme_documents_the_shared_environment_variables() -> None:
    readme = (ROOT / "README.md").read_text()
    for variable in ENV.values():
        assert f"`{variable}`" in readme, variable


def test_an_image_lists_and_runs_only_the_commands_it_holds() -> None:
    # As in the inference image: no backtest package, no torch.
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "gone = ('backtest', 'torch', 'trainer', 'matplotlib')\n"
        "importlib.util.find_spec = lambda n, *a: None if n in gone else real(n, *a)\n"
        "from deepquant.cli import main\n"
        "sys.argv = ['deepquant'] + sys.argv[1:]\n"
        "main()\n"
    )
    helped = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, cwd=ROOT
    )
    listed = {line.split()[0] for line in helped.stdout.split("Commands:")[1].splitlines() if line}
    assert listed == {"data", "fetch", "infer"}
    refused = subprocess.run(
        [sys.executable, "-c", code, "backtest", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "deepquant: error: command 'backtest' is not available in this installation "
        "(missing: backtest, matplotlib)"
    )
