#!/usr/bin/env python3
"""Benchmark of imported LightGBM / XGBoost models: their own library's predict vs mlcycle's.

1. `python scripts/bench_import.py` trains a binary LightGBM model (200 trees, 31 leaves) and
   an XGBoost model (200 trees, depth 6) on 20,000 rows of 30 features with missing values,
   writes them with 10,000 test rows into OUT (default target/bench_import), and times each
   library's predict on the 10,000 rows with one thread (best of REPEATS), into peers.json.
2. `cargo bench --bench import` loads the same files into the native GBDT predictor, checks
   its probabilities against the libraries' (1e-9 LightGBM, 1e-6 XGBoost), times predict on
   one thread and prints both figures and the ratio. XGBoost is timed with `inplace_predict`
   on the array (`predict` on a DMatrix it has seen returns cached results).

Usage: python scripts/bench_import.py [--out DIR] [--repeats 7]
Needs: pip install lightgbm xgboost numpy (versions used: lightgbm 4.7.0, xgboost 3.2.0).
"""

import argparse
import json
import os
import time

import lightgbm as lgb
import numpy as np
import xgboost as xgb

N_TRAIN, N_TEST, P = 20_000, 10_000, 30


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_TRAIN + N_TEST, P))
    x[rng.random(x.shape) < 0.05] = np.nan
    s = np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) \
        + np.sin(np.nan_to_num(x[:, 3])) + 0.5 * np.nan_to_num(x[:, 4:10]).sum(axis=1)
    y = (s + rng.normal(size=len(s)) > 0).astype(int)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:]


def best(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join("target", "bench_import"))
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    x, y, xt = data(0)
    names = [f"x{i}" for i in range(P)]
    lgbm = lgb.train(
        {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "verbose": -1,
         "num_threads": 1, "seed": 0},
        lgb.Dataset(x, y, feature_name=names), num_boost_round=200)
    lgbm.save_model(os.path.join(a.out, "lightgbm.txt"))
    xgbm = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1,
                      "nthread": 1, "seed": 0},
                     xgb.DMatrix(x, y, feature_names=names), num_boost_round=200)
    xgbm.save_model(os.path.join(a.out, "xgboost.json"))
    with open(os.path.join(a.out, "rows.csv"), "w") as f:
        f.write(",".join(names) + "\n")
        for r in xt:
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")
    lgb_s, lgb_p = best(lambda: lgbm.predict(xt, num_threads=1), a.repeats)
    xgbm.set_param({"nthread": 1})
    # inplace_predict on the array: no DMatrix and no prediction cache (predict on a DMatrix
    # it has seen returns cached results).
    xgb_s, xgb_p = best(lambda: xgbm.inplace_predict(xt), a.repeats)
    # predict on a fresh DMatrix, its construction included.
    xgb_s_dm, xgb_p_dm = best(
        lambda: xgbm.predict(xgb.DMatrix(xt, feature_names=names, nthread=1)), a.repeats)
    assert np.array_equal(xgb_p, xgb_p_dm)
    peers = {
        "rows": N_TEST,
        "lightgbm": {"version": lgb.__version__, "seconds": lgb_s,
                     "proba": [float(v) for v in lgb_p]},
        "xgboost": {"version": xgb.__version__, "seconds": xgb_s,
                    "seconds_with_dmatrix": xgb_s_dm, "proba": [float(v) for v in xgb_p]},
    }
    with open(os.path.join(a.out, "peers.json"), "w") as f:
        json.dump(peers, f)
    print(f"lightgbm {lgb.__version__} predict, 1 thread, {N_TEST} rows: {lgb_s * 1e3:.2f} ms")
    print(f"xgboost {xgb.__version__} inplace_predict, 1 thread, {N_TEST} rows: "
          f"{xgb_s * 1e3:.2f} ms (predict with a new DMatrix: {xgb_s_dm * 1e3:.2f} ms)")
    print("now: cargo bench --bench import")


if __name__ == "__main__":
    main()
