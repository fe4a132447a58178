#!/usr/bin/env python3
"""Generate tests/fixtures/monitor/cbpe.json: NannyML CBPE estimates for binary classifiers.

NannyML 0.13 (`CBPE(problem_type='classification_binary')`) is fitted on a deterministic
reference (scores, predictions `score >= 0.5`, labels) and estimates accuracy, ROC AUC, F1,
precision and recall per fixed-size chunk of an analysis period. The fixture keeps the data,
NannyML's calibration decision and its estimates; the Rust tests never call Python.

    python3 -m venv .venv-cbpe
    .venv-cbpe/bin/pip install nannyml==0.13.1 statsmodels
    .venv-cbpe/bin/python scripts/cbpe_fixtures.py
"""

import json
import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import nannyml
from nannyml.performance_estimation.confidence_based import CBPE

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "monitor" / "cbpe.json"
METRICS = ["roc_auc", "f1", "precision", "recall", "accuracy"]
CHUNK = 400


def case(name, rng, n_ref, n_ana, link, shift):
    ref_p = np.round(rng.beta(2, 2, n_ref), 10)
    ana_p = np.round(np.clip(rng.beta(2 + shift, 2, n_ana), 0, 1), 10)
    ref_y = (rng.random(n_ref) < link(ref_p)).astype(int)
    ref = pd.DataFrame({"p": ref_p, "y_pred": (ref_p >= 0.5).astype(int), "y": ref_y})
    ana = pd.DataFrame({"p": ana_p, "y_pred": (ana_p >= 0.5).astype(int)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CBPE(
            y_pred_proba="p",
            y_pred="y_pred",
            y_true="y",
            problem_type="classification_binary",
            metrics=METRICS,
            chunk_size=CHUNK,
        ).fit(ref)
        res = est.estimate(ana).filter(period="analysis").to_df()
    chunks = []
    for i in range(len(res)):
        row = res.iloc[i]
        chunks.append({
            "start": int(row[("chunk", "start_index")]),
            "end": int(row[("chunk", "end_index")]) + 1,
            "estimates": {m: float(row[(m, "value")]) for m in METRICS},
        })
    return {
        "name": name,
        "reference_scores": ref_p.tolist(),
        "reference_labels": ref_y.tolist(),
        "analysis_scores": ana_p.tolist(),
        "needs_calibration": bool(est.needs_calibration),
        "chunks": chunks,
    }


def main():
    rng = np.random.default_rng(20261206)
    cases = [
        # labels follow p² : over-confident scores, NannyML calibrates
        case("miscalibrated", rng, 1500, 1200, lambda p: p**2, 0.8),
        # labels follow p : calibrated scores
        case("calibrated", rng, 1500, 1200, lambda p: p, 1.5),
    ]
    meta = {
        "generator": "scripts/cbpe_fixtures.py",
        "nannyml": nannyml.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "chunk_size": CHUNK,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"), allow_nan=False)


if __name__ == "__main__":
    main()
