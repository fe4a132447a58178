#!/usr/bin/env python3
"""Expected TreeSHAP values for the explanation fixtures.

Reads tests/fixtures/explain/<case>.input.json (written by
`cargo test --test explain generate_tree_fixture_inputs -- --ignored`): mlcycle's fitted trees
exported in shap's custom tree dictionary format, with the preprocessed rows. Runs
shap.TreeExplainer(model, feature_perturbation="tree_path_dependent") and writes
<case>.expected.json with the SHAP values, the expected value and the model's raw output.

    python3 -m venv .venv && .venv/bin/pip install shap==0.51.0 numpy
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
