#!/usr/bin/env bash
# The README's "Market regimes" runs: the default construction 2017-01 .. 2026-07 on the
# shared panel without the layer and with each of five layers, declared before they ran:
#   jump (return features, penalty 50), jump on autoencoder features, jump on both,
#   hmm (two states, its filtered probability read as a state), trend (210 days).
# Each layer is refitted with each bundle on the 12 years of SPY before it
# (../shared/data/benchmark_1993_2026.csv.gz); the bundles are a walk-forward series
# retrained each January from 2017 (for instance runs/sweep_real/models/default-s0 from
# scripts/real_runs.sh). About a minute a run on 2 CPU cores; then the table.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PANEL:-../shared/data/prices_2015_2026.csv.gz}
HISTORY=${HISTORY:-$(realpath ../shared/data/benchmark_1993_2026.csv.gz)}
MODELS=${MODELS:-runs/real/models}
OUT=${OUT:-runs/regime}
mkdir -p "$OUT"

run() {  # run NAME [regime lines...]
  local name=$1
  shift
  { sed "s#^universe = \"universe.toml\"#universe = \"$PWD/configs/universe.toml\"#;
         s#^ledger = .*#ledger = \"$PWD/configs/experiments/ledger.csv\"#" configs/default.toml
    printf '\n[regime]\nhistory = "%s"\n' "$HISTORY"
    printf '%s\n' "$@"; } > "$OUT/$name.toml"
  .venv/bin/deepquant backtest --config "$OUT/$name.toml" --prices "$P" --model "$MODELS" \
    --start 2017-01-01 --end 2026-07-31 --out "$OUT/bt_$name" > "$OUT/bt_$name.log" 2>&1
}

run none 'model = "none"'
run jump 'model = "jump"'
run jump_autoencoder 'model = "jump"' 'features = "autoencoder"'
run jump_both 'model = "jump"' 'features = "both"'
run hmm 'model = "hmm"'
run trend 'model = "trend"'
.venv/bin/python scripts/regime_table.py "$OUT"/bt_{none,jump,jump_autoencoder,jump_both,hmm,trend}
