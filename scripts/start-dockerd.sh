#!/usr/bin/env bash
# Starts Debian's dockerd as the reference the comparison tests and the
# benchmarks measure against, unless one is already answering, and gives it
# the reference image those tests use: busybox:local, built FROM scratch
# from Debian's static busybox (no registry needed).
set -euo pipefail
DOCKER=/usr/local/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)
if ! curl -sf --unix-socket /var/run/docker.sock http://x/_ping >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "dockerd not installed; comparison tests will be skipped"; exit 0; }
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    curl -sf --unix-socket /var/run/docker.sock http://x/_ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf --unix-socket /var/run/docker.sock http://x/_ping >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/dockerd.log"; tail -20 /tmp/dockerd.log; exit 0; }
fi
export DOCKER_HOST=unix:///var/run/docker.sock
if [ -n "$DOCKER" ] && ! "$DOCKER" image inspect busybox:local >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t busybox:local "$ctx" >/dev/null
  echo "start-dockerd: built busybox:local in dockerd"
fi
