#!/usr/bin/env bash
# The real runs quoted in the README, on the shared 338-instrument panel
# (../shared/data/prices_2015_2026.csv.gz). About 25 minutes on 2 CPU cores.
#   1. walk-forward training: a bundle every 12 months 2017-01 .. 2026-01, each on the 2 years before
#   2. monthly backtest 2017-01 .. 2026-07, 10 bps costs, against SPY and the baselines
#   3. the seed project's experiment: train 2023-2024, test 2025 (no costs, then 10 bps)
# SKIP_TRAIN=1 reruns only the backtests (about 5 minutes) on the models already in $OUT/models.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PANEL:-../shared/data/prices_2015_2026.csv.gz}
OUT=${OUT:-runs}
DQ=.venv/bin/deepquant

train() { if [ -z "${SKIP_TRAIN:-}" ]; then $DQ train "$@"; fi; }

train --config configs/default.toml --prices "$P" --start 2017-01-01 --end 2026-07-31 \
  --retrain-every 12 --out "$OUT/models/wf"
$DQ backtest --config configs/default.toml --prices "$P" --model "$OUT/models/wf" \
  --start 2017-01-01 --end 2026-07-31 --out "$OUT/backtest_2017_2026"
# Trained to 2024-12-27 so that it is strictly older than the first rebalance,
# 2024-12-31, whose weights earn the first 2025 returns.
train --config configs/experiments/seed_2025.toml --prices "$P" \
  --start 2023-01-01 --end 2024-12-27 --out "$OUT/models/seed_2023_2024"
$DQ backtest --config configs/experiments/seed_2025.toml --prices "$P" \
  --model "$OUT/models/seed_2023_2024" --start 2024-12-31 --end 2025-12-31 --out "$OUT/seed_2025_nocost"
$DQ backtest --config configs/experiments/seed_2025_10bps.toml --prices "$P" \
  --model "$OUT/models/seed_2023_2024" --start 2024-12-31 --end 2025-12-31 --out "$OUT/seed_2025_10bps"
# Ablation: without the cash-like rule (min_vol = 0), as the first real run was.
$DQ backtest --config configs/experiments/no_cash_rule.toml --prices "$P" --model "$OUT/models/wf" \
  --start 2017-01-01 --end 2026-07-31 --out "$OUT/backtest_2017_2026_no_cash_rule"
