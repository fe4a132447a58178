#!/usr/bin/env bash
# HTTP serving benchmark: `mlcycle serve` (release) on 127.0.0.1 with data collection on,
# loaded by wrk (2 threads x 16 connections, POST /invocations dataframe_split) from a
# separate process; then, if the venv in $MLFLOW_VENV (default .venv-http) has mlflow, the same load on
# `mlflow models serve` with a scikit-learn LogisticRegression of the same shape.
#
# Usage: scripts/bench_http.sh [DURATION_S]   (needs wrk: apt-get install -y wrk)
# BASELINE_BIN=path/to/other/mlcycle also loads that build with collection on, right after
# this one (a before/after comparison at the same machine load); LOG_FORMAT=jsonl also loads
# this build writing the JSON-lines log format instead of the default binary one.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-20}"
PORT=18080
STORE="$(mktemp -d)"
PID=""; MPID=""
cleanup() {
  for p in $PID $MPID; do
    for c in $(pgrep -P "$p" 2>/dev/null || true); do kill -TERM "$c" 2>/dev/null || true; done
    kill -TERM "$p" 2>/dev/null || true
  done
  rm -rf "$STORE"
}
trap cleanup EXIT

cargo build --release --bin mlcycle >/dev/null
cargo bench --bench http_setup -- "$STORE" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # label body pid...
  local label="$1" body="$2"; shift 2
  local before=0 after=0 p
  for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
  local out
  out=$(BODY="$body" wrk -t2 -c16 -d"${DUR}s" --latency -s scripts/bench_http_post.lua "http://127.0.0.1:$PORT/invocations" | grep BENCH)
  for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
  local n; n=$(echo "$out" | sed 's/.*requests=\([0-9]*\).*/\1/')
  echo "$out server_cpu_s=$(( (after - before) / $(getconf CLK_TCK) )) server_cpu_us_per_req=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) )) loadavg=$(cut -d' ' -f1 /proc/loadavg)" | sed "s/^BENCH/$label/"
}
rss() { echo "RSS $(awk '/VmRSS/{print $2}' /proc/$1/status) KiB (peak $(awk '/VmHWM/{print $2}' /proc/$1/status) KiB)"; }
log_records() { ./target/release/mlcycle predictions --store "$STORE" --count; }

# With data collection on: ready time, both loads, RSS, log records kept and dropped.
collect_runs() { # label binary [serve flags...]
  local label="$1" bin="$2" records_before start_ns ready_ms
  shift 2
  records_before=$(log_records)
  start_ns=$(date +%s%N)
  "$bin" serve --store "$STORE" --model bench30@production --addr "127.0.0.1:$PORT" "$@" 2>"$STORE/serve.log" &
  PID=$!
  until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do :; done
  ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  echo "$label: ready (command start -> /ping 200) ${ready_ms} ms; RSS idle $(awk '/VmRSS/{print $2}' /proc/$PID/status) KiB"
  run "$label 1-row   " "$STORE/body_1.json" $PID
  echo "$label: after 1-row load: $(rss $PID)"
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^mlcycle_prediction_log_(accepted|dropped)_total" | sed "s/^/$label after 1-row: /"
  run "$label 100-rows" "$STORE/body_100.json" $PID
  echo "$label: after 100-row load: $(rss $PID)"
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^mlcycle_prediction_log_(accepted|dropped)_total" | sed "s/^/$label after 100-row: /"
  kill -TERM $PID; wait $PID || true; PID=""
  echo "$label: prediction log records written: $(( $(log_records) - records_before ))"
  # The log can outgrow the disk's write-back: start the next run on a clean slate.
  rm -rf "$STORE/predictions"; sync
}
collect_runs mlcycle ./target/release/mlcycle
# LOG_FORMAT=jsonl also runs the server writing the JSON-lines log format.
if [ "${LOG_FORMAT:-}" = jsonl ]; then collect_runs mlcycle-jsonl ./target/release/mlcycle --log-format jsonl; fi
# Optionally the same load on another build (e.g. the previous release), back to back.
if [ -n "${BASELINE_BIN:-}" ]; then collect_runs baseline "$BASELINE_BIN"; fi

# The same without data collection, to show what collection costs.
./target/release/mlcycle serve --store "$STORE" --model bench30@production --addr "127.0.0.1:$PORT" --no-collect 2>/dev/null &
PID=$!
until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do :; done
run "mlcycle-nocollect 1-row   " "$STORE/body_1.json" $PID
run "mlcycle-nocollect 100-rows" "$STORE/body_100.json" $PID
echo "mlcycle (no collection): $(rss $PID)"
kill -TERM $PID; wait $PID || true; PID=""

VENV=${MLFLOW_VENV:-.venv-http}
if [ -x "$VENV/bin/mlflow" ]; then
  PORT=15055
  "$VENV/bin/python" - "$STORE" <<'PY'
import sys, pandas as pd, mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
from mlflow.models import infer_signature
d = pd.read_csv(sys.argv[1] + "/train.csv"); X = d.drop(columns=["label"]); y = d["label"].astype(int)
m = LogisticRegression(max_iter=5000).fit(X, y)
mlflow.sklearn.save_model(m, sys.argv[1] + "/sk_model", signature=infer_signature(X, m.predict(X)))
PY
  start_ns=$(date +%s%N)
  PATH="$VENV/bin:$PATH" "$VENV/bin/mlflow" models serve -m "$STORE/sk_model" --env-manager local -p $PORT -h 127.0.0.1 >"$STORE/mlflow.log" 2>&1 &
  MPID=$!
  until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do :; done
  echo "mlflow: ready (command start -> /ping 200) $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
  TREE="$MPID $( (pgrep -P $MPID || true) | tr "\n" " ")"
  for c in $(pgrep -P $MPID || true); do TREE="$TREE $( (pgrep -P "$c" || true) | tr "\n" " ")"; done
  run "mlflow  1-row   " "$STORE/body_1.json" $TREE
  run "mlflow  100-rows" "$STORE/body_100.json" $TREE
  rss=0; for p in $TREE; do rss=$((rss + $(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done
  echo "mlflow: RSS of the process tree ${rss} KiB"
  for c in $(pgrep -P $MPID || true); do kill -TERM "$c" || true; done; kill -TERM $MPID || true; wait $MPID || true; MPID=""
else
  echo "mlflow: $VENV/bin/mlflow not found; peer not measured"
fi
