#!/usr/bin/env python3
"""Time scikit-learn's LogisticRegression (lbfgs) and HistGradientBoostingClassifier on the
tree benchmark's data (100,000 x 30 numeric features, binary), for `cargo bench --bench train`.

Writes, into OUT (default target/bench_trees):
  train.csv, test.csv   -- the data of scripts/bench_trees.py (generated if missing)
  sklearn_train.json    -- scikit-learn's figures

Usage: python scripts/bench_train.py [--out DIR] [--repeats 3] [--predict-repeats 20]

On a loaded machine, scikit-learn's OpenMP threads (gradient boosting) can spin against other
processes; `OMP_NUM_THREADS=1 python scripts/bench_train.py` with `RAYON_NUM_THREADS=1 cargo
bench --bench train` compares one thread against one thread. The thread settings are recorded
in the JSON.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_trees import N_TRAIN, SEED, make_data, write_csv  # noqa: E402


def best_of(repeats, fn, cpu=None):
    """(best wall s, median wall s, last result); the process CPU time (all threads) of each
    run is appended to `cpu` if given."""
    times, out = [], None
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return min(times), float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/bench_trees")
    ap.add_argument("--repeats", type=int, default=3)
    # Predictions take milliseconds: more repeats make the best time robust to the machine's
    # load (`BENCH_TRAIN_PREDICT_REPEATS` on the Rust side, same default).
    ap.add_argument("--predict-repeats", type=int, default=20)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x, y = make_data()
    xtr, ytr, xte, yte = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    if not os.path.exists(os.path.join(args.out, "test.csv")):
        write_csv(os.path.join(args.out, "train.csv"), xtr, ytr)
        write_csv(os.path.join(args.out, "test.csv"), xte, yte)

    res = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
           "predict_repeats": args.predict_repeats}
    models = {
        # Our logistic regression standardises its inputs and minimises the same objective
        # (L2 penalty 1, i.e. C = 1 on standardised features, tol 1e-4) by L-BFGS.
        "logistic": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)),
        "gbdt": lambda: HistGradientBoostingClassifier(random_state=SEED),
    }
    for name, make in models.items():
        fit_cpu = []
        fit_best, fit_med, model = best_of(
            args.repeats, lambda: make().fit(xtr, ytr), cpu=fit_cpu)
        pred_best, pred_med, proba = best_of(
            args.predict_repeats, lambda: model.predict_proba(xte))
        one = xte[:1]
        lat = []
        for i in range(200):
            t0 = time.perf_counter()
            model.predict_proba(xte[i:i + 1] if i else one)
            lat.append((time.perf_counter() - t0) * 1e6)
        res[name] = {
            "fit_s_best": fit_best, "fit_s_median": fit_med,
            "fit_cpu_s_best": min(fit_cpu), "fit_cpu_s_median": float(np.median(fit_cpu)),
            # Boosting iterations run (early stopping) or L-BFGS iterations.
            "n_iter": int(np.max((model[-1] if hasattr(model, "steps") else model).n_iter_)),
            "predict_20k_s_best": pred_best, "predict_20k_s_median": pred_med,
            "single_row_p50_us": float(np.percentile(lat, 50)),
            "accuracy": accuracy_score(yte, (proba[:, 1] > 0.5).astype(float)),
            "auc": roc_auc_score(yte, proba[:, 1]),
        }
        print(name, json.dumps(res[name], indent=1))
    res["load_avg_at_end"] = os.getloadavg()
    with open(os.path.join(args.out, "sklearn_train.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
