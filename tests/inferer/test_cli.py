"""``deepquant infer`` as a whole process: outputs, exit codes, and no torch."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.bundles import make_bundle
from tests.paths import ROOT

SAMPLE = str(ROOT / "configs" / "sample.toml")

NO_TORCH_RUN = """
import sys
from shared.cli import main
sys.argv = ["deepquant"] + sys.argv[1:]
try:
    main()
except SystemExit as exit:
    heavy = [m for m in ("torch", "trainer", "backtest", "matplotlib") if m in sys.modules]
    assert not heavy, f"imported {heavy}"
    raise
"""


@pytest.fixture(scope="module")
def models(sample_prices: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    make_bundle(root / "2017-12-29", sample_prices, dt.date(2016, 1, 1), dt.date(2017, 12, 29))
    make_bundle(root / "2018-12-31", sample_prices, dt.date(2017, 1, 1), dt.date(2018, 12, 31))
    return root


def _infer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH_RUN, "infer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_infer_writes_outputs_without_importing_torch(models: Path, tmp_path: Path) -> None:
    proc = _infer(
        "--config", SAMPLE, "--model", str(models), "--asof", "2019-03-15", "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_csv(tmp_path / "weights_2019-03-15.csv")
    assert abs(frame["weight"].sum() - 1) < 1e-9 and (frame["weight"] >= 0).all()
    record = json.loads((tmp_path / "run_2019-03-15.json").read_text())
    # the newest bundle trained strictly before the as-of date
    assert record["bundle"]["path"].endswith("2018-12-31")
    # Every step is timed, loading included; the clustering says how many assets it used.
    steps = {"read", "clean", "features", "windows", "embed", "cluster", "select", "allocate"}
    assert set(record["timings"]) == steps
    clustered = sum(len(c["members"]) for c in record["clusters"])
    assert record["tree_assets"] == record["silhouette_assets"] == clustered


def test_default_asof_is_the_last_date(models: Path, tmp_path: Path) -> None:
    proc = _infer("--config", SAMPLE, "--model", str(models / "2018-12-31"), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "weights_2022-12-28.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/nonexistent"], "models folder /nonexistent: not found"),
        (["--model", "{models}", "--asof", "2017-06-30"], "no bundle trained before 2017-06-30"),
        (["--model", "{empty}"], "no model bundle in it"),
        (["--model", "{models}", "--prices", "{blank}"], "no asset has at least 100 prices"),
        (
            ["--model", "{models}/2017-12-29", "--prices", "{tiny}"],
            "1 asset(s) have a complete window",
        ),
    ],
)
def test_bad_input_exit_2_one_line_no_output(
    models: Path, tmp_path: Path, sample_prices: pl.DataFrame, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    sample_prices.select(
        "date", pl.col("AAPL").map_elements(lambda _: None, return_dtype=pl.Float64)
    ).write_csv(tmp_path / "blank.csv")
    sample_prices.select("date", "AAPL").head(120).write_csv(tmp_path / "tiny.csv")
    subst = {
        "models": str(models),
        "empty": str(tmp_path / "empty"),
        "blank": str(tmp_path / "blank.csv"),
        "tiny": str(tmp_path / "tiny.csv"),
    }
    out = tmp_path / "out"
    proc = _infer("--config", SAMPLE, *[a.format(**subst) for a in args], "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr.strip().splitlines()[-1]
    assert not out.exists() or not any(out.iterdir())
