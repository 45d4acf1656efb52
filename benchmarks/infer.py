"""Inference speed on the 338-asset shared panel.

Prints the wall time of ``deepquant infer`` as a whole process (interpreter
start to CSV written) and of each step in-process, medians over runs.
Targets (2-core CPU): whole process at or under 1 s; embedding 338 windows under 30 ms.
With ``--baseline DIR`` (a checkout of another commit) its whole process is timed
in turn with ours, and the ratio printed.

    .venv/bin/python benchmarks/infer.py --model models/wf/2025-12-31 [--repeat 5]

Without ``--model`` a linear ONNX stand-in encoder is used (and said so): the
embedding figure then says nothing about the real Transformer.

The regime layer's cost is timed apart, with ``[regime] model = --regime`` on
the benchmark's history since 1993 (``--history``): the online read inside
one decision (its share of the decision's steps), and a refit, which the
training job makes once per bundle. Target: the read in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HISTORY, PANEL, ROOT

CONFIG = ROOT / "configs" / "default.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--prices", type=Path, default=PANEL)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regime", default="jump", help="the regime model timed apart")
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="a checkout of another commit: its whole process is timed in turn with ours",
    )  # fmt: skip
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from inferer.embed import Embedder
    from inferer.pipeline import decide_asof
    from inferer.run import Run
    from shared.bundle import find_bundle
    from shared.config import load_settings
    from shared.features import compute_features
    from shared.prices import load_prices
    from shared.scaling import Scaler
    from shared.windows import windows_asof

    settings = load_settings(args.config, args.history)
    data = load_prices(settings.data, args.prices)
    asof = data.prices["date"][-1]
    model = args.model
    if model is None:
        from tests.bundles import make_bundle

        model = make_bundle(
            Path(tempfile.mkdtemp()) / "linear",
            data.prices,
            dt.date(2023, 1, 1),
            dt.date(2024, 12, 31),
            latent=settings.model.latent,
        )
        print("NOTE: no --model given: a linear stand-in encoder is used")
    bundle = find_bundle(model, asof, features=settings.features)

    whole, base, imports, bare = _process_times(args, model)
    steps: dict[str, list[float]] = {}
    embedder = Embedder(bundle, settings.inference.onnx_threads)
    run = Run(settings.inference.onnx_threads)  # one session across the repeats, as before
    cube = compute_features(data.prices, settings.features)
    win = windows_asof(cube, asof, bundle.manifest.window, Scaler.from_dict(bundle.manifest.scaler))
    embed_times = []
    for _ in range(max(args.repeat, 20)):
        t0 = time.perf_counter()
        embedder.embed(win.values)
        embed_times.append(time.perf_counter() - t0)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        load_prices(settings.data, args.prices)
        steps.setdefault("load prices", []).append(time.perf_counter() - t0)
        alloc = decide_asof(data.prices, asof, bundle, settings, run)
        for name, sec in alloc.timings.items():
            steps.setdefault(name, []).append(sec)

    print(f"panel {args.prices.name}: {len(data.tickers)} assets, as of {asof}; model {model}")
    print(f"median of {args.repeat} runs (embedding: of {len(embed_times)}):")
    print(f"  whole process, deepquant infer   {statistics.median(whole):7.2f} s    target <= 1 s")
    print(f"    of which imports               {statistics.median(imports):7.2f} s")
    print(f"    of which the interpreter       {statistics.median(bare):7.2f} s")
    if base:
        ratio = statistics.median(whole) / statistics.median(base)
        print(
            f"  baseline {args.baseline.name}, whole {statistics.median(base):7.2f} s"
            f"    ours / it {ratio:.2f}"
        )
    for name, values in steps.items():
        print(f"  {name:<32} {statistics.median(values) * 1e3:7.1f} ms")
    print(
        f"  embed {len(win.tickers)} windows (warm session)   "
        f"{statistics.median(embed_times) * 1e3:7.1f} ms   target < 30 ms"
    )
    _regime_times(args, settings, data.prices, asof, bundle, run)


def _regime_times(args, settings, prices, asof, bundle, run) -> None:  # type: ignore[no-untyped-def]
    """The regime layer's online read in a decision (its share), and one refit."""
    import json
    import shutil

    from inferer.pipeline import decide_asof
    from shared.bundle import MANIFEST_NAME, load_bundle
    from shared.regime import fit_regime, history_of_file

    layer = settings.regime.model_copy(update={"model": args.regime, "history": args.history})
    with_layer = settings.model_copy(update={"regime": layer})
    # The bundle as training writes it with the layer on: carrying its fitted model.
    carried = Path(tempfile.mkdtemp()) / bundle.path.name
    shutil.copytree(bundle.path, carried)
    history = history_of_file(args.history, settings.data.benchmark)
    manifest = json.loads((carried / MANIFEST_NAME).read_text())
    manifest["regime"] = fit_regime(history, bundle.manifest.train_end_date, layer).to_dict()
    (carried / MANIFEST_NAME).write_text(json.dumps(manifest))
    bundle = load_bundle(carried)
    reads, shares, fits = [], [], []
    for _ in range(args.repeat):
        alloc = decide_asof(prices, asof, bundle, with_layer, run)
        reads.append(alloc.timings["regime"])
        shares.append(alloc.timings["regime"] / sum(alloc.timings.values()))
        t0 = time.perf_counter()
        fit_regime(history_of_file(args.history, settings.data.benchmark), asof, layer)
        fits.append(time.perf_counter() - t0)
    print(f"regime layer ({args.regime}, history {args.history.name}), median of {args.repeat}:")
    print(
        f"  online read in a decision        {statistics.median(reads) * 1e3:7.1f} ms"
        f"   {statistics.median(shares):.1%} of the decision's steps"
    )
    print(f"  refit (once per bundle, training) {statistics.median(fits):7.2f} s")


#: What ``deepquant infer`` imports before it reads a price: its start-up.
CRON_IMPORTS = "import deepquant.cli, inferer.cli, inferer.pipeline, inferer.output, shared.prices"


def _timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - t0


def _process_times(
    args: argparse.Namespace, model: Path
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Whole ``infer`` processes (ours, and the baseline's in turn), its imports, a bare Python."""
    import os

    whole, base, imports, bare = [], [], [], []
    with tempfile.TemporaryDirectory() as out:
        tail = ["-q", "infer", "--config", str(args.config.resolve()),
                "--prices", str(args.prices.resolve()),
                "--regime-history", str(args.history.resolve()),
                "--model", str(Path(model).resolve())]  # fmt: skip
        ours = [sys.executable, "-m", "deepquant", *tail, "--out", f"{out}/ours"]
        theirs: list[str] = []
        env = None
        if args.baseline is not None:
            old = (
                "deepquant" if (args.baseline / "deepquant" / "__main__.py").is_file() else "shared"
            )
            theirs = [sys.executable, "-m", old, *tail, "--out", f"{out}/theirs"]
            env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
        for _ in range(args.repeat):
            whole.append(_timed(ours))
            if theirs:
                # From its own folder: `-m` puts the working folder first on the path.
                base.append(_timed(theirs, env, args.baseline))
            imports.append(_timed([sys.executable, "-c", CRON_IMPORTS]))
            bare.append(_timed([sys.executable, "-c", "pass"]))
    return whole, base, imports, bare


if __name__ == "__main__":
    main()
