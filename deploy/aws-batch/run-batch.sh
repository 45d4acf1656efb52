#!/bin/sh
# AWS Batch entrypoint: config and bundles from S3, `deepquant infer`, outputs to S3.
#   DEEPQUANT_MODEL_URI    s3://bucket/prefix/models   (required; bundles as `deepquant train` wrote them)
#   DEEPQUANT_OUT_URI      s3://bucket/prefix/outputs  (required; weights_, trades_<date>.csv, run_<date>.json)
#   DEEPQUANT_CONFIG_URI   s3://.../deepquant.toml     (optional; else DEEPQUANT_CONFIG, default the baked-in configs/default.toml)
#   AWS_ENDPOINT_URL       for S3-compatible stores other than AWS
# Extra arguments go to `deepquant infer` (e.g. --asof 2026-07-31).
set -eu
: "${DEEPQUANT_MODEL_URI:?set DEEPQUANT_MODEL_URI (s3://...)}"
: "${DEEPQUANT_OUT_URI:?set DEEPQUANT_OUT_URI (s3://...)}"
work=${TMPDIR:-/tmp}/deepquant
mkdir -p "$work/models" "$work/outputs"
config=${DEEPQUANT_CONFIG:-/app/configs/default.toml}
if [ -n "${DEEPQUANT_CONFIG_URI:-}" ]; then
  aws s3 cp --only-show-errors "$DEEPQUANT_CONFIG_URI" "$work/deepquant.toml"
  config=$work/deepquant.toml
fi
aws s3 sync --only-show-errors "$DEEPQUANT_MODEL_URI" "$work/models"
# The last weights written are the holdings today's trades start from.
aws s3 sync --only-show-errors --exclude "*" --include "weights_*.csv" \
  "$DEEPQUANT_OUT_URI" "$work/outputs"
deepquant infer --config "$config" --model "$work/models" --out "$work/outputs" "$@"
# The folder's lock and set records are local bookkeeping, not outputs.
aws s3 sync --only-show-errors --exclude ".*" "$work/outputs" "$DEEPQUANT_OUT_URI"
echo "deepquant-batch: outputs synced to $DEEPQUANT_OUT_URI"
