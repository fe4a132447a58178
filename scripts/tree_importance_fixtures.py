#!/usr/bin/env python3
"""scikit-learn's feature_importances_ (mean decrease in impurity) for the gain importance test.

Fits scikit-learn trees on small seeded data whose values are multiples of 1/4 (exact in
float32, which scikit-learn's trees split on, so rows route the same way in 64-bit), and writes
tests/fixtures/explain/tree_importance.json: per case the data, each fitted tree's structure
(feature, threshold, children; -1 for leaves) and feature_importances_. The forest case uses
bootstrap=False so that every tree is fitted on all rows, as mlcycle's gain counts them.
Column 3 is constant, so no split uses it.

    python3 -m venv .venv && .venv/bin/pip install scikit-learn==1.9.1 numpy
    .venv/bin/python scripts/tree_importance_fixtures.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "explain" / "tree_importance.json"

rng = np.random.default_rng(42)
n = 200
x = np.floor(rng.uniform(0, 40, size=(n, 4))) / 4.0
x[:, 3] = 1.0
score = x[:, 0] - 0.5 * x[:, 1] + 0.3 * x[:, 2] * (x[:, 0] > 5) + rng.normal(0, 1.0, n)
y_class = (score > np.median(score)).astype(np.int64)
y_multi = np.digitize(score, np.quantile(score, [0.33, 0.66])).astype(np.int64)
y_reg = np.round(score * 8) / 8


def tree_dict(t):
    t = t.tree_
    return {
        "feature": [int(f) for f in t.feature],
        "threshold": [float(v) for v in t.threshold],
        "left": [int(c) for c in t.children_left],
        "right": [int(c) for c in t.children_right],
    }


cases = []
for name, est, y, n_classes in [
    ("tree_gini_binary", DecisionTreeClassifier(max_depth=5, random_state=0), y_class, 2),
    ("tree_entropy_multiclass", DecisionTreeClassifier(criterion="entropy", max_depth=4, random_state=0), y_multi, 3),
    ("tree_squared_error", DecisionTreeRegressor(max_depth=5, random_state=0), y_reg, 0),
    ("forest_gini_no_bootstrap", RandomForestClassifier(n_estimators=5, max_depth=4, max_features=2, bootstrap=False, random_state=0), y_class, 2),
]:
    est.fit(x, y)
    trees = est.estimators_ if hasattr(est, "estimators_") else [est]
    cases.append({
        "name": name,
        "criterion": getattr(est, "criterion"),
        "n_classes": n_classes,
        "y": [float(v) for v in y],
        "trees": [tree_dict(t) for t in trees],
        "feature_importances": [float(v) for v in est.feature_importances_],
    })

OUT.write_text(json.dumps({
    "sklearn": sklearn.__version__,
    "x": x.tolist(),
    "cases": cases,
}, indent=1))
print(f"wrote {OUT}")
