#!/usr/bin/env python3
"""Fixtures of `mlcycle import lightgbm` / `mlcycle import xgboost`.

Trains small LightGBM and XGBoost models (binary, multiclass, regression) on synthetic data
with missing values and writes, under tests/fixtures/import/:

- `<lib>_<task>.txt` (LightGBM text model) or `<lib>_<task>.json` (XGBoost JSON model);
- `<lib>_<task>.expected.json`: the test rows (null = missing), what the library itself
  predicts on them (`predict`: probabilities (rows × classes) or values), its raw margins,
  and `margin_f64`: the margins recomputed in float64 from the leaves the library routed
  each row to (`pred_leaf`) — equal to what a float64 predictor taking the same routes gives;
- `train_<task>.csv`: the training data (header `x0..x4,y`), for `--signature-from`.

Test rows include missing values in every feature and values equal to split thresholds,
so the routing of missing values and of ties is exercised.

Usage (versions used: lightgbm 4.7.0, xgboost 3.2.0, numpy 2.4):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install lightgbm xgboost numpy
    /tmp/venv/bin/python scripts/import_fixtures.py
"""

import json
import math
import os

import lightgbm as lgb
import numpy as np
import xgboost as xgb

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "import")
P = 5
NAMES = [f"x{i}" for i in range(P)]


def data(task, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, P))
    x[:, 2] = np.round(x[:, 2] * 2)  # few distinct values (ties with thresholds)
    x[:, 3] = np.where(rng.random(n) < 0.3, 0.0, x[:, 3])  # many zeros
    x[rng.random(n) < 0.15, 4] = np.nan  # missing in training
    s = x[:, 0] - 0.5 * x[:, 1] + 0.3 * x[:, 2] + np.nan_to_num(x[:, 4], nan=0.8)
    if task == "binary":
        y = (s + rng.normal(scale=0.5, size=n) > 0).astype(int)
    elif task == "multiclass":
        y = np.digitize(s + rng.normal(scale=0.5, size=n), [-0.7, 0.7])
    else:
        y = s + rng.normal(scale=0.3, size=n)
    return x, y


def test_rows(task, thresholds):
    x, _ = data(task, 40, 99)
    x[0:4, :] = np.nan
    x[4:8, 3] = np.nan  # missing where training had none
    x[8:12, 0] = np.nan
    x[12:16, 3] = 0.0
    # Values equal to split thresholds of the model (per feature).
    for r, f in enumerate(sorted(thresholds)[:P]):
        ts = thresholds[f]
        for i, t in enumerate(ts[:4]):
            x[16 + (r * 4 + i) % 24, f] = t
    return x


def rows_json(x):
    return [[None if math.isnan(v) else float(v) for v in r] for r in x]


def write_csv(path, x, y, task):
    with open(path, "w") as f:
        f.write(",".join(NAMES + ["y"]) + "\n")
        for r, t in zip(x, y):
            cells = ["" if math.isnan(v) else repr(float(v)) for v in r]
            cells.append(str(int(t)) if task != "regression" else repr(float(t)))
            f.write(",".join(cells) + "\n")


def lgb_fixture(task):
    x, y = data(task, 600, 1)
    params = {
        "binary": {"objective": "binary"},
        "multiclass": {"objective": "multiclass", "num_class": 3},
        "regression": {"objective": "regression"},
    }[task]
    params.update(num_leaves=8, learning_rate=0.2, min_data_in_leaf=10, verbose=-1,
                  num_threads=1, seed=1)
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=NAMES), num_boost_round=15)
    path = os.path.join(OUT, f"lightgbm_{task}.txt")
    booster.save_model(path)
    thresholds = {}

    def walk(node):
        if "split_feature" in node:
            thresholds.setdefault(node["split_feature"], []).append(node["threshold"])
            walk(node["left_child"])
            walk(node["right_child"])

    dump = booster.dump_model()
    for t in dump["tree_info"]:
        walk(t["tree_structure"])
    xt = test_rows(task, thresholds)
    pred = booster.predict(xt)
    raw = booster.predict(xt, raw_score=True)
    leaves = booster.predict(xt, pred_leaf=True).astype(int)
    # float64 margins from the routed leaves (LightGBM itself sums in float64).
    k = dump["num_tree_per_iteration"]
    leaf_values = []
    for t in dump["tree_info"]:
        vals = {}

        def collect(node):
            if "leaf_index" in node:
                vals[node["leaf_index"]] = node["leaf_value"]
            elif "split_feature" in node:
                collect(node["left_child"])
                collect(node["right_child"])
            else:
                vals[0] = node["leaf_value"]

        collect(t["tree_structure"])
        leaf_values.append(vals)
    margin = np.zeros((len(xt), k))
    for i in range(len(xt)):
        for t, vals in enumerate(leaf_values):
            margin[i, t % k] += vals[leaves[i, t]]
    if task == "binary":
        pred = np.column_stack([1 - pred, pred])
    doc = {
        "library": "lightgbm " + lgb.__version__,
        "task": task,
        "feature_names": NAMES,
        "rows": rows_json(xt),
        "predict": pred.tolist(),
        "raw": np.asarray(raw).tolist(),
        "margin_f64": margin.tolist(),
    }
    with open(os.path.join(OUT, f"lightgbm_{task}.expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    write_csv(os.path.join(OUT, f"train_{task}.csv"), x[:60], y[:60], task)


def xgb_fixture(task):
    x, y = data(task, 600, 1)
    params = {
        "binary": {"objective": "binary:logistic"},
        "multiclass": {"objective": "multi:softprob", "num_class": 3},
        "regression": {"objective": "reg:squarederror"},
    }[task]
    params.update(max_depth=3, eta=0.3, nthread=1, seed=1)
    dtrain = xgb.DMatrix(x, y, feature_names=NAMES)
    booster = xgb.train(params, dtrain, num_boost_round=15)
    path = os.path.join(OUT, f"xgboost_{task}.json")
    booster.save_model(path)
    model = json.load(open(path))
    learner = model["learner"]
    trees = learner["gradient_booster"]["model"]["trees"]
    tree_info = learner["gradient_booster"]["model"]["tree_info"]
    thresholds = {}
    for t in trees:
        for i, l in enumerate(t["left_children"]):
            if l != -1:
                thresholds.setdefault(t["split_indices"][i], []).append(
                    float(np.float32(t["split_conditions"][i])))
    xt = test_rows(task, thresholds)
    dtest = xgb.DMatrix(xt, feature_names=NAMES)
    pred = booster.predict(dtest).astype(np.float64)
    raw = booster.predict(dtest, output_margin=True).astype(np.float64)
    leaves = booster.predict(dtest, pred_leaf=True).astype(int)
    k = max(1, int(learner["learner_model_param"]["num_class"]))
    base = json.loads(learner["learner_model_param"]["base_score"].replace("E", "e")) \
        if learner["learner_model_param"]["base_score"].startswith("[") \
        else [float(learner["learner_model_param"]["base_score"])]
    base = [float(np.float32(b)) for b in base]
    if len(base) == 1:
        base = base * k
    if task == "binary":
        base_margin = [math.log(b / (1 - b)) for b in base]
    else:
        base_margin = base
    margin = np.tile(np.array(base_margin, dtype=np.float64), (len(xt), 1))
    for i in range(len(xt)):
        for t, tree in enumerate(trees):
            margin[i, tree_info[t]] += float(np.float32(tree["split_conditions"][leaves[i, t]]))
    if task == "binary":
        pred = np.column_stack([1 - pred, pred])
    doc = {
        "library": "xgboost " + xgb.__version__,
        "task": task,
        "feature_names": NAMES,
        "rows": rows_json(xt),
        "predict": pred.tolist(),
        "raw": raw.tolist(),
        "margin_f64": margin.tolist(),
    }
    with open(os.path.join(OUT, f"xgboost_{task}.expected.json"), "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for task in ["binary", "multiclass", "regression"]:
        lgb_fixture(task)
        xgb_fixture(task)
    print("fixtures written to", os.path.normpath(OUT))
