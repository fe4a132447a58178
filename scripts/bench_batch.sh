#!/usr/bin/env bash
# Batch scoring, 1,000,000 rows × 30 numeric features, CSV → CSV, logistic regression:
# mlcycle (cargo bench --bench batch) vs pandas.read_csv + scikit-learn predict_proba + to_csv,
# on the same file in the same run. Needs a Python with numpy, pandas and scikit-learn
# (PYTHON=/path/to/python to choose it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DIR=target/bench-batch
mkdir -p "$DIR"
cargo bench --bench batch -- "$DIR"
"$PY" - "$DIR" <<'PYEOF'
import sys, time, resource
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
d = sys.argv[1]
rng = np.random.default_rng(7)
X = rng.uniform(-2, 2, size=(50_000, 30))
w = np.array([((j % 7) - 3) / 3 for j in range(30)])
y = (rng.uniform(size=50_000) < 1 / (1 + np.exp(-X @ w))).astype(int)
m = LogisticRegression().fit(X, y)
for run in range(3):
    t = time.perf_counter()
    df = pd.read_csv(f"{d}/input.csv")
    p = m.predict_proba(df[[f"f{j}" for j in range(30)]].to_numpy())
    out = pd.DataFrame({"id": df["id"], "prediction": p.argmax(1), "proba_0": p[:, 0], "proba_1": p[:, 1]})
    out.to_csv(f"{d}/output_pandas.csv", index=False)
    s = time.perf_counter() - t
    print(f"pandas+sklearn run {run}: {len(df)} rows in {s:.3f} s = {len(df)/s:.0f} rows/s")
print(f"pandas peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
PYEOF
