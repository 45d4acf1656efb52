"""Ray scale-out: parallel walk-forward training, a grid sharing its clusterings, Ray's overhead.

Each figure is a ratio of two timings taken in the same run (this machine is
shared and noisy):

- ``train``: the 2017-2026 walk-forward series on the shared 338-asset panel
  (10 bundles), ``deepquant train --workers 2`` against ``--workers 1``.
  Target <= 0.6.
- ``grid``: 16 variants that differ only after clustering (method x top_n x
  max_weight), backtested 2017-2026 on the same bundles as a sweep runs them
  (the cache of embeddings and clusterings filled first, one task per run of
  decision dates, then every variant), against one variant alone with an
  empty cache, with its report. Target <= 2.5x with reports for the best
  variant only (``--reports best``, the sweep's default), <= 3x with every
  variant's report, and <= 3x for the backtests alone against one alone.
- ``ensemble``: one retrain date's bundle (2026-01) with a seed ensemble of
  three models (``[train] seeds = 3``) against one model: ``deepquant train
  --workers 1`` trains the members one after the other (about 3x expected),
  ``--workers 2`` as Ray tasks on two cores (``trainer/members.py``: one
  bundle leaves a core to spare; about 2x expected: two members, then the
  third). The cron job's cost of K
  members is ``benchmarks/infer.py``'s.
- ``overhead``: 100 empty Ray tasks, wall clock, after ``ray.init``: first
  with the workers' start-up, then again. Target < 3 s.

    .venv/bin/python benchmarks/sweep.py --part overhead
    .venv/bin/python benchmarks/sweep.py --part grid --model runs/real_s14/models/wf
    .venv/bin/python benchmarks/sweep.py --part train      # ~30 min on 2 cores
    .venv/bin/python benchmarks/sweep.py --part ensemble   # ~10 min on 2 cores
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HISTORY, PANEL, ROOT

CONFIG = ROOT / "configs" / "default.toml"
START, END = dt.date(2017, 1, 1), dt.date(2026, 7, 31)


def part_train(work: Path) -> None:
    times = {}
    for workers in (1, 2):
        out = work / f"wf_{workers}"
        cmd = [sys.executable, "-m", "deepquant", "-q", "train", "--config", str(CONFIG),
               "--prices", str(PANEL), "--regime-history", str(HISTORY),
               "--start", str(START), "--end", str(END),
               "--retrain-every", "12", "--workers", str(workers), "--out", str(out)]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times[workers] = time.perf_counter() - t0
        print(f"train --workers {workers}: {times[workers]:.0f} s", flush=True)
    same = all(
        (work / "wf_1" / d.name / "model.onnx").read_bytes() == (d / "model.onnx").read_bytes()
        for d in sorted((work / "wf_2").iterdir()) if d.is_dir()
    )  # fmt: skip
    ratio = times[2] / times[1]
    print(f"train workers 2 / 1: {ratio:.2f} (target <= 0.6); bundles identical: {same}")


def part_ensemble(work: Path) -> None:
    times = {}
    for seeds, workers in ((1, 1), (3, 1), (3, 2)):
        config = work / f"seeds{seeds}.toml"
        text = CONFIG.read_text().replace(
            'universe = "universe.toml"', f'universe = "{CONFIG.parent / "universe.toml"}"'
        )
        config.write_text(text.replace("[train]", f"[train]\nseeds = {seeds}"))  # fmt: skip
        cmd = [sys.executable, "-m", "deepquant", "-q", "train", "--config", str(config),
               "--prices", str(PANEL), "--regime-history", str(HISTORY),
               "--start", "2026-01-01", "--end", "2026-01-31",
               "--retrain-every", "12", "--workers", str(workers),
               "--out", str(work / f"e{seeds}_{workers}")]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times[seeds, workers] = time.perf_counter() - t0
        print(f"train one bundle, {seeds} model(s), --workers {workers}: "
              f"{times[seeds, workers]:.0f} s", flush=True)  # fmt: skip
    single = times[1, 1]
    print(f"ensemble of 3 / one model: {times[3, 1] / single:.2f} one after the other, "
          f"{times[3, 2] / single:.2f} as Ray tasks on 2 cores")  # fmt: skip


def _variants() -> list[dict[str, object]]:
    grid = itertools.product(("hrp", "inverse_vol", "min_vol", "max_sharpe"), (1, 2), (1.0, 0.3))
    return [{"method": m, "top_n": n, "max_weight": w} for m, n, w in grid]


def _grid_pass(
    model: Path, work: Path, variants: list[dict[str, object]], report: str
) -> tuple[float, float]:
    """Seconds for ``variants`` as a sweep runs them, and of it filling the cache in chunks.

    One variant alone is the plain backtest with an empty cache: no chunks first.
    ``report``: "all" draws every variant's charts and report in its task, "best"
    writes their data and draws one report after them (as ``--reports best``),
    "none" runs the backtests alone, writing nothing.
    """
    from backtest.engine import decision_dates, run_backtest
    from backtest.job import BacktestJob, draw_report
    from inferer.memo import Memo
    from shared.bundle import list_bundles
    from shared.config import load_settings
    from shared.parallel import Task, run_tasks
    from shared.prices import load_prices
    from sweep.run import chunks
    from sweep.tasks import backtest_one, warm_one

    base = load_settings(CONFIG, HISTORY)
    data = load_prices(base.data, PANEL)
    import ray

    ref = ray.put(data)
    cache = Path(tempfile.mkdtemp(dir=work))
    tasks, folders = [], []
    for k, v in enumerate(variants):
        settings = base.model_copy(update={"inference": base.inference.model_copy(update=v)})
        out = work / f"v{k}_{time.monotonic_ns()}"
        if report != "none":
            names = ("default.toml", PANEL.name)
            args = (ref, settings.model_dump(mode="json"), str(model), START, END, str(out),
                    str(cache), names, out.name, report == "all")  # fmt: skip
            tasks.append(Task(f"variant {k}", backtest_one, args, out / "task.log"))
            folders.append(out)
        else:
            job = BacktestJob(model, START, END, out, "default.toml")

            def run(d, s, j=job, c=str(cache)):  # type: ignore[no-untyped-def]
                return run_backtest(d.prices, s, j.model, j.start, j.end, memo=Memo(c)).metrics

            tasks.append(Task(f"variant {k}", run, (ref, settings), work / f"v{k}.log"))
    t0 = time.perf_counter()
    warm = 0.0
    if len(variants) > 1:
        days = decision_dates(data.prices, START, END, base.backtest)
        runs = chunks(days, len(list_bundles(model)), END)
        settings_json = base.model_dump(mode="json")
        run_tasks([Task(f"cache {a}", warm_one, (ref, settings_json, str(model), a, b, str(cache)),
                        work / f"cache_{a}.log") for a, b in runs], "cached")  # fmt: skip
        warm = time.perf_counter() - t0
    run_tasks(tasks, "backtested")
    if report == "best":
        draw_report(folders[0])  # whichever is best, one report costs the same
    return time.perf_counter() - t0, warm


def part_grid(model: Path, work: Path) -> None:
    from shared.parallel import connect

    connect(num_cpus=2)
    one, _ = _grid_pass(model, work, _variants()[:1], "all")
    for report, what, target in (("best", "reports for the best only", 2.5),
                                 ("all", "every variant's report", 3.0),
                                 ("none", "backtests alone", 3.0)):  # fmt: skip
        # Against one variant with its report: what a user runs without a grid.
        base = one if report != "none" else _grid_pass(model, work, _variants()[:1], "none")[0]
        many, warm = _grid_pass(model, work, _variants(), report)
        print(f"grid ({what}): 1 variant {base:.1f} s, 16 variants {many:.1f} s (the cache "
              f"filled in {warm:.1f} s of it), ratio {many / base:.2f} (target <= {target})",
              flush=True)  # fmt: skip


def part_overhead() -> None:
    import ray

    from shared.parallel import connect

    t0 = time.perf_counter()
    connect(num_cpus=2)
    init = time.perf_counter() - t0

    @ray.remote
    def empty() -> None:
        return None

    t0 = time.perf_counter()
    ray.get([empty.remote() for _ in range(100)])  # workers start on demand
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray.get([empty.remote() for _ in range(100)])
    warm = time.perf_counter() - t0
    print(f"ray.init {init:.1f} s; 100 empty tasks {cold:.2f} s with worker start-up, "
          f"{warm:.2f} s once they are up (target < 3)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ("train", "grid", "overhead", "ensemble", "all")
    parser.add_argument("--part", choices=parts, default="all")
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "real_s14" / "models" / "wf")
    parser.add_argument("--work", type=Path, default=None, help="keep files here (default: temp)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = args.work or Path(tempfile.mkdtemp(prefix="dq-sweep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.part in ("overhead", "all"):
            part_overhead()
        if args.part in ("grid", "all"):
            part_grid(args.model.resolve(), work)
        if args.part in ("train", "all"):
            part_train(work)
        if args.part in ("ensemble", "all"):
            part_ensemble(work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
