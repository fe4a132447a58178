#!/usr/bin/env python3
"""Generate the tree-learner benchmark data and time scikit-learn on it.

Writes, into OUT (default target/bench_trees):
  train.csv, test.csv  -- header x0..x29,y; 100,000 training rows and 20,000 test rows
  sklearn.json         -- HistGradientBoostingClassifier (and optionally RandomForest) figures

Then run the Rust side on the same files:
  cargo bench --bench trees            (reads OUT, prints its own figures next to sklearn's)

Usage: python scripts/bench_trees.py [--out DIR] [--repeats 3] [--forest]
"""

import argparse
import json
import os
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

N_TRAIN, N_TEST, N_FEATURES, SEED = 100_000, 20_000, 30, 0


def make_data():
    x, y = make_classification(
        n_samples=N_TRAIN + N_TEST,
        n_features=N_FEATURES,
        n_informative=12,
        n_redundant=6,
        n_clusters_per_class=3,
        flip_y=0.03,
        class_sep=0.8,
        random_state=SEED,
    )
    # A few non-linear interactions so that trees have something to learn beyond a hyperplane.
    rng = np.random.default_rng(SEED)
    logit = 1.5 * np.sin(2 * x[:, 0]) * x[:, 1] + 0.8 * (x[:, 2] > 0.5) * x[:, 3]
    flip = rng.random(len(y)) < 1 / (1 + np.exp(-logit)) * 0.1
    y = np.where(flip, 1 - y, y)
    return x, y.astype(np.float64)


def write_csv(path, x, y):
    header = ",".join([f"x{i}" for i in range(x.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="",
               fmt="%.17g")


def best_of(repeats, fn):
    """(best wall s, median wall s, best process CPU s, last result)."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(times), float(np.median(times)), min(cpu), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/bench_trees")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--forest", action="store_true", help="also time RandomForestClassifier")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    x, y = make_data()
    xtr, ytr, xte, yte = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    write_csv(os.path.join(args.out, "train.csv"), xtr, ytr)
    write_csv(os.path.join(args.out, "test.csv"), xte, yte)

    res = {"n_train": N_TRAIN, "n_test": N_TEST, "n_features": N_FEATURES,
           "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    for name, kw in [("hgb_default", {}), ("hgb_no_early_stop", {"early_stopping": False})]:
        def fit():
            return HistGradientBoostingClassifier(random_state=SEED, **kw).fit(xtr, ytr)
        fit_best, fit_med, fit_cpu, model = best_of(args.repeats, fit)
        pred_best, pred_med, pred_cpu, proba = best_of(args.repeats,
                                                       lambda: model.predict_proba(xte))
        predtr_best, _, predtr_cpu, _ = best_of(args.repeats, lambda: model.predict_proba(xtr))
        res[name] = {
            "fit_s_best": fit_best,
            "fit_s_median": fit_med,
            "fit_cpu_s_best": fit_cpu,
            "predict_test_cpu_s_best": pred_cpu,
            "predict_train_cpu_s_best": predtr_cpu,
            "predict_test_s_best": pred_best,
            "predict_test_s_median": pred_med,
            "predict_train_s_best": predtr_best,
            "n_iter": int(model.n_iter_),
            "accuracy": accuracy_score(yte, (proba[:, 1] > 0.5).astype(float)),
            "auc": roc_auc_score(yte, proba[:, 1]),
        }
        print(name, json.dumps(res[name], indent=1))

    if args.forest:
        def fit_rf():
            return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=SEED).fit(
                xtr, ytr)
        fit_best, _, _, rf = best_of(1, fit_rf)
        pred_best, _, _, proba = best_of(args.repeats, lambda: rf.predict_proba(xte))
        res["rf"] = {"fit_s_best": fit_best, "predict_test_s_best": pred_best,
                     "accuracy": accuracy_score(yte, (proba[:, 1] > 0.5).astype(float)),
                     "auc": roc_auc_score(yte, proba[:, 1])}
        print("rf", json.dumps(res["rf"], indent=1))

    res["load_avg_at_end"] = os.getloadavg()
    with open(os.path.join(args.out, "sklearn.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
