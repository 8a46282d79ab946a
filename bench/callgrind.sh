#!/usr/bin/env bash
# Instruction counts of the encode and parse micro-benchmarks, and of one
# kept-alive request through the client (the CPU a request costs), under
# valgrind --tool=callgrind: repeatable where wall-clock timings on a
# shared machine are not. Each side runs ITERS calls and once with 0
# calls; the difference over ITERS is the cost of one call. Starts its own
# sandbox only to get the GetPOP3 bodies it renders.
#
#   bash bench/callgrind.sh            ITERS=20 by default (about a minute)
#   CG_ONLY=request bash bench/callgrind.sh   the request figure only, as a
#                                             row for bench/run's table
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (make deps)" >&2; exit 1; }
# shellcheck source=bench/common.sh
. bench/common.sh

iters=${ITERS:-20}

# Instructions (Ir) of one run of a case with n calls.
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        lua5.4 bench/cg_one.lua "$1" "$2" "$work/getpop3.XML" "$work/getpop3.Text" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# Instructions per call of a case.
per_call() {
    local full empty
    full=$(ir "$1" "$iters")
    empty=$(ir "$1" 0)
    echo $(( (full - empty) / iters ))
}

[ "${CG_ONLY:-}" = request ] ||
    printf '%-44s %14s %14s %7s\n' "figure (instructions per call)" "ours" "baseline" "ratio"
row() {
    local label=$1 ours base
    ours=$(per_call "$2")
    base=$(per_call "$3")
    printf '%-44s %14d %14d %6.1fx\n' "$label" "$ours" "$base" "$(awk -v b="$base" -v o="$ours" 'BEGIN { print b / o }')"
}
if [ "${CG_ONLY:-}" = request ]; then
    printf 'ROW\t3. client CPU per kept-alive request (callgrind)\t%d instructions\t\t-\t\t\tITERS=%d, Lua + libcurl + parse\n' \
        "$(per_call request)" "$iters"
    exit 0
fi
row "1. encode, 100 users (baseline plain Lua)" encode encode-lua
row "2. parse XML, 1,000 (baseline LuaExpat)" xml xml-expat
row "2. parse Text, 1,000 (baseline Lua gmatch)" text text-lua
printf '%-44s %14d %14s %7s\n' "3. one kept-alive request, plain HTTP" "$(per_call request)" "-" "-"
