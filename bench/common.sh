# Sourced by bench/run and bench/callgrind.sh: a sandbox of our own in a
# temp dir on 127.0.0.1, stopped on exit (also on failure), seeded with
# bench/fixtures.lua, and the GetPOP3 bodies the parse benchmarks read.

export LUA_PATH="bench/?.lua;lua/?.lua;lua/?/init.lua;;"
export LUA_CPATH="build/5.4/?.so;;"
# Loopback only: no proxy may see a request.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

if [ ! -f build/5.4/enom/core.so ]; then
    echo "build/5.4/enom/core.so is missing: run \`make\` (or \`make bench\`)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/enom-bench.XXXXXX)
cleanup() {
    sandbox/sandbox stop --dir "$work/sandbox" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! sandbox/sandbox start --dir "$work/sandbox" > "$work/sandbox.out" 2>&1; then
    cat "$work/sandbox.out" >&2
    exit 1
fi
set -a
# shellcheck disable=SC1091
. "$work/sandbox/env"
set +a
case "$ENOM_SANDBOX_BASE" in
    http://127.0.0.1:*) ;;
    *) echo "sandbox is not on 127.0.0.1: $ENOM_SANDBOX_BASE" >&2; exit 1 ;;
esac

# The journal of intents of every run lives here, not in the user's
# folders (enom.journal.default_dirs): the runs are against a sandbox.
export ENOM_JOURNAL_DIR="$work/journal"
mkdir -m 700 "$ENOM_JOURNAL_DIR"

lua5.4 -e 'require("admin").seed()'

# GetPOP3 of the 1,000-mailbox domain, as the sandbox renders it.
for fmt in XML Text; do
    curl -sS --fail --noproxy "*" -o "$work/getpop3.$fmt" "$ENOM_SANDBOX_URL" \
        --data-urlencode command=GetPOP3 --data-urlencode uid=resellid \
        --data-urlencode pw=S4ndbox-Acct-Pass --data-urlencode sld=bigpop \
        --data-urlencode tld=com --data-urlencode "ResponseType=$fmt"
done
grep -q '<Done>true</Done>' "$work/getpop3.XML"
grep -q '^Done=true' "$work/getpop3.Text"
