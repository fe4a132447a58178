#!/usr/bin/env bash
# Batch scoring, 1,000,000 rows × 30 numeric features, logistic regression:
# mlcycle (cargo bench --bench batch) vs pandas + scikit-learn predict_proba on the same files
# in the same run, CSV → CSV (pandas.read_csv / to_csv) and, with the parquet feature,
# Parquet → Parquet (pandas.read_parquet / to_parquet, needs pyarrow). Each pipeline runs in
# its own process so each peak RSS is its own. Needs a Python with numpy, pandas,
# scikit-learn and pyarrow (PYTHON=/path/to/python to choose it). The generated files go to
# target/bench-batch (BENCH_DIR=DIR to choose another directory). FORMATS=csv (or parquet)
# times only that format (default: both).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DIR=${BENCH_DIR:-target/bench-batch}
FORMATS=${FORMATS:-csv parquet}
mkdir -p "$DIR"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for f in $FORMATS; do
    cargo bench --bench batch -- "$DIR" "$f"
done
peer() {
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where set for old OpenBLAS builds, slow a current
# numpy: the peer runs without them.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" - "$DIR" "$1" <<'PYEOF'
import sys, time, resource, os
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
d, fmt = sys.argv[1], sys.argv[2]
if fmt == "parquet" and not os.path.exists(f"{d}/input.parquet"):
    sys.exit(0)
rng = np.random.default_rng(7)
X = rng.uniform(-2, 2, size=(50_000, 30))
w = np.array([((j % 7) - 3) / 3 for j in range(30)])
y = (rng.uniform(size=50_000) < 1 / (1 + np.exp(-X @ w))).astype(int)
m = LogisticRegression().fit(X, y)
for run in range(3):
    t = time.perf_counter()
    df = pd.read_csv(f"{d}/input.csv") if fmt == "csv" else pd.read_parquet(f"{d}/input.parquet")
    p = m.predict_proba(df[[f"f{j}" for j in range(30)]].to_numpy())
    out = pd.DataFrame({"id": df["id"], "prediction": p.argmax(1), "proba_0": p[:, 0], "proba_1": p[:, 1]})
    if fmt == "csv":
        out.to_csv(f"{d}/output_pandas.csv", index=False)
    else:
        out.to_parquet(f"{d}/output_pandas.parquet", index=False)
    s = time.perf_counter() - t
    print(f"pandas+sklearn {fmt} run {run}: {len(df)} rows in {s:.3f} s = {len(df)/s:.0f} rows/s")
print(f"pandas {fmt} peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
PYEOF
}
for f in $FORMATS; do
    peer "$f"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
