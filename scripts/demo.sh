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

# A build context: Debian's static busybox and a Dockerfile, built FROM scratch.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp /bin/busybox "$ctx/busybox"
echo "hello from a berth container" > "$ctx/index.html"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group
COPY index.html /www/index.html
WORKDIR /www
CMD ["sh"]
DOCKERFILE

echo "demo: building image berth-demo:latest"
"$BERTH" build -t berth-demo:latest "$ctx"
"$BERTH" images berth-demo

echo "demo: running a container from it"
"$BERTH" run --rm berth-demo:latest sh -c 'echo "$(cat index.html) (hostname $(hostname), $(id -un))"; uname -sr'

echo "demo: done. berthd keeps running on $SOCK; try: BERTH_HOST=$BERTH_HOST $BERTH run -it --rm berth-demo sh"
