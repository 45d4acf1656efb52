"""``deepquant sweep`` on a local Ray of 2 CPUs, on the embedded sample.

The grid is 2 variants (one pick per cluster, two) x 2 model seeds. Its
results must be what the same backtests give run one by one with
``deepquant train`` and ``deepquant backtest``; a second run must train and
backtest nothing; and a sweep whose backtest worker is killed (``kill -9``)
must still finish with the same results. The same grid on a cluster of two
Ray nodes (``ray start``, token authentication, ``--address``) must give the
same files again, with tasks on both nodes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.baselines import BASELINES
from backtest.ledger import trial_sharpes
from backtest.statistics import sharpe_statistics
from sweep.grid import load_grid

pytest.importorskip("ray", reason="the `scale` extra (Ray) is not installed")

from tests.fast import FAST
from tests.paths import ROOT

pytestmark = pytest.mark.slow

GRID = ROOT / "configs" / "grids" / "sample.toml"
JOBS = [("top1", 0), ("top1", 1), ("top2", 0), ("top2", 1)]


def _deepquant(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1"}
    cmd = [sys.executable, "-m", "deepquant", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _sweep(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return _deepquant("sweep", "--config", str(config), "--grid", str(GRID), "--out", str(out),
                      "--num-cpus", "2", "--ledger", str(out.parent / "trials.csv"))  # fmt: skip


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "fast.toml"
    path.write_text(FAST)
    return path


@pytest.fixture(scope="module")
def swept(config: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("sweep") / "out"
    return out, _sweep(config, out).stderr


def test_results_equal_the_backtests_run_one_by_one(
    swept: tuple[Path, str], config: Path, tmp_path: Path
) -> None:
    out, log = swept
    assert "4 bundle(s) to train" in log and "4 backtest(s) to run" in log
    for seed in (0, 1):
        cfg = tmp_path / f"seed{seed}.toml"
        cfg.write_text(FAST.replace("[train]", f"[train]\nseed = {seed}"))
        models = tmp_path / f"models{seed}"
        _deepquant("train", "--config", str(cfg), "--start", "2017-01-01", "--end", "2018-12-28",
                   "--retrain-every", "12", "--out", str(models))  # fmt: skip
        for variant, top in (("top1", 1), ("top2", 2)):
            if (variant, seed) not in {("top1", 1), ("top2", 0)}:
                continue  # two of the four, one per seed and one per variant, keep it short
            vcfg = tmp_path / f"{variant}{seed}.toml"
            vcfg.write_text(cfg.read_text().replace("[inference]", f"[inference]\ntop_n = {top}"))
            bt = tmp_path / f"bt_{variant}_{seed}"
            _deepquant("backtest", "--config", str(vcfg), "--model", str(models), "--start",
                       "2017-01-01", "--end", "2018-12-28", "--out", str(bt))  # fmt: skip
            for name in ("returns.csv", "weights.csv", "rebalances.csv", "metrics.json"):
                assert (bt / name).read_bytes() == (out / variant / str(seed) / name).read_bytes()


def test_results_table_ledger_and_summary(swept: tuple[Path, str]) -> None:
    out, _ = swept
    results = pl.read_parquet(out / "results.parquet")
    assert set(zip(results["variant"], results["seed"], strict=True)) == set(JOBS)
    # Every baseline but 60/40 (no SPY or AGG in the sample).
    assert set(results["series"]) == {"strategy", "benchmark", *BASELINES} - {"sixty_forty"}
    assert results.height == 4 * len(set(results["series"]))
    assert pl.read_csv(out / "results.csv").height == results.height
    ledger = pl.read_csv(out / "ledger.csv")
    assert ledger.height == 4 and ledger["n_days"].min() > 400
    strategy = results.filter(pl.col("series") == "strategy").sort("variant", "seed")
    assert ledger.sort("variant", "seed")["sharpe"].to_list() == pytest.approx(
        strategy["sharpe"].to_list()
    )
    # The repository's ledger got the same four trials, under the grid's period.
    grid = load_grid(GRID, ROOT / "configs" / "sample.toml")
    recorded = trial_sharpes(out.parent / "trials.csv", grid.start, grid.end)
    assert sorted(recorded) == pytest.approx(sorted(strategy["sharpe"].to_list()))
    # Deflated Sharpe ratios counting the sweep's own four trials, as a backtest run after it
    # would report them (its statistics on the job's returns over the risk-free rate).
    assert strategy["dsr_ledger_trials"].to_list() == [4.0] * 4
    assert (strategy["dsr_ledger"] < strategy["psr"]).all()
    job = out / "top2" / "1"
    inputs = json.loads((job / "report_inputs.json").read_text())
    rf = np.array(inputs["risk_free"], dtype=np.float64)
    returns = pl.read_csv(job / "returns.csv")["strategy"].to_numpy()
    stats = sharpe_statistics({"strategy": returns}, rf, inputs["periods_per_year"],
                              trial_sharpes=recorded, reps=10)  # fmt: skip
    row = strategy.filter((pl.col("variant") == "top2") & (pl.col("seed") == 1))
    assert row["dsr_ledger"][0] == pytest.approx(stats["strategy"]["dsr"], rel=1e-12)
    summary = (out / "summary.md").read_text()
    assert "2 variant(s), 4 trial(s)" in summary and "| top2 | 2 |" in summary
    assert (out / "sharpe.png").read_bytes()[:4] == b"\x89PNG"
    # Bundles are shared: 2 seeds x 2 retrain dates, whatever the variants.
    assert len([p for p in (out / "bundles").iterdir() if p.is_dir()]) == 4


def test_a_second_run_trains_and_backtests_nothing(swept: tuple[Path, str], config: Path) -> None:
    out, _ = swept
    before = {p: p.stat().st_mtime_ns for p in out.rglob("returns.csv")}
    log = _sweep(config, out).stderr
    assert "0 bundle(s) to train" in log and "0 backtest(s) to run" in log
    assert {p: p.stat().st_mtime_ns for p in out.rglob("returns.csv")} == before


def _ray_task(prefix: str) -> int | None:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if title.startswith(prefix):
                return int(proc.name)
    return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's workers through /proc")
def test_a_killed_worker_is_retried_and_the_results_are_whole(
    swept: tuple[Path, str], config: Path, tmp_path: Path
) -> None:
    out, _ = swept
    again = tmp_path / "killed"
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1"}
    cmd = [sys.executable, "-m", "deepquant", "sweep", "--config", str(config), "--grid", str(GRID),
           "--out", str(again), "--num-cpus", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        killed = _ray_task("ray::variant ")
        time.sleep(0.2)
    assert killed is not None, "no backtest task was seen running"
    os.kill(killed, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    for variant, seed in JOBS:
        for name in ("returns.csv", "weights.csv", "metrics.json"):
            got = (again / variant / str(seed) / name).read_bytes()
            assert got == (out / variant / str(seed) / name).read_bytes(), (variant, seed, name)
    assert not list(again.rglob(".staging-*"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_nodes(address: str, env: dict[str, str], count: int) -> None:
    wait = (
        "import ray, sys, time\n"
        f"ray.init(address={address!r}, log_to_driver=False)\n"
        "deadline = time.monotonic() + 120\n"
        f"while sum(n['Alive'] for n in ray.nodes()) < {count}:\n"
        "    if time.monotonic() > deadline: sys.exit('nodes missing')\n"
        "    time.sleep(0.5)\n"
    )
    subprocess.run([sys.executable, "-c", wait], env=env, check=True, timeout=180,
                   capture_output=True)  # fmt: skip


@pytest.fixture
def two_nodes() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray cluster of two nodes of 1 CPU each, as ``ray start`` makes one, with a token.

    Its files live in a temporary folder of their own, so nothing of it (the
    address file ``ray.init`` looks for among them) outlives the test.
    """
    temp = Path(tempfile.mkdtemp(prefix="dq-ray-", dir="/tmp"))  # socket paths must be short
    token = temp / "token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN_PATH": str(token)}  # fmt: skip
    ray = str(Path(sys.executable).parent / "ray")
    address = f"127.0.0.1:{_free_port()}"
    node = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--temp-dir", str(temp),
            "--block", "--disable-usage-stats"]  # fmt: skip
    head = [ray, "start", "--head", "--port", address.split(":")[1], "--include-dashboard",
            "false", "--ray-client-server-port", str(_free_port()), *node]  # fmt: skip
    procs = [subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for cmd in (head, [ray, "start", "--address", address, *node])]  # fmt: skip
    try:
        _wait_for_nodes(address, env, 2)
        yield address, env
    finally:
        for proc in procs[::-1]:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_two_node_cluster_gives_the_same_results(
    swept: tuple[Path, str], config: Path, tmp_path: Path, two_nodes: tuple[str, dict[str, str]]
) -> None:
    out, _ = swept
    address, env = two_nodes
    again = tmp_path / "cluster"
    cmd = [sys.executable, "-m", "deepquant", "sweep", "--config", str(config), "--grid", str(GRID),
           "--out", str(again), "--address", address]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    for variant, seed in JOBS:
        for name in ("returns.csv", "weights.csv", "rebalances.csv", "metrics.json"):
            got = (again / variant / str(seed) / name).read_bytes()
            assert got == (out / variant / str(seed) / name).read_bytes(), (variant, seed, name)
    # Every task's log names its node: the grid ran on both.
    logs = [*again.glob("bundles/*.log"), *again.glob("*/*/task.log")]
    nodes = {m for p in logs for m in re.findall(r"on node ([0-9a-f]+)", p.read_text())}
    assert len(logs) == 8 and len(nodes) == 2


def test_only_the_best_variant_gets_its_report(swept: tuple[Path, str]) -> None:
    # --reports best, the default: every job's data, the best variant's charts and report.
    out, _ = swept
    results = pl.read_parquet(out / "results.parquet")
    strat = results.filter(pl.col("series") == "strategy")
    means = strat.group_by("variant").agg(pl.col("sharpe").mean()).sort("sharpe")
    best = means["variant"][-1]
    for variant, seed in JOBS:
        folder = out / variant / str(seed)
        assert (folder / "report_inputs.json").is_file()
        assert (folder / "report.html").is_file() == (variant == best)
        assert bool(list(folder.glob("*.png"))) == (variant == best)


PROTOCOL = """
seeds = [0]
cost_bps = [10.0]

[period]
train_start = 2017-01-01
retrain_every = 12
start = 2017-01-01
end = 2018-06-29

[selection]
baseline = "{baseline}"
max_turnover = 50.0
relaxed_turnover = 60.0
drawdown_of = "equal_weight"
drawdown_ratio = {ratio}
tie = 0.0

[holdout]
start = 2018-07-02
end = 2018-12-28
seeds = [0]
cost_bps = [10.0, 25.0]

[holdout.ablations.top3]
inference.top_n = 3

[variants.top1]

[variants.top2]
inference.top_n = 2
"""


def test_a_protocol_selects_then_runs_the_held_out_period_once(
    config: Path, tmp_path: Path
) -> None:
    grid, out, ledger = tmp_path / "protocol.toml", tmp_path / "out", tmp_path / "trials.csv"
    grid.write_text(PROTOCOL.format(baseline="top1", ratio=10.0))
    cmd = ("sweep", "--config", str(config), "--grid", str(grid), "--out", str(out),
           "--num-cpus", "2", "--ledger", str(ledger))  # fmt: skip
    first = _deepquant(*cmd)
    # The rule's bounds hold every variant: the higher development Sharpe wins.
    dev = pl.read_parquet(out / "results.parquet").filter(pl.col("series") == "strategy")
    best = dev.filter(pl.col("sharpe").is_finite()).sort("sharpe", descending=True)["variant"][0]
    chosen = json.loads((out / "holdout" / "selection.json").read_text())
    assert chosen["variant"] == best and chosen["step"].startswith("both bounds")
    assert f"Selected: **{best}**" in (out / "selection.md").read_text()
    # The held-out jobs: the choice and its ablation, at both costs, on the held-out days.
    held = pl.read_parquet(out / "holdout" / "results.parquet")
    assert set(held["variant"]) == {f"{best}{a}-{c}bps" for a in ("", "_top3") for c in (10, 25)}
    returns = pl.read_csv(out / "holdout" / f"{best}-10bps" / "0" / "returns.csv")
    assert returns["date"].min() >= "2018-07-02" and returns["date"].max() <= "2018-12-28"
    # Both periods' trials are in the ledger; the held-out DSR counts the four held-out ones.
    trials = pl.read_csv(ledger)
    assert sorted(trials["start"].unique().to_list()) == ["2017-01-01", "2018-07-02"]
    assert held["dsr_ledger_trials"].drop_nulls().unique().to_list() == [4.0]
    # The held-out jobs read the development's two bundles: none is trained twice.
    assert "sweep: 2 bundle(s) to train" in first.stderr
    assert first.stderr.count("sweep: 0 bundle(s) to train") == 1
    again = _deepquant(*cmd)
    assert again.stderr.count("sweep: 0 bundle(s) to train") == 2
    # A rule that would now select the other variant is refused, naming the first.
    other = "top2" if best == "top1" else "top1"
    grid.write_text(PROTOCOL.format(baseline=other, ratio=0.001))
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1"}
    refused = subprocess.run([sys.executable, "-m", "deepquant", *cmd], capture_output=True,
                             text=True, timeout=600, env=env)  # fmt: skip
    assert refused.returncode == 2
    assert f"was run for '{best}'; a protocol runs it once" in refused.stderr
    # The refused run changed nothing: selection.md still names the first choice.
    assert f"Selected: **{best}**" in (out / "selection.md").read_text()
