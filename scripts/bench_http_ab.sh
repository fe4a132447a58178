#!/usr/bin/env bash
# Load one or more `mlcycle serve` builds in turn with the same request for a longer or
# repeated run, with data collection on: a before/after comparison, or how the prediction log
# behaves once it outgrows the disk's write-back.
#
# Usage: scripts/bench_http_ab.sh ROWS DURATION_S BIN [BIN...]
#   ROWS: 1 or 100 (rows per request, the bodies of scripts/bench_http.sh)
#   SERVE_FLAGS: extra `mlcycle serve` flags (e.g. "--log-format jsonl")
#   DIRTY=1: also print the kernel's dirty and write-back page totals every 5 s
# Each BIN starts on an empty prediction log; per BIN one line: wrk's figures, server CPU per
# request, log records dropped (from /metrics), load average. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="$1"; DUR="$2"; shift 2
PORT=18091
STORE="$(mktemp -d)"
PID=""; SAMPLER=""
cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null || true
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  rm -rf "$STORE"
}
trap cleanup EXIT
cargo bench --bench http_setup -- "$STORE" >/dev/null
for bin in "$@"; do
  rm -rf "$STORE/predictions"; sync
  # shellcheck disable=SC2086
  "$bin" serve --store "$STORE" --model bench30@production --addr "127.0.0.1:$PORT" ${SERVE_FLAGS:-} 2>/dev/null &
  PID=$!
  until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do sleep 0.05; done
  if [ "${DIRTY:-}" = 1 ]; then
    (t=0; while true; do
       echo "  t=${t}s $(awk '/^(Dirty|Writeback):/{printf "%s %d MB  ", $1, $2/1024}' /proc/meminfo)"
       sleep 5; t=$((t + 5))
     done) &
    SAMPLER=$!
  fi
  t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
  out=$(BODY="$STORE/body_$ROWS.json" wrk -t2 -c16 -d"${DUR}s" --latency -s scripts/bench_http_post.lua "http://127.0.0.1:$PORT/invocations" | grep BENCH)
  t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""; fi
  n=$(echo "$out" | sed 's/.*requests=\([0-9]*\).*/\1/')
  drops=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^mlcycle_prediction_log_dropped_total/{print $2}')
  echo "$(basename "$bin") ${out#BENCH } server_cpu_us_per_req=$(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) )) log_dropped=$drops loadavg=$(cut -d' ' -f1 /proc/loadavg)"
  kill -TERM "$PID"; wait "$PID" || true; PID=""
  echo "  log on disk: $(du -sh "$STORE/predictions" | cut -f1)"
done
