#!/usr/bin/env bash
# Starts Debian's dockerd as the reference the comparison tests and the
# benchmarks measure against, unless one is already answering.
set -euo pipefail
if curl -sf --unix-socket /var/run/docker.sock http://x/_ping >/dev/null 2>&1; then exit 0; fi
command -v dockerd >/dev/null || { echo "dockerd not installed; comparison tests will be skipped"; exit 0; }
nohup dockerd >/tmp/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  curl -sf --unix-socket /var/run/docker.sock http://x/_ping >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not start; see /tmp/dockerd.log"; tail -20 /tmp/dockerd.log
