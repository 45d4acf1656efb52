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
from deepquant.cli import main
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
    # the newest bundle trained on or before the as-of date
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
        (
            ["--model", "{models}", "--asof", "2017-06-30"],
            "no bundle trained on or before 2017-06-30",
        ),
        (["--model", "{empty}"], "no model bundle in it"),
        (["--model", "{models}", "--prices", "{blank}"], "no asset has at least 100 prices"),
        (
            ["--model", "{models}/2017-12-29", "--prices", "{tiny}"],
            "1 asset(s) have a complete window",
        ),
        (["--model", "{models}", "--asof", "2030-01-15"], "--asof 2030-01-15 is in the future"),
        (["--model", "{models}", "--asof", "2024-06-03"], "the data does not reach 2024-06-03"),
        (["--model", "{models}", "--asof", "June"], "Invalid value for '--asof'"),
        (["--asof", "2019-03-15"], "Missing option '--model'"),
        (["--model", "{models}", "--prices", "{inf}"], "non-finite price inf for AAPL"),
        (["--model", "{models}", "--prices", "{dup}"], "column 'AAPL' appears more than once"),
        (["--model", "{models}", "--capital", "inf"], "Invalid value for '--capital'"),
        (["--model", "{models}", "--capital", "1e21"], "Invalid value for '--capital'"),
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
    inf = sample_prices.with_columns(
        pl.when(pl.col("date") == pl.col("date").max()).then(float("inf")).otherwise("AAPL")
        .alias("AAPL")
    )  # fmt: skip
    inf.write_csv(tmp_path / "inf.csv")
    header = "date,AAPL,MSFT,AAPL\n2019-01-02,1,2,3\n"
    (tmp_path / "dup.csv").write_text(header)
    subst = {
        "models": str(models),
        "empty": str(tmp_path / "empty"),
        "blank": str(tmp_path / "blank.csv"),
        "tiny": str(tmp_path / "tiny.csv"),
        "inf": str(tmp_path / "inf.csv"),
        "dup": str(tmp_path / "dup.csv"),
    }
    out = tmp_path / "out"
    proc = _infer("--config", SAMPLE, *[a.format(**subst) for a in args], "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert message in lines[-1] and lines[-1].startswith("deepquant: error: ")
    assert "Usage:" not in proc.stderr
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_out_that_is_a_file_is_refused_before_any_work(models: Path, tmp_path: Path) -> None:
    target = tmp_path / "weights.csv"
    target.write_text("not a folder")
    proc = _infer("--config", SAMPLE, "--model", str(models), "--out", str(target))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"deepquant: error: --out {target}: is a file, not a folder"
    ]


def test_cron_weekend_rolls_back_to_friday_and_its_bundle(
    sample_prices: pl.DataFrame, models: Path, tmp_path: Path
) -> None:
    # A bundle trained on prices through Friday 2019-03-15 serves Friday's decision
    # (it saw nothing after that close), whether the job runs Friday, Saturday or Sunday.
    through_friday = tmp_path / "models"
    for bundle in models.iterdir():
        (through_friday / bundle.name).mkdir(parents=True)
        for f in bundle.iterdir():
            (through_friday / bundle.name / f.name).write_bytes(f.read_bytes())
    make_bundle(
        through_friday / "2019-03-15", sample_prices, dt.date(2017, 3, 1), dt.date(2019, 3, 15)
    )
    runs = {}
    for day in ("2019-03-15", "2019-03-16", "2019-03-17"):
        out = tmp_path / day
        proc = _infer(
            "--config", SAMPLE, "--model", str(through_friday), "--asof", day, "--out", str(out)
        )
        assert proc.returncode == 0, proc.stderr
        record = json.loads((out / "run_2019-03-15.json").read_text())
        assert record["asof"] == "2019-03-15" and record["requested_asof"] == day
        assert record["bundle"]["path"].endswith("2019-03-15")
        runs[day] = (out / "weights_2019-03-15.csv").read_text()
    assert runs["2019-03-15"] == runs["2019-03-16"] == runs["2019-03-17"]


def test_a_cron_week_end_friday_saturday_monday(models: Path, tmp_path: Path) -> None:
    out = tmp_path / "live"
    for day in ("2019-03-15", "2019-03-16", "2019-03-18"):
        proc = _infer("--config", SAMPLE, "--model", str(models), "--asof", day, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    friday = json.loads((out / "run_2019-03-15.json").read_text())
    monday = json.loads((out / "run_2019-03-18.json").read_text())
    # Saturday rolled back to Friday and found Friday's own weights: nothing to trade.
    assert friday["requested_asof"] == "2019-03-16"
    assert friday["trades"]["holdings"] == "weights_2019-03-15.csv"
    assert friday["trades"]["turnover_one_way"] == 0
    trades = pl.read_csv(out / "trades_2019-03-15.csv")
    assert (trades["change"] == 0).all()
    # Monday trades from Friday's weights to its own.
    assert monday["trades"]["holdings"] == "weights_2019-03-15.csv"
    mon = pl.read_csv(out / "trades_2019-03-18.csv")
    fri_w = dict(pl.read_csv(out / "weights_2019-03-15.csv").select("ticker", "weight").iter_rows())
    mon_w = dict(pl.read_csv(out / "weights_2019-03-18.csv").select("ticker", "weight").iter_rows())
    for row in mon.iter_rows(named=True):
        assert row["current"] == pytest.approx(fri_w.get(row["ticker"], 0.0))
        assert row["target"] == pytest.approx(mon_w.get(row["ticker"], 0.0))
    half = (mon["change"].abs().sum() + abs(mon["change"].sum())) / 2
    assert monday["trades"]["turnover_one_way"] == pytest.approx(half)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == sorted(
        f"{kind}_{d}.{ext}"
        for d in ("2019-03-15", "2019-03-18")
        for kind, ext in (("run", "json"), ("trades", "csv"), ("weights", "csv"))
    )


def test_a_bad_tick_leaves_the_run_with_its_reason_in_the_json(
    models: Path, sample_prices: pl.DataFrame, tmp_path: Path
) -> None:
    day = dt.date(2019, 3, 5)
    ticked = sample_prices.with_columns(
        pl.when(pl.col("date") == day).then(pl.col("AAPL") * 1000).otherwise("AAPL").alias("AAPL")
    )
    panel = tmp_path / "p.csv"
    ticked.write_csv(panel)
    out = tmp_path / "out"
    proc = _infer(
        "--config", SAMPLE, "--prices", str(panel), "--model", str(models),
        "--asof", "2019-03-15", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads((out / "run_2019-03-15.json").read_text())
    assert record["dropped"]["AAPL"].startswith("bad tick: x")
    assert "on 2019-03-05" in record["dropped"]["AAPL"]
    assert "AAPL" not in pl.read_csv(out / "weights_2019-03-15.csv")["ticker"].to_list()
    assert "AAPL (bad tick" in proc.stderr


def test_a_manifest_naming_the_wrong_graph_input_is_one_line(models: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in (models / "2018-12-31").iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["input_name"] = "prices"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    proc = _infer("--config", SAMPLE, "--model", str(bundle), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("deepquant: error: model bundle") and "'prices'" in last


#: What the cron job must not import on its default path: each costs start-up
#: time on every run, and none is needed to decide weights.
NOT_ON_THE_CRON_PATH = (
    "sklearn", "scipy", "pandas", "pypfopt", "cvxpy", "matplotlib", "torch", "ray",
)  # fmt: skip

LISTED_RUN = """
import sys
from deepquant.cli import main
sys.argv = ["deepquant"] + sys.argv[1:]
try:
    main()
except SystemExit:
    print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
    raise
"""


def _imports_of_infer(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", LISTED_RUN, "-q", "infer", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.strip().splitlines()[-1].split())


def test_the_cron_path_imports_only_what_it_uses(models: Path, tmp_path: Path) -> None:
    # The sample config builds the book as the default one does (momentum, top 3,
    # risk parity over a Ledoit-Wolf covariance, caps).
    loaded = _imports_of_infer("--config", SAMPLE, "--model", str(models), "--out", str(tmp_path))
    assert "onnxruntime" in loaded and "polars" in loaded  # the sanity of the listing
    assert not set(NOT_ON_THE_CRON_PATH) & loaded


def test_the_default_config_on_the_shared_panel_imports_only_what_it_uses(
    shared_panel_path: Path, shared_benchmark_path: Path, tmp_path: Path
) -> None:
    prices = pl.read_csv(shared_panel_path, try_parse_dates=True, infer_schema_length=None)
    make_bundle(
        tmp_path / "model", prices.filter(pl.col("date") <= dt.date(2024, 12, 31)),
        dt.date(2023, 1, 1), dt.date(2024, 12, 31), latent=64,
    )  # fmt: skip
    loaded = _imports_of_infer(
        "--config", str(ROOT / "configs" / "default.toml"), "--prices", str(shared_panel_path),
        "--model", str(tmp_path / "model"), "--out", str(tmp_path / "out"),
        "--regime-history", str(shared_benchmark_path),
    )  # fmt: skip
    assert not set(NOT_ON_THE_CRON_PATH) & loaded


def test_a_cap_that_leaves_cash_is_warned_and_recorded(models: Path, tmp_path: Path) -> None:
    text = (ROOT / "configs" / "sample.toml").read_text()
    config = tmp_path / "capped.toml"
    config.write_text(text.replace("max_cluster_weight = 0.4", "max_cluster_weight = 0.1"))
    proc = _infer("--config", str(config), "--model", str(models), "--asof", "2019-03-15",
                  "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "construction: caps:" in proc.stderr and "of the book to cash" in proc.stderr
    record = json.loads((tmp_path / "out" / "run_2019-03-15.json").read_text())
    assert "(caps)" in json.dumps(record)


def test_verbose_says_what_each_step_did(models: Path, tmp_path: Path) -> None:
    def run(*flags: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "deepquant", *flags, "infer", "--config", SAMPLE,
             "--model", str(models), "--asof", "2019-03-15", "--out", str(tmp_path / "out")],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    assert "DEBUG" not in run()
    debug = run("-v")
    assert "dates 2014-01-02 .. 2022-12-28" in debug  # the prices read
    assert "2019-03-15: bundle 2018-12-31" in debug and "k=" in debug and "picks " in debug
    assert "published infer_2019-03-15" in debug  # the files written
