#!/usr/bin/env bash
# Dashboard page latency (`mlcycle ui`) on a store with 60 days of demo history: builds the
# release binary, writes the store with `mlcycle demo --days 60`, starts `mlcycle ui` on a
# free port and times each page with curl (REQUESTS sequential GETs after 3 warm-up ones,
# default 50): median, p95 and max of curl's time_total, and the page size. The target is
# ≤ 100 ms per page. BENCH_DIR=DIR keeps the store there (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${REQUESTS:-50}
cargo build --release --bin mlcycle >/dev/null
BIN=target/release/mlcycle
DIR=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$DIR"
STORE="$DIR/store"
UI_PID=
cleanup() {
    if [ -n "$UI_PID" ]; then kill "$UI_PID" 2>/dev/null || true; fi
    if [ -z "${BENCH_DIR:-}" ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
rm -rf "$STORE"
"$BIN" demo --store "$STORE" --days 60 >/dev/null
"$BIN" ui --store "$STORE" --addr 127.0.0.1:0 2>"$DIR/ui.log" &
UI_PID=$!
BASE=
for _ in $(seq 300); do
    BASE=$(grep -o 'http://[0-9.:]*' "$DIR/ui.log" | head -1 || true)
    [ -n "$BASE" ] && break
    sleep 0.1
done
[ -n "$BASE" ] || { echo "mlcycle ui did not start:"; cat "$DIR/ui.log"; exit 1; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store: 60 days of demo history; $("$BIN" audit verify --store "$STORE" | head -1)"
echo
echo "| page | median | p95 | max | size |"
echo "|---|---:|---:|---:|---:|"
for page in / /models/credit-default /models/credit-default/versions/2 \
            /models/credit-default/timeline /approvals /alerts /audit; do
    for _ in 1 2 3; do curl -sf -o /dev/null "$BASE$page"; done
    size=$(curl -sf -o /dev/null -w '%{size_download}' "$BASE$page")
    for _ in $(seq "$N"); do
        curl -sf -o /dev/null -w '%{time_total}\n' "$BASE$page"
    done | sort -n | awk -v page="$page" -v size="$size" '
        { t[NR] = $1 * 1000 }
        END {
            p50 = t[int((NR + 1) / 2)]; p95 = t[int(NR * 0.95 + 0.5)]; max = t[NR]
            printf "| `%s` | %.1f ms | %.1f ms | %.1f ms | %d kB |\n", page, p50, p95, max, size / 1024
        }'
done
