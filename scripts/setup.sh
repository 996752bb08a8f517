#!/usr/bin/env bash
# Sets berth up on a fresh Debian 12 machine: the runtime parts from
# Debian's packages, the node dependencies, the build, and the two commands
# on PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(runc conmon netavark aardvark-dns iptables busybox-static skopeo zstd catatonit curl tmux
      docker.io docker-registry docker-compose apache2-utils iperf3
      gcc libc6-dev libseccomp-dev)  # berth-exec, the native exec helper (src/runtime/native)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# `npm install`, not `npm ci`: node-unix-socket declares optional per-platform
# packages that were never published, and npm 11's `ci` calls the lock file
# out of sync because of them. `install` honours the lock file all the same.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npm run build

ln -sf "$PWD/bin/berth" /usr/local/bin/berth
ln -sf "$PWD/bin/berthd" /usr/local/bin/berthd
echo "setup: berth and berthd are on PATH"
