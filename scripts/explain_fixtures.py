#!/usr/bin/env python3
"""Expected TreeSHAP values for the explanation fixtures.

Reads tests/fixtures/explain/<case>.input.json (written by
`cargo test --test explain generate_tree_fixture_inputs -- --ignored`): mlcycle's fitted trees
exported in shap's custom tree dictionary format, with the preprocessed rows. Runs
shap.TreeExplainer(model, feature_perturbation="tree_path_dependent") and writes
<case>.expected.json with the SHAP values, the expected value and the model's raw output.

Also reads permutation.input.json (`cargo test --test explain generate_permutation_fixture_input
-- --ignored`): a logistic model and a labelled holdout. A Python copy of the model (median
fill, standardisation, one-hot, linear predictor, sigmoid) goes through scikit-learn's
permutation_importance; permutation.expected.json gets its importances and the permutations
its seeded random state applied (reconstructed the way scikit-learn draws them).

    python3 -m venv .venv && .venv/bin/pip install shap==0.51.0 scikit-learn==1.9.1 numpy
    .venv/bin/python scripts/explain_fixtures.py
"""
import json
import pathlib

import numpy as np
import shap

DIR = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "explain"


def matrix(rows):
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)


for path in sorted(DIR.glob("*.input.json")):
    case = path.name[: -len(".input.json")]
    if case == "permutation":
        continue
    inp = json.loads(path.read_text())
    sm = inp["shap_model"]
    model = {
        "trees": [
            {
                "children_left": np.array(t["children_left"], dtype=np.int32),
                "children_right": np.array(t["children_right"], dtype=np.int32),
                "children_default": np.array(t["children_default"], dtype=np.int32),
                "features": np.array(t["features"], dtype=np.int32),
                "thresholds": np.array(t["thresholds"], dtype=np.float64),
                "values": np.array(t["values"], dtype=np.float64),
                "node_sample_weight": np.array(t["node_sample_weight"], dtype=np.float64),
            }
            for t in sm["trees"]
        ],
        "base_offset": sm["base_offset"],
    }
    x = matrix(inp["x_preprocessed"])
    explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    phi = explainer.shap_values(x, check_additivity=False)
    margin = explainer.model.predict(x)
    ev = float(np.asarray(explainer.expected_value).reshape(-1)[0])
    out = {
        "shap_version": shap.__version__,
        "expected_value": ev,
        "phi": np.asarray(phi).tolist(),
        "margin": np.asarray(margin).reshape(-1).tolist(),
    }
    (DIR / f"{case}.expected.json").write_text(json.dumps(out, indent=1) + "\n")
    print(case, phi.shape, "max |ev + sum phi - margin| =",
          float(np.max(np.abs(ev + np.asarray(phi).sum(1) - np.asarray(margin).reshape(-1)))))


# Permutation importance.
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.inspection import permutation_importance
from sklearn.utils import check_random_state


class Logistic(ClassifierMixin, BaseEstimator):
    """mlcycle's binary logistic model, evaluated on encoded inputs."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        self.classes_ = np.array([0.0, 1.0])
        return self

    def margin(self, X):
        m = self.model
        w = np.array(m["weights"]["data"]).reshape(m["weights"]["dim"])[:, 0]
        b = m["intercepts"]["data"][0]
        cols = []
        for j, t in enumerate(m["preprocessor"]["columns"]):
            v = X[:, j]
            if t["kind"] == "standardize":
                v = np.where(np.isnan(v), t["fill"], v)
                cols.append(((v - t["mean"]) / t["scale"])[:, None])
            else:
                oh = np.zeros((len(v), t["n_levels"]))
                for k in range(t["n_levels"]):
                    oh[:, k] = (v == k).astype(np.float64)
                cols.append(oh)
        return b + np.hstack(cols) @ w

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.margin(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.float64)


inp = json.loads((DIR / "permutation.input.json").read_text())
X = matrix(inp["x"])
y = np.array(inp["y"], dtype=np.float64)
est = Logistic(inp["artifact"]["model"]).fit(X, y)
r = permutation_importance(est, X, y, scoring=inp["scoring"], n_repeats=inp["n_repeats"],
                           random_state=inp["seed"])
# The permutations scikit-learn applied: one seed drawn from random_state, then for every
# column a fresh RandomState(seed) shuffling an index array in place, each repeat permuting the
# already permuted column; as permutations of the original rows they compose.
seed = check_random_state(inp["seed"]).randint(np.iinfo(np.int32).max + 1)
rs = check_random_state(seed)
idx = np.arange(X.shape[0])
perms = []
current = np.arange(X.shape[0])
for _ in range(inp["n_repeats"]):
    rs.shuffle(idx)
    current = current[idx]
    perms.append(current.tolist())
out = {
    "sklearn_version": __import__("sklearn").__version__,
    "permutations": perms,
    "importances": r.importances.tolist(),
    "importances_mean": r.importances_mean.tolist(),
    "importances_std": r.importances_std.tolist(),
}
(DIR / "permutation.expected.json").write_text(json.dumps(out) + "\n")
print("permutation", r.importances.shape)
