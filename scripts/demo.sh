#!/usr/bin/env bash
# berth's main job, end to end: start berthd (if it is not running), build an
# image locally from Debian's static busybox (no registry needed), and run a
# container from it. Run ./scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
SOCK=${BERTH_SOCK:-/run/berth/berth.sock}
export BERTH_HOST="unix://$SOCK"
BERTH="$PWD/bin/berth"

if ! curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1; then
  echo "demo: starting berthd (log: /tmp/berthd.log)"
  nohup "$PWD/bin/berthd" -H "unix://$SOCK" >/tmp/berthd.log 2>&1 &
  for _ in $(seq 1 100); do curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# A root filesystem: the static busybox and its applet links.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo "hello from a berth container" > "$root/www/index.html"

echo "demo: building image berth-demo:latest"
tar -C "$root" -c . | "$BERTH" import -c 'CMD ["sh"]' -c 'WORKDIR /www' - berth-demo:latest
"$BERTH" images berth-demo

echo "demo: running a container from it"
"$BERTH" run --rm berth-demo:latest sh -c 'echo "$(cat index.html) (hostname $(hostname), $(id -un))"; uname -sr'

echo "demo: done. berthd keeps running on $SOCK; try: BERTH_HOST=$BERTH_HOST $BERTH run -it --rm berth-demo sh"
