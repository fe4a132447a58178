#!/usr/bin/env python3
"""Reference solutions of L2 logistic regression from scikit-learn, for `tests/train/train_logistic.rs`.

Writes `tests/fixtures/train/logistic_sklearn.json`: for a binary and a three-class problem,
the raw inputs, the labels, the penalty `l2` (scikit-learn's `C = 1 / l2`) and scikit-learn's
solution of `make_pipeline(StandardScaler(), LogisticRegression(C=1/l2, solver="lbfgs"))`
solved to a tight tolerance, in mlcycle's reference-class form (class 0's scores subtracted),
its class probabilities for the first 40 rows, plus what the Rust test needs to bound the coefficient error it may allow:

* `sk_max_gradient`: the largest gradient component of scikit-learn's (row-averaged)
  objective at its solution, and
* `hessian_min_eig`: the smallest eigenvalue of that objective's Hessian there (for three
  classes, on the subspace orthogonal to the direction "add the same constant to every
  intercept", along which the probabilities do not change).

For a strongly convex objective with curvature >= mu, a point with gradient g lies within
|g| / mu of the minimiser, which is what the test checks against.

Deterministic (seeded numpy generator, sorted JSON keys). Run from the repository root with a
Python that has scikit-learn (e.g. `python3 -m venv .venv-train && .venv-train/bin/pip install
scikit-learn`):

    .venv-train/bin/python scripts/logistic_fixtures.py
"""

import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

OUT = os.path.join("tests", "fixtures", "train", "logistic_sklearn.json")


def make(rng, n, k, d):
    """Features of unequal scales and offsets, correlated, with a noisy linear class rule."""
    z = rng.normal(size=(n, d))
    z[:, 1] += 0.6 * z[:, 0]
    x = z * np.array([1.0, 10.0, 0.1, 3.0, 100.0][:d]) + np.array([5.0, -20.0, 0.0, 1.0, 300.0][:d])
    w = rng.normal(size=(d, k))
    logits = z @ w + rng.normal(scale=1.0, size=(n, k))
    y = logits.argmax(axis=1)
    return x, y


def objective_parts(zs, y, k, l2, theta):
    """Row-averaged objective's gradient and Hessian (full parametrisation), theta as
    (outputs, d + 1) with the intercept last."""
    n, d = zs.shape
    a = np.hstack([zs, np.ones((n, 1))])
    pen = np.ones(d + 1)
    pen[d] = 0.0
    if k == 2:
        p = 1 / (1 + np.exp(-(a @ theta[0])))
        g = a.T @ (p - y) / n + l2 / n * pen * theta[0]
        h = (a.T * (p * (1 - p))) @ a / n + np.diag(l2 / n * pen)
        return g, h
    eta = a @ theta.T
    eta -= eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(k)[y]
    g = ((p - onehot).T @ a / n + l2 / n * pen * theta).ravel()
    q = d + 1
    h = np.zeros((k * q, k * q))
    for c in range(k):
        for e in range(k):
            wgt = p[:, c] * ((c == e) - p[:, e])
            h[c * q:(c + 1) * q, e * q:(e + 1) * q] = (a.T * wgt) @ a / n
    h += np.diag(np.tile(l2 / n * pen, k))
    return g, h


def case(rng, n, k, d, l2):
    x, y = make(rng, n, k, d)
    scaler = StandardScaler().fit(x)
    zs = scaler.transform(x)
    lr = LogisticRegression(C=1.0 / l2, solver="lbfgs", tol=1e-12, max_iter=100_000).fit(zs, y)
    coef, icpt = lr.coef_, lr.intercept_
    theta = np.hstack([coef, icpt[:, None]])
    g, h = objective_parts(zs, y, k, l2, theta)
    eig = np.linalg.eigvalsh(h)
    if k > 2:
        # Project out the null direction (same constant on every intercept).
        q = d + 1
        u = np.zeros(k * q)
        u[d::q] = 1.0 / np.sqrt(k)
        proj = np.eye(k * q) - np.outer(u, u)
        eig = np.linalg.eigvalsh(proj @ h @ proj)
        eig = np.sort(eig)[1:]  # drop the zero of the projected-out direction
    if k == 2:
        w_ref, b_ref = coef.T, icpt
    else:
        w_ref, b_ref = (coef[1:] - coef[0]).T, icpt[1:] - icpt[0]
    proba = lr.predict_proba(zs[:40])
    return {
        "x": x.tolist(),
        "y": y.tolist(),
        "n_classes": k,
        "l2": l2,
        "weights": w_ref.tolist(),
        "intercepts": b_ref.tolist(),
        "proba": proba.tolist(),
        "sk_max_gradient": float(np.abs(g).max()),
        "hessian_min_eig": float(eig.min()),
        "sk_n_iter": int(lr.n_iter_.max()),
    }


def main():
    rng = np.random.default_rng(20261128)
    out = {
        "sklearn_version": sklearn.__version__,
        "binary": case(rng, 400, 2, 5, 1.0),
        "binary_weak_penalty": case(rng, 300, 2, 4, 0.01),
        "multinomial": case(rng, 450, 3, 4, 2.0),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
