#!/usr/bin/env bash
# A stand-in for python:3.11-slim where no registry can be reached, for
# scripts/docker.sh on its private engine:
#
#   DQ_DOCKER=/usr/bin/docker DOCKER_HOST=unix:///... scripts/docker-base.sh [IMAGE]
#
# IMAGE (default deepquant-base:3.11-slim): Debian bookworm minbase with
# python3.11, venv, pip and the host's CA bundle, made with debootstrap (as
# root) from the Debian mirror that this machine's apt sources name, and
# imported into the engine. Cached: nothing is done when IMAGE already carries
# the label dq.base=STANDIN_REV. Scratch space: DQ_DOCKER_ROOT/base-rootfs.
set -euo pipefail

IMAGE=${1:-deepquant-base:3.11-slim}
STANDIN_REV=2 # bump to rebuild a cached stand-in after changing this script
DOCKER=${DQ_DOCKER:-docker}
DQ_DOCKER_ROOT=${DQ_DOCKER_ROOT:-/var/tmp/dq-docker}

log() { printf '== docker: %s\n' "$*" >&2; }
die() { printf 'docker-base: error: %s\n' "$*" >&2; exit 1; }

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

if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "dq.base" }}' "$IMAGE" 2>/dev/null)" = "$STANDIN_REV" ]; then
  log "stand-in base $IMAGE present (cached)"
  exit 0
fi
mirror=$(debian_mirror) || die "no Debian mirror found in the apt sources"
command -v debootstrap >/dev/null || die "debootstrap is missing"
mkdir -p "$DQ_DOCKER_ROOT"
rootfs=$DQ_DOCKER_ROOT/base-rootfs
rm -rf "$rootfs"
log "debootstrap bookworm (minbase + python3.11) from the machine's apt mirror"
debootstrap --variant=minbase \
  --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$DQ_DOCKER_ROOT/debootstrap.log" 2>&1 ||
  { tail -n 20 "$DQ_DOCKER_ROOT/debootstrap.log" >&2; die "debootstrap failed"; }
# Like python:3.11-slim: `python` on PATH in /usr/local/bin (`python -m venv`
# brings pip into each virtualenv; no system pip). The host's CA bundle so
# that pip inside builds trusts what the host trusts.
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
# Slim like debian:bookworm-slim, which python:3.11-slim starts from: no docs,
# man pages, translations or apt lists.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/tmp/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian
tar -C "$rootfs" --numeric-owner -cf - . |
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    --change "LABEL dq.base=$STANDIN_REV" \
    - "$IMAGE" >/dev/null
rm -rf "$rootfs"
log "stand-in base $IMAGE imported"
