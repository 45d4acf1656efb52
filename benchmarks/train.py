"""Benchmark: train the DEFAULT config on the 338-asset shared panel, 2023-2024.

Prints windows/s, wall time per stage and in total, and the final validation
loss against the naive baseline (predict each feature's training mean). The
budget is 5 minutes on a 2-core CPU; timings on a shared machine vary by +-50%.

Usage::

    .venv/bin/python benchmarks/train.py [--prices PATH] [--start 2023-01-01] [--end 2024-12-31]
                                         [--device auto|cpu|cuda] [--precision float32|bf16]
                                         [--check]

``--device cuda`` on a machine without a CUDA GPU says so and exits with 2.

``--check`` exits with status 1 when the run takes over 5 minutes or the
validation loss is not below half the naive baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.config import DataSettings, Settings  # noqa: E402
from shared.features import compute_features  # noqa: E402
from shared.prices import load_prices  # noqa: E402
from trainer.export import write_bundle  # noqa: E402
from trainer.train import fit  # noqa: E402
from trainer.walkforward import split_windows  # noqa: E402

PANEL = (
    Path(os.environ.get("DEEPQUANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
    / "prices_2015_2026.csv.gz"
)
BUDGET_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", type=Path, default=PANEL)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2024, 12, 31))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["float32", "bf16"], default="float32")
    parser.add_argument("--check", action="store_true", help="exit 1 if over budget or weak")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not args.prices.is_file():
        print(f"panel not found: {args.prices}", file=sys.stderr)
        return 2

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA GPU on this machine: nothing measured (run it where one is)", file=sys.stderr
        )
        return 2
    base = Settings()
    train = {"device": args.device, "precision": args.precision}
    settings = base.model_copy(update={"train": base.train.model_copy(update=train)})
    t0 = time.perf_counter()
    # A year of prices before the period covers every indicator's warm-up.
    data = load_prices(
        DataSettings(start=args.start.replace(year=args.start.year - 1)), args.prices
    )
    prices = data.prices.filter(data.prices["date"] <= args.end)
    t1 = time.perf_counter()
    cube = compute_features(prices, settings.features)
    split = split_windows(cube, settings, args.start, args.end)
    t2 = time.perf_counter()
    result = fit(split.train, split.val, settings.model, settings.train)
    t3 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(
            Path(tmp) / "bundle",
            result.model.encoder,
            features=settings.features,
            scaler=split.scaler,
            train_start=split.start,
            train_end=split.end,
            universe=cube.tickers,
            losses=result.losses(),
            latent=settings.model.latent,
            sample=split.val[:300],
        )
    t4 = time.perf_counter()
    total = t4 - t0

    ts, ms = settings.train, settings.model
    print(
        f"panel        {args.prices.name}: {len(cube.tickers)} assets, {args.start} .. {args.end}"
    )
    print(
        f"config       d_model {ms.d_model}, {ms.n_layers} layers, {ms.n_heads} heads, "
        f"d_ff {ms.d_ff}, latent {ms.latent}, {ms.decoder} decoder, dropout {ms.dropout}; "
        f"stride {ts.stride}, batch {ts.batch_size}, {ts.epochs} epochs, "
        f"{ts.threads} thread(s), device {result.device}, {ts.precision} steps"
    )
    if result.device == "cuda":
        print(f"card         {torch.cuda.get_device_name(0)}")
    print(
        f"windows      {result.n_train} train (to {split.train_end}), "
        f"{result.n_val} validation (from {split.val_start})"
    )
    print(f"throughput   {result.windows_per_s:.0f} windows/s (training steps)")
    print(
        f"wall time    {total:.1f} s total: load {t1 - t0:.1f}, features+windows {t2 - t1:.1f}, "
        f"fit {t3 - t2:.1f} ({len(result.history)} epochs, {result.stopped}), "
        f"export+parity {t4 - t3:.1f}"
    )
    ratio = result.val_loss / result.naive_val
    print(
        f"loss         val {result.val_loss:.4f} vs naive {result.naive_val:.4f} "
        f"({ratio:.1%} of naive); train {result.train_loss:.4f} vs naive {result.naive_train:.4f}"
    )
    ok = total <= BUDGET_S and ratio < 0.5
    print(f"verdict      {'OK' if ok else 'FAIL'} (budget {BUDGET_S:.0f} s, val < 50% of naive)")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
