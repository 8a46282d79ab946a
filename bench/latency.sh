#!/usr/bin/env bash
# The latency benchmark: enom against the sandbox across a link with a
# 40 ms round trip and eNom's server times. Makes two network namespaces
# of its own (names unique to the run), joins them with TUN devices and
# bench/delaylink (20 ms each way), starts the sandbox in one (HTTPS on an
# address that exists only inside these namespaces) and runs the client
# in the other. Everything is torn down at the end, also on failure.
# The link loses BENCH_LAT_LOSS % (1) of its packets while latency.lua
# asks it to (the lossy runs), none otherwise.
#
#   bash bench/latency.sh        (bench/run runs it; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
export LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;;"
export LUA_CPATH="build/5.4/?.so;;"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

if [ ! -x build/bench/delaylink ] || [ ! -f build/5.4/enom/core.so ]; then
    echo "build/bench/delaylink or the core is missing: run \`make bench\`" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "latency benchmark: needs root for network namespaces; skipped" >&2
    exit 0
fi

id="$$-$RANDOM"
ns_c="enomlat-$id-c"
ns_s="enomlat-$id-s"
dev=enomd0
addr_c=10.213.0.1
addr_s=10.213.0.2
work=$(mktemp -d /tmp/enom-latency.XXXXXX)
# The runs' journal of intents: the benchmark's own, not the user's.
export ENOM_JOURNAL_DIR="$work/journal"
mkdir -m 700 "$ENOM_JOURNAL_DIR"
dl_pid=""
cleanup() {
    if [ -n "$dl_pid" ]; then kill "$dl_pid" 2>/dev/null || true; wait "$dl_pid" 2>/dev/null || true; fi
    sandbox/sandbox stop --dir "$work/sandbox" >/dev/null 2>&1 || true
    ip netns del "$ns_c" 2>/dev/null || true
    ip netns del "$ns_s" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_c"
ip netns add "$ns_s"
for ns in "$ns_c" "$ns_s"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev "$dev" mode tun
done
ip -n "$ns_c" addr add "$addr_c" peer "$addr_s" dev "$dev"
ip -n "$ns_s" addr add "$addr_s" peer "$addr_c" dev "$dev"
ip -n "$ns_c" link set "$dev" up
ip -n "$ns_s" link set "$dev" up

loss=${BENCH_LAT_LOSS:-1}
build/bench/delaylink "$ns_c" "$ns_s" "$dev" 20 "$loss" > "$work/delaylink.out" 2>&1 &
dl_pid=$!
for _ in $(seq 50); do grep -q ready "$work/delaylink.out" && break; sleep 0.1; done
grep -q ready "$work/delaylink.out" || { cat "$work/delaylink.out" >&2; exit 1; }

if ! ip netns exec "$ns_s" sandbox/sandbox start --dir "$work/sandbox" --address "$addr_s" --allow "$addr_c" \
        --conn-log > "$work/sandbox.out" 2>&1; then
    cat "$work/sandbox.out" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$work/sandbox/env"
url="https://$addr_s:${ENOM_SANDBOX_HTTPS_URL##*:}"
# The round trip the link gives, as the client sees it (TCP connect).
rtt=$(ip netns exec "$ns_c" curl -sS -o /dev/null --cacert "$ENOM_SANDBOX_CA" \
    -w '%{time_connect}' "${url%/interface.asp}/test/static")
echo "link: two network namespaces, TUN + bench/delaylink 20 ms each way; TCP connect measured" \
    "$(awk "BEGIN{printf \"%.1f\", $rtt*1000}") ms (40 ms wanted)"
echo
ENOM_SANDBOX_ADMIN="$ENOM_SANDBOX_ADMIN" DELAYLINK_PID="$dl_pid" BENCH_LAT_LOSS="$loss" lua5.4 bench/latency.lua "$ns_c" "$ns_s" "$url" "$ENOM_SANDBOX_CA" \
    "$work/sandbox/logs/conn.log"
