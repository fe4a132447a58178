#!/usr/bin/env python3
"""Generate reference fixtures for `mlcycle::validate::metrics`.

Writes `tests/fixtures/metrics/*.json` from scikit-learn, statsmodels and
Fairlearn (see `scripts/requirements-metrics.txt` for the versions used). The
output is deterministic: every random draw comes from a seeded
`numpy.random.default_rng`, and the JSON is written with sorted keys.

Run from the repository root:

    python3 -m venv /tmp/venv-metrics
    /tmp/venv-metrics/bin/pip install -r scripts/requirements-metrics.txt
    /tmp/venv-metrics/bin/python scripts/metrics_fixtures.py

Conventions of the files (read by `tests/validate/metrics.rs`):

* class labels are integers `0..k`, probability matrices are `n x k` lists;
* an expected value of `null` means the reference raises or returns NaN for
  that input, and the Rust implementation must return an error instead.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings

import numpy as np
import sklearn
import statsmodels
import fairlearn
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

OUT_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics"
)


def ref(fn, *args, **kwargs):
    """Call a reference function; NaN or an exception becomes None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn(*args, **kwargs)
        except (ValueError, ZeroDivisionError):
            return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    value = float(value)
    if math.isnan(value):
        return None
    return value


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------


def classification_case(name, y_true, proba, y_pred=None):
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n, k = proba.shape
    labels = list(range(k))
    if y_pred is None:
        y_pred = proba.argmax(axis=1)
    y_pred = np.asarray(y_pred, dtype=np.int64)

    exp = {}
    exp["accuracy"] = ref(skm.accuracy_score, y_true, y_pred)
    exp["balanced_accuracy"] = ref(skm.balanced_accuracy_score, y_true, y_pred)
    # One-vs-rest statistics of every class c (`average=None` with explicit labels;
    # for a binary problem the entry of class 1 equals `average="binary"`).
    for metric, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        exp[f"{metric}_per_class"] = ref(
            fn, y_true, y_pred, labels=labels, average=None, zero_division=0
        )
        exp[f"{metric}_macro"] = ref(fn, y_true, y_pred, average="macro", zero_division=0)
        exp[f"{metric}_weighted"] = ref(
            fn, y_true, y_pred, average="weighted", zero_division=0
        )
        if k == 2:
            exp[f"{metric}_binary"] = ref(
                fn, y_true, y_pred, average="binary", pos_label=1, zero_division=0
            )
    exp["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    exp["log_loss"] = ref(skm.log_loss, y_true, proba, labels=labels)
    if k == 2:
        exp["roc_auc"] = ref(skm.roc_auc_score, y_true, proba[:, 1])
        exp["average_precision"] = ref(skm.average_precision_score, y_true, proba[:, 1])
        if not np.any(y_true == 1):
            # scikit-learn warns and returns 0.0 when y_true has no positive;
            # mlcycle treats AP as undefined there and returns an error.
            exp["average_precision"] = None
        exp["brier"] = ref(skm.brier_score_loss, y_true, proba[:, 1], pos_label=1)
        exp["log_loss_binary"] = ref(skm.log_loss, y_true, proba[:, 1], labels=[0, 1])
    else:
        exp["roc_auc"] = ref(
            skm.roc_auc_score, y_true, proba, multi_class="ovr", average="macro", labels=labels
        )
        exp["average_precision"] = ref(
            skm.average_precision_score, y_true, proba, average="macro"
        )
        exp["brier"] = ref(skm.brier_score_loss, y_true, proba, labels=labels)

    # The named set computed by `classifier_metrics`.
    summary = {
        "accuracy": exp["accuracy"],
        "balanced_accuracy": exp["balanced_accuracy"],
        "f1_macro": exp["f1_macro"],
        "f1_weighted": exp["f1_weighted"],
        "roc_auc": exp["roc_auc"],
        "average_precision": exp["average_precision"],
        "log_loss": exp["log_loss"],
        "brier": exp["brier"],
    }
    if k == 2:
        summary["precision"] = exp["precision_binary"]
        summary["recall"] = exp["recall_binary"]
        summary["f1"] = exp["f1_binary"]
    else:
        summary["precision"] = exp["precision_macro"]
        summary["recall"] = exp["recall_macro"]
        summary["f1"] = exp["f1_macro"]
    exp["summary"] = summary
    return {
        "name": name,
        "n_classes": k,
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "proba": proba.tolist(),
        "expected": exp,
    }


def binary_proba_from_scores(p):
    p = np.asarray(p, dtype=np.float64)
    return np.column_stack([1.0 - p, p])


def classification_cases():
    cases = []
    rng = np.random.default_rng(20240601)

    # n = 2, the smallest sample with both classes.
    cases.append(
        classification_case("binary_n2", [0, 1], binary_proba_from_scores([0.3, 0.8]))
    )
    # n = 3, one mistake.
    cases.append(
        classification_case(
            "binary_n3", [1, 0, 1], binary_proba_from_scores([0.9, 0.6, 0.4])
        )
    )

    # Balanced, moderately informative scores.
    for n, seed in ((50, 1), (400, 2), (5000, 3)):
        r = np.random.default_rng(seed)
        y = r.integers(0, 2, n)
        z = 1.2 * (2 * y - 1) + r.normal(0, 1.5, n)
        p = 1 / (1 + np.exp(-z))
        cases.append(classification_case(f"binary_balanced_n{n}", y, binary_proba_from_scores(p)))

    # Imbalanced (~4% positives); y_pred from a 0.2 threshold, not argmax.
    r = np.random.default_rng(4)
    n = 1500
    y = (r.random(n) < 0.04).astype(np.int64)
    z = -3 + 2.5 * y + r.normal(0, 1, n)
    p = 1 / (1 + np.exp(-z))
    cases.append(
        classification_case(
            "binary_imbalanced_n1500", y, binary_proba_from_scores(p), (p >= 0.2).astype(int)
        )
    )

    # Heavily tied scores: probabilities on a 0.1 grid.
    r = np.random.default_rng(5)
    n = 300
    y = r.integers(0, 2, n)
    p = np.clip(np.round(0.5 + 0.25 * (2 * y - 1) + r.normal(0, 0.25, n), 1), 0.0, 1.0)
    cases.append(classification_case("binary_tied_scores_n300", y, binary_proba_from_scores(p)))

    # All scores equal: ROC AUC 0.5, AP = prevalence.
    y = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    cases.append(
        classification_case(
            "binary_all_tied_n12", y, binary_proba_from_scores(np.full(len(y), 0.5)), np.ones(len(y), dtype=int)
        )
    )

    # Perfect classifier with probabilities exactly 0 and 1 (log loss clipping).
    r = np.random.default_rng(6)
    y = r.integers(0, 2, 40)
    y[:2] = [0, 1]
    cases.append(
        classification_case("binary_perfect_hard_n40", y, binary_proba_from_scores(y.astype(float)))
    )
    # Worst classifier: probabilities exactly inverted, 0/1 (log loss hits the clip).
    cases.append(
        classification_case(
            "binary_worst_hard_n40", y, binary_proba_from_scores(1.0 - y.astype(float))
        )
    )
    # Perfect ranking but soft probabilities, and worst ranking.
    p = np.where(y == 1, 0.6 + 0.3 * r.random(40), 0.1 + 0.3 * r.random(40))
    cases.append(classification_case("binary_perfect_soft_n40", y, binary_proba_from_scores(p)))
    cases.append(classification_case("binary_worst_soft_n40", y, binary_proba_from_scores(1 - p)))

    # Mixed 0/1 and interior probabilities.
    r = np.random.default_rng(7)
    n = 60
    y = r.integers(0, 2, n)
    p = r.random(n)
    p[::5] = 0.0
    p[1::7] = 1.0
    cases.append(classification_case("binary_some_hard_probs_n60", y, binary_proba_from_scores(p)))

    # Everything predicted negative: precision of class 1 is 0/0 -> zero_division = 0.
    r = np.random.default_rng(8)
    n = 30
    y = r.integers(0, 2, n)
    y[:2] = [0, 1]
    p = 0.3 * r.random(n)
    cases.append(classification_case("binary_no_positive_predictions_n30", y, binary_proba_from_scores(p)))

    # Only one class in y_true: ROC AUC and AP undefined (reference: NaN/raise).
    y = np.zeros(10, dtype=np.int64)
    p = np.linspace(0.05, 0.95, 10)
    cases.append(classification_case("binary_single_class_n10", y, binary_proba_from_scores(p)))

    # Multiclass.
    for k, n, seed, sharp in ((3, 9, 10, 1.0), (3, 300, 11, 1.5), (4, 1000, 12, 1.0), (4, 5000, 13, 0.8)):
        r = np.random.default_rng(seed)
        y = r.integers(0, k, n)
        y[:k] = np.arange(k)
        logits = r.normal(0, 1, (n, k))
        logits[np.arange(n), y] += sharp * 2
        cases.append(classification_case(f"multiclass_k{k}_n{n}", y, softmax(logits)))

    # Imbalanced multiclass: class 3 is rare.
    r = np.random.default_rng(14)
    n = 2000
    y = r.choice(4, size=n, p=[0.6, 0.25, 0.12, 0.03])
    logits = r.normal(0, 1, (n, 4))
    logits[np.arange(n), y] += 1.3
    cases.append(classification_case("multiclass_imbalanced_k4_n2000", y, softmax(logits)))

    # Tied multiclass probabilities: each row a permutation of a small set.
    r = np.random.default_rng(15)
    n = 200
    y = r.integers(0, 3, n)
    y[:3] = [0, 1, 2]
    base = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.6, 0.2, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    proba = np.empty((n, 3))
    for i in range(n):
        row = base[r.integers(0, len(base))].copy()
        if r.random() < 0.6:
            # put the largest mass on the true class
            j = int(np.argmax(row))
            row[[j, y[i]]] = row[[y[i], j]]
        else:
            row = row[r.permutation(3)]
        proba[i] = row
    cases.append(classification_case("multiclass_tied_k3_n200", y, proba))

    # Multiclass with hard 0/1 probabilities, a few wrong (log loss clipping).
    r = np.random.default_rng(16)
    n = 50
    y = r.integers(0, 3, n)
    y[:3] = [0, 1, 2]
    pred = y.copy()
    wrong = r.choice(n, 6, replace=False)
    pred[wrong] = (pred[wrong] + 1) % 3
    proba = np.eye(3)[pred]
    cases.append(classification_case("multiclass_hard_k3_n50", y, proba))

    # Class 2 absent from y_true but predicted: balanced accuracy ignores it,
    # macro averages include it, OvR ROC AUC / AP are undefined (reference raises).
    r = np.random.default_rng(17)
    n = 80
    y = r.integers(0, 2, n)
    logits = r.normal(0, 1, (n, 3))
    logits[np.arange(n), y] += 1.0
    cases.append(classification_case("multiclass_missing_true_class_k3_n80", y, softmax(logits)))

    # Class 3 neither in y_true nor y_pred: macro averages skip it (sklearn default labels).
    r = np.random.default_rng(18)
    n = 120
    y = r.integers(0, 3, n)
    logits = r.normal(0, 1, (n, 4))
    logits[np.arange(n), y] += 2.0
    logits[:, 3] = -50.0
    cases.append(classification_case("multiclass_unused_class_k4_n120", y, softmax(logits)))

    return cases


# --------------------------------------------------------------------------
# Ranking metrics on raw (non-probability) scores
# --------------------------------------------------------------------------


def ranking_case(name, y_true, score):
    y_true = np.asarray(y_true, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    return {
        "name": name,
        "y_true": y_true.tolist(),
        "score": score.tolist(),
        "roc_auc": ref(skm.roc_auc_score, y_true, score),
        "average_precision": ref(skm.average_precision_score, y_true, score)
        if np.any(y_true == 1)
        else None,  # sklearn: 0.0 with a warning; mlcycle: error
    }


def ranking_cases():
    cases = [
        ranking_case("n2_correct", [0, 1], [-1.0, 3.0]),
        ranking_case("n2_wrong", [0, 1], [3.0, -1.0]),
        ranking_case("n2_tied", [0, 1], [2.0, 2.0]),
        ranking_case("n4_sklearn_doc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ranking_case("n6_ties_across_classes", [0, 1, 0, 1, 1, 0], [1, 1, 2, 2, 3, 0]),
    ]
    r = np.random.default_rng(30)
    for n in (25, 500, 5000):
        y = r.integers(0, 2, n)
        s = np.round(y * 0.8 + r.normal(0, 1, n), 0)  # integer scores: many ties
        cases.append(ranking_case(f"integer_scores_n{n}", y, s))
    for n in (100, 3000):
        y = (r.random(n) < 0.1).astype(np.int64)
        y[:2] = [0, 1]
        s = 5.0 * y + r.normal(0, 4, n)  # unbounded real scores
        cases.append(ranking_case(f"real_scores_imbalanced_n{n}", y, s))
    y = (r.random(400) < 0.9).astype(np.int64)
    s = r.normal(0, 1, 400) - 0.5 * y
    cases.append(ranking_case("mostly_positive_anti_n400", y, s))
    return cases


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


def regression_case(name, y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    exp = {
        "rmse": ref(skm.root_mean_squared_error, y_true, y_pred),
        "mse": ref(skm.mean_squared_error, y_true, y_pred),
        "mae": ref(skm.mean_absolute_error, y_true, y_pred),
        "r2": ref(skm.r2_score, y_true, y_pred) if len(y_true) >= 2 else None,
        "mape": ref(skm.mean_absolute_percentage_error, y_true, y_pred),
    }
    return {"name": name, "y_true": y_true.tolist(), "y_pred": y_pred.tolist(), "expected": exp}


def regression_cases():
    cases = [
        regression_case("n2", [1.0, 2.0], [1.5, 1.5]),
        regression_case("perfect_n5", [1.0, -2.0, 3.5, 0.25, 10.0], [1.0, -2.0, 3.5, 0.25, 10.0]),
        regression_case("constant_true_perfect_n4", [3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]),
        regression_case("constant_true_imperfect_n4", [3.0, 3.0, 3.0, 3.0], [2.0, 3.0, 4.5, 3.0]),
        regression_case("zeros_in_true_n6", [0.0, 1.0, 0.0, -2.0, 4.0, 0.0], [0.5, 1.0, 0.0, -1.0, 5.0, -0.25]),
        regression_case("all_zero_true_n3", [0.0, 0.0, 0.0], [0.0, 1e-3, -2.0]),
        regression_case("worse_than_mean_n5", [1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.0]),
    ]
    r = np.random.default_rng(40)
    for n in (30, 1000, 5000):
        x = r.normal(0, 1, n)
        y = 3.0 + 2.0 * x + r.normal(0, 0.7, n)
        yhat = 3.1 + 1.9 * x
        cases.append(regression_case(f"linear_n{n}", y, yhat))
    y = 1e6 * (1 + r.random(200))
    cases.append(regression_case("large_scale_n200", y, y + r.normal(0, 1e4, 200)))
    y = r.normal(0, 1e-3, 200)
    cases.append(regression_case("small_scale_n200", y, y + r.normal(0, 1e-4, 200)))
    y = np.where(r.random(300) < 0.2, 0.0, r.gamma(2.0, 2.0, 300))
    cases.append(regression_case("count_like_with_zeros_n300", y, np.abs(y + r.normal(0, 1, 300))))
    return cases


# --------------------------------------------------------------------------
# McNemar
# --------------------------------------------------------------------------


def mcnemar_from_counts(b, c):
    table = np.array([[10, b], [c, 7]])
    out = {"b": b, "c": c}
    ex = sm_mcnemar(table, exact=True)
    out["exact_statistic"] = float(ex.statistic)
    out["exact_pvalue"] = float(ex.pvalue)
    if b + c > 0:
        ch = sm_mcnemar(table, exact=False, correction=True)
        out["chi2_statistic"] = float(ch.statistic)
        out["chi2_pvalue"] = float(ch.pvalue)
    else:
        out["chi2_statistic"] = None
        out["chi2_pvalue"] = None
    return out


def mcnemar_cases():
    counts = [
        (0, 0), (0, 1), (1, 0), (1, 1), (0, 5), (2, 9), (7, 7), (3, 10), (12, 12),
        (0, 24), (10, 14), (11, 13), (25, 0), (13, 12), (30, 45), (40, 41),
        (100, 130), (250, 180), (1000, 1100), (2000, 2100), (2400, 2600),
        (0, 60), (0, 400), (1, 2000), (5, 4995),
    ]
    count_cases = [mcnemar_from_counts(b, c) for b, c in counts]

    paired = []
    r = np.random.default_rng(50)
    for n, k, acc_a, acc_b in ((20, 2, 0.7, 0.75), (500, 2, 0.8, 0.84), (3000, 3, 0.7, 0.72)):
        y = r.integers(0, k, n)
        a = np.where(r.random(n) < acc_a, y, (y + 1 + r.integers(0, k - 1, n)) % k)
        bb = np.where(r.random(n) < acc_b, y, (y + 1 + r.integers(0, k - 1, n)) % k)
        ca, cb = a == y, bb == y
        table = np.array(
            [[np.sum(ca & cb), np.sum(ca & ~cb)], [np.sum(~ca & cb), np.sum(~ca & ~cb)]]
        )
        b_, c_ = int(table[0, 1]), int(table[1, 0])
        exact = b_ + c_ < 25
        res = sm_mcnemar(table, exact=exact, correction=True)
        paired.append(
            {
                "name": f"paired_n{n}_k{k}",
                "y_true": y.tolist(),
                "pred_a": a.tolist(),
                "pred_b": bb.tolist(),
                "b": b_,
                "c": c_,
                "exact": exact,
                "statistic": float(res.statistic),
                "pvalue": float(res.pvalue),
            }
        )
    return {"counts": count_cases, "paired": paired}


# --------------------------------------------------------------------------
# Fairness
# --------------------------------------------------------------------------


def fairness_case(name, y_true, y_pred, groups):
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    groups = np.asarray(groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "accuracy": skm.accuracy_score,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
                "count": lambda yt, yp: len(yt),
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
        )
    by_group = {}
    for g, row in mf.by_group.iterrows():
        by_group[str(g)] = {col: float(row[col]) for col in mf.by_group.columns}
        by_group[str(g)]["count"] = int(row["count"])
    overall = {col: float(mf.overall[col]) for col in mf.by_group.columns}
    overall["count"] = int(overall["count"])
    return {
        "name": name,
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "groups": [str(g) for g in groups],
        "overall": overall,
        "by_group": by_group,
        "demographic_parity_difference": ref(
            demographic_parity_difference, y_true, y_pred, sensitive_features=groups
        ),
        "equalized_odds_difference": ref(
            equalized_odds_difference, y_true, y_pred, sensitive_features=groups
        ),
        "disparate_impact_ratio": ref(
            demographic_parity_ratio, y_true, y_pred, sensitive_features=groups
        ),
    }


def fairness_cases():
    cases = [
        fairness_case(
            "tiny_two_groups",
            [1, 0, 1, 1, 0, 0],
            [1, 0, 0, 1, 1, 0],
            ["a", "a", "a", "b", "b", "b"],
        )
    ]
    r = np.random.default_rng(60)
    for n, names, seed_bias in ((40, ["f", "m"], 0.2), (600, ["x", "y", "z"], 0.1), (5000, ["g0", "g1", "g2", "g3"], 0.15)):
        g = r.choice(names, size=n)
        gi = np.searchsorted(np.array(sorted(names)), g)
        y = (r.random(n) < 0.35 + 0.05 * gi).astype(np.int64)
        score = 0.6 * y + seed_bias * gi + r.normal(0, 0.35, n)
        yp = (score > 0.45).astype(np.int64)
        cases.append(fairness_case(f"random_n{n}_groups{len(names)}", y, yp, g))
    # A group without actual positives (its TPR is reported as 0 by the reference).
    cases.append(
        fairness_case(
            "group_without_positives",
            [0, 0, 0, 1, 0, 1, 1, 0],
            [1, 0, 0, 1, 0, 0, 1, 1],
            ["p", "p", "p", "q", "q", "q", "q", "q"],
        )
    )
    # Nobody selected: the ratio is 0/0 (reference NaN -> error expected).
    cases.append(
        fairness_case(
            "nobody_selected", [0, 1, 0, 1], [0, 0, 0, 0], ["a", "a", "b", "b"]
        )
    )
    return cases


def write(name, payload):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(payload, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    meta = {
        "generated_by": "scripts/metrics_fixtures.py",
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "statsmodels": statsmodels.__version__,
        "fairlearn": fairlearn.__version__,
        "python": sys.version.split()[0],
    }
    write("classification.json", {"meta": meta, "cases": classification_cases()})
    write("ranking.json", {"meta": meta, "cases": ranking_cases()})
    write("regression.json", {"meta": meta, "cases": regression_cases()})
    write("mcnemar.json", {"meta": meta, **mcnemar_cases()})
    write("fairness.json", {"meta": meta, "cases": fairness_cases()})


if __name__ == "__main__":
    main()
