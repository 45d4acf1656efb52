#!/usr/bin/env bash
# The real runs quoted in the README, each one `deepquant sweep` on the shared
# 338-instrument panel (../shared/data/prices_2015_2026.csv.gz):
#   1. issue 11's protocol, development period 2017-2022: 16 variants, model seed 0
#   2. its held-out period 2023-01 .. 2026-07, run once: 3 model seeds x 10 and 25 bps
#   3. the whole period 2017-01 .. 2026-07: the default and its ablation without the cash rule
#   4. the seed project's experiment: train 2023-2024, test 2025, without costs and at 10 bps
# The four sweeps share one folder of bundles ($OUT/bundles): a bundle is named by
# everything its training reads (sweep/keys.py), so one trained for a sweep serves the
# others and nothing is trained twice (30 bundles; about an hour on 2 CPU cores).
# Steps 1 and 2 add their trials to the repository's ledger, as they did when first run.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PANEL:-../shared/data/prices_2015_2026.csv.gz}
OUT=${OUT:-runs}
DQ=.venv/bin/deepquant
LEDGER=configs/experiments/ledger.csv

sweep() {  # sweep NAME CONFIG GRID [more options]
  local name=$1 config=$2 grid=$3
  shift 3
  mkdir -p "$OUT/bundles" "$OUT/$name"
  ln -sfn ../bundles "$OUT/$name/bundles"
  $DQ sweep --config "$config" --grid "$grid" --prices "$P" --out "$OUT/$name" "$@"
}

sweep protocol configs/default.toml configs/experiments/protocol_dev.toml --ledger "$LEDGER"
sweep protocol_holdout configs/default.toml configs/experiments/protocol_holdout.toml --ledger "$LEDGER"
sweep sweep_real configs/default.toml configs/grids/real_2017_2026.toml
sweep sweep_seed_2025 configs/experiments/seed_2025.toml configs/grids/seed_2025.toml
