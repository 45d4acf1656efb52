#!/usr/bin/env bash
# Issue 24's runs on the development period 2017-01 .. 2022-12 (model seed 0, 10 bps), the
# default construction with turnover and cluster-stability settings, declared before they ran:
#   the four the issue's probe ran (recorded in the trial ledger as trials of the period):
#     quarterly         [backtest] rebalance = "quarterly"
#     fraction33        [trading] trade_fraction = 0.33
#     keep3_fraction50  [inference] keep_margin = 3, [trading] trade_fraction = 0.5
#     quarterly_keep3   quarterly rebalancing, keep_margin = 3
#   and four built since:
#     recluster_q       [inference] recluster = "quarterly" (monthly rebalancing)
#     recluster_q_keep3 the same with keep_margin = 3 (a name leaves below rank top_n + 3)
#     stable_all        recluster quarterly, match_clusters, k_margin = 0.02, keep_margin = 3
#     budget25          [trading] max_turnover = 0.25 a rebalance
# The bundles: a walk-forward series retrained each January (runs/real/models, or
# scripts/real_runs.sh's). About 40 s a run on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PANEL:-../shared/data/prices_2015_2026.csv.gz}
MODELS=${MODELS:-runs/real/models}
OUT=${OUT:-runs/stability}
mkdir -p "$OUT"

run() {  # run NAME "section|key = value" ...
  local name=$1
  shift
  local cfg="$OUT/$name.toml"
  sed "s#^universe = \"universe.toml\"#universe = \"$PWD/configs/universe.toml\"#;
       s#^ledger = .*#ledger = \"$PWD/configs/experiments/ledger.csv\"#" configs/default.toml > "$cfg"
  for line in "$@"; do
    local section=${line%%|*} setting=${line#*|}
    sed -i "/^${setting%% =*} = /d" "$cfg"  # the default's own line goes (keys used are unique)
    if grep -q "^\[$section\]" "$cfg"; then
      sed -i "/^\[$section\]/a $setting" "$cfg"
    else
      printf '\n[%s]\n%s\n' "$section" "$setting" >> "$cfg"
    fi
  done
  .venv/bin/deepquant backtest --config "$cfg" --prices "$P" --model "$MODELS" \
    --start 2017-01-01 --end 2022-12-31 --out "$OUT/bt_$name" > "$OUT/bt_$name.log" 2>&1
}

run default
run quarterly 'backtest|rebalance = "quarterly"'
run fraction33 'trading|trade_fraction = 0.33'
run keep3_fraction50 'inference|keep_margin = 3' 'trading|trade_fraction = 0.5'
run quarterly_keep3 'backtest|rebalance = "quarterly"' 'inference|keep_margin = 3'
run recluster_q 'inference|recluster = "quarterly"'
run recluster_q_keep3 'inference|recluster = "quarterly"' 'inference|keep_margin = 3'
run stable_all 'inference|recluster = "quarterly"' 'inference|match_clusters = true' \
  'inference|k_margin = 0.02' 'inference|keep_margin = 3'
run budget25 'trading|max_turnover = 0.25'
