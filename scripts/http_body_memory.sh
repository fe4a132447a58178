#!/usr/bin/env bash
# Peak memory of `mlcycle serve` under hostile JSON bodies (each just under the 16 MiB body
# limit): 2,000,000 tiny `dataframe_records`, `instances` of 4,100,000 one-value rows, a v2
# tensor of 8,300,000 scalars, and four of the record bodies at once. For each probe it
# prints the answer's status and the server's peak RSS during it (VmHWM, reset before each
# probe through /proc/PID/clear_refs, which needs root or the server's owner) and its RSS
# afterwards, then the latency of an ordinary request sent while the four run.
#
# Usage: scripts/http_body_memory.sh [MLCYCLE_BINARY]   (default: target/debug/mlcycle,
# built here). Run it with another build (e.g. an older one) to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/mlcycle}"
if [ "$BIN" = target/debug/mlcycle ]; then cargo build --bin mlcycle >/dev/null; fi
PORT="${PORT:-18181}"
STORE="$(mktemp -d)"
BODIES="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$STORE" "$BODIES"
}
trap cleanup EXIT

cargo bench --profile dev --bench http_setup -- "$STORE" >/dev/null 2>&1

python3 - "$BODIES" <<'EOF'
import sys, os
d = sys.argv[1]
def write(name, head, item, n, tail):
    with open(os.path.join(d, name), "w") as f:
        f.write(head)
        f.write(",".join([item] * n))
        f.write(tail)
write("records.json", '{"dataframe_records":[', '{"a":1}', 2_000_000, "]}")
write("instances.json", '{"instances":[', "[1]", 4_100_000, "]}")
write("v2.json", '{"inputs":[{"name":"x","shape":[8300000],"datatype":"FP64","data":[', "1", 8_300_000, "]}]}")
EOF
ls -l "$BODIES" | awk 'NR>1{print "body", $NF, $5, "bytes"}'

"$BIN" serve --store "$STORE" --model bench30@production --addr "127.0.0.1:$PORT" --no-collect 2>"$STORE/serve.log" &
PID=$!
until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do
  kill -0 "$PID" 2>/dev/null || { cat "$STORE/serve.log"; exit 1; }
done
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$PID/status"; }
echo "idle: RSS $(kib VmRSS) KiB"
post() { # path body -> status
  curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    --data-binary "@$2" "http://127.0.0.1:$PORT$1"
}
probe() { # label path body
  echo 5 > "/proc/$PID/clear_refs"
  local s; s=$(post "$2" "$3")
  echo "$1: status $s, peak RSS $(kib VmHWM) KiB, RSS after $(kib VmRSS) KiB"
}
probe "2,000,000 dataframe_records" /invocations "$BODIES/records.json"
probe "4,100,000 instances rows  " /invocations "$BODIES/instances.json"
probe "v2, 8,300,000 scalars     " /v2/models/bench30/infer "$BODIES/v2.json"

echo 5 > "/proc/$PID/clear_refs"
CURLS=()
for i in 1 2 3 4; do post /invocations "$BODIES/records.json" > "$BODIES/status$i" & CURLS+=($!); done
sleep 0.2
cols=$(seq -f '"f%02g"' 0 29 | paste -sd,)
zeros=$(printf '0%.0s,' $(seq 30)); zeros=${zeros%,}
one="{\"dataframe_split\":{\"columns\":[$cols],\"data\":[[$zeros]]}}"
ordinary=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'content-type: application/json' \
  --data "$one" "http://127.0.0.1:$PORT/invocations")
wait "${CURLS[@]}"
echo "four record bodies at once: statuses $(for f in "$BODIES"/status*; do printf "%s " "$(cat "$f")"; done); peak RSS $(kib VmHWM) KiB, RSS after $(kib VmRSS) KiB"
echo "an ordinary 1-row request during them: status and seconds $ordinary"
