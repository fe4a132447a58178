#!/usr/bin/env python3
"""Generate the drift-statistics fixtures in tests/fixtures/drift/*.json.

The expected numbers come from the reference tools themselves (scipy 1.17, Evidently 0.7,
NannyML 0.13), called on deterministic data (fixed seeds). The Rust tests read the JSON
and never call Python.

    python3 -m venv .venv-drift
    .venv-drift/bin/pip install -r scripts/requirements-drift.txt
    .venv-drift/bin/python scripts/drift_fixtures.py

Non-finite floats are written as the strings "nan", "inf" and "-inf". A method that
raised in the reference tool is recorded as {"error": "<message>"}.
"""

import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from scipy import stats
from scipy.special import smirnov

import evidently
from evidently.legacy.core import ColumnType
from evidently.legacy.calculations.stattests import registry as ev_registry
from evidently.legacy.calculations.stattests.cramer_von_mises_stattest import _cvm_2samp
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.kl_div import _kl_div
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.hellinger_distance import _hellinger_distance
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.calculations.stattests.energy_distance import _energy_dist
from evidently.legacy.calculations.stattests.anderson_darling_stattest import _anderson_darling
from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
from evidently.legacy.calculations.stattests.tvd_stattest import _total_variation_distance
from evidently.legacy.calculations.stattests import mmd_stattest as ev_mmd

import nannyml
from nannyml.drift.univariate import methods as nm

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "drift"


# ----------------------------------------------------------------------------- helpers

def enc(x):
    """Encode a float for JSON (non-finite values as strings)."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def enc_arr(a):
    return [enc(v) for v in a]


def attempt(fn):
    """Run fn(); return its (encoded) value or {"error": msg}."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = fn()
    except Exception as e:  # the reference tool refused the input
        return {"error": f"{type(e).__name__}: {e}"}
    if isinstance(v, dict):
        return {k: enc(x) if isinstance(x, (float, int, np.floating, np.integer)) else x for k, x in v.items()}
    if isinstance(v, str):
        return v
    return enc(v)


def clean(a):
    """Evidently's cleaning: replace +-inf by NaN and drop NaN."""
    s = pd.Series(a, dtype="float64")
    return s.replace([-np.inf, np.inf], np.nan).dropna().reset_index(drop=True)


def ks_info(r, c):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = stats.ks_2samp(r, c)
    n1, n2 = len(r), len(c)
    method = "exact" if max(n1, n2) <= 10000 else "asymp"
    if any("Switching to method=asymp" in str(x.message) for x in w):
        method = "asymp"
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "method": method}


def nannyml_value(cls, ref, cur):
    m = cls(chunker=None, threshold=None)
    m._fit(pd.Series(ref))
    return float(m._calculate(pd.Series(cur)))


def mmd_statistic(r, c):
    x = np.asarray(r, dtype=float).reshape(-1, 1)
    y = np.asarray(c, dtype=float).reshape(-1, 1)
    km = ev_mmd.kernel_matrix(x, y)
    km = km - np.diag(np.diagonal(km))
    stat = ev_mmd.mmd_2samp(km, y.shape[0], permute=False)
    sigma = ev_mmd.sigma_median(ev_mmd.squared_paired_dist(x, x))
    return {"statistic": float(stat), "sigma": float(sigma)}


def round_sig(a, digits):
    """Round to a number of decimals so the JSON stays small (values stay exact doubles)."""
    return np.round(np.asarray(a, dtype=float), digits)


# ----------------------------------------------------------------------------- data

def numeric_cases():
    rng = np.random.default_rng(20240601)
    cases = []

    def add(name, ref, cur, mmd=False):
        cases.append((name, np.asarray(ref, dtype=float), np.asarray(cur, dtype=float), mmd))

    add("normal_shift_200x150", rng.normal(0, 1, 200), rng.normal(0.3, 1.2, 150), True)
    r = rng.normal(0, 1, 300)
    r[[3, 50, 77]] = np.nan
    r[10] = np.inf
    c = rng.normal(0.1, 1, 280)
    c[[5]] = -np.inf
    c[[8, 9]] = np.nan
    add("normal_with_nan_inf_300x280", r, c, True)
    add("lognormal_skew_500x400", rng.lognormal(0, 1, 500), rng.lognormal(0.2, 1.1, 400), True)
    add("cauchy_equal_300x300", rng.standard_cauchy(300), rng.standard_cauchy(300) + 0.5, True)
    add("student_t3_1000x800", rng.standard_t(3, 1000), rng.standard_t(3, 800) * 1.1)
    add("ties_int_400x350", rng.integers(0, 31, 400), rng.integers(2, 33, 350), True)
    add("ties_few_300x300", rng.integers(0, 5, 300), rng.integers(0, 5, 300) + (rng.random(300) < 0.2))
    add("ties_three_1500x1200", rng.integers(0, 3, 1500), rng.integers(0, 3, 1200))
    add("identical_300", (v := rng.normal(5, 2, 300)), v.copy(), True)
    add("out_of_range_500x400", rng.normal(0, 1, 500), rng.normal(0, 2.5, 400), True)
    add("constant_50x40", np.full(50, 3.25), np.full(40, 3.25))
    add("constant_vs_other_30x30", np.full(30, 1.0), np.full(30, 2.0))
    add("unequal_50x2000", rng.normal(0, 1, 50), rng.normal(0.2, 1, 2000))
    add("large_ref_3000x2500", rng.gamma(2.0, 1.0, 3000), rng.gamma(2.2, 1.0, 2500))
    add("offset_mean_400x300", rng.normal(100, 1, 400), rng.normal(100.2, 1, 300), True)
    # tiny samples, no ties (exact KS / CvM / Mann-Whitney paths)
    for n1, n2 in [(1, 1), (1, 5), (2, 2), (2, 9), (3, 4), (4, 4), (5, 5), (5, 8), (7, 10), (8, 8), (10, 10), (9, 3)]:
        add(f"tiny_{n1}x{n2}", rng.normal(0, 1, n1), rng.normal(0.5, 1, n2), n1 >= 2 and n2 >= 2)
    add("tiny_ties_6x7", rng.integers(0, 4, 6), rng.integers(0, 4, 7))
    add("small_15x20", rng.normal(0, 1, 15), rng.normal(0.8, 1, 20), True)
    add("small_ties_12x18", rng.integers(0, 6, 12), rng.integers(1, 7, 18), True)
    add("small_20x20", rng.exponential(1, 20), rng.exponential(1.5, 20), True)
    add("mwu_exact_8x40", rng.normal(0, 1, 8), rng.normal(0.7, 1, 40))
    add("mwu_exact_5x300", rng.normal(0, 1, 5), rng.normal(-0.5, 1, 300))
    # KS exact path with large unequal sizes, and the asymptotic path (rounded for size)
    add("exact_5000x4000", round_sig(rng.normal(0, 1, 5000), 5), round_sig(rng.normal(0.03, 1, 4000), 5))
    add("exact_equal_3000x3000", round_sig(rng.normal(0, 1, 3000), 5), round_sig(rng.normal(0.05, 1, 3000), 5))
    add("asymp_20000x20000", round_sig(rng.normal(0, 1, 20000), 4), round_sig(rng.normal(0.01, 1, 20000), 4))
    add("asymp_12000x11000", round_sig(rng.normal(0, 1, 12000), 4), round_sig(rng.normal(0.06, 1, 11000), 4))
    add("asymp_small_120x15000", round_sig(rng.normal(0, 1, 120), 4), round_sig(rng.normal(0.2, 1, 15000), 4))
    return cases


def numeric_expected(name, raw_r, raw_c, mmd):
    r = clean(raw_r)
    c = clean(raw_c)
    rv, cv = r.to_numpy(), c.to_numpy()
    num = ColumnType.Numerical
    e = {}
    e["n_reference"] = len(rv)
    e["n_current"] = len(cv)
    e["dropped_reference"] = {
        "nan": int(np.isnan(raw_r).sum()),
        "pos_inf": int(np.isposinf(raw_r).sum()),
        "neg_inf": int(np.isneginf(raw_r).sum()),
    }
    e["ks"] = attempt(lambda: ks_info(rv, cv))
    e["wasserstein"] = attempt(lambda: stats.wasserstein_distance(rv, cv))
    e["wasserstein_normed"] = attempt(lambda: _wasserstein_distance_norm(r.copy(), c.copy(), num, 0.1)[0])
    e["energy_distance"] = attempt(lambda: _energy_dist(r.copy(), c.copy(), num, 0.1)[0])
    # scipy's cramervonmises_2samp; Evidently's copy computes the same numbers but its exact
    # path fails under NumPy 2 for some sizes (recorded separately)
    e["cramer_von_mises"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(stats.cramervonmises_2samp(rv, cv)))
    e["cramer_von_mises_evidently"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(_cvm_2samp(rv, cv)))
    e["anderson"] = attempt(lambda: {
        "statistic": stats.anderson_ksamp([rv, cv]).statistic,
        "p_value": _anderson_darling(r.copy(), c.copy(), num, 0.1)[0],
    })
    e["mannw_less"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(stats.mannwhitneyu(rv, cv, alternative="less")))
    e["mannw_two_sided"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(stats.mannwhitneyu(rv, cv, alternative="two-sided")))
    e["mannw_greater"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(stats.mannwhitneyu(rv, cv, alternative="greater")))
    e["t_test"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue})(stats.ttest_ind(rv, cv)))
    e["psi_evidently"] = attempt(lambda: _psi(r.copy(), c.copy(), num, 0.1)[0])
    e["kl_div_evidently"] = attempt(lambda: _kl_div(r.copy(), c.copy(), num, 0.1)[0])
    e["jensenshannon_evidently"] = attempt(lambda: _jensenshannon(r.copy(), c.copy(), num, 0.1)[0])
    e["hellinger_evidently"] = attempt(lambda: _hellinger_distance(r.copy(), c.copy(), num, 0.1)[0])
    e["jensenshannon_nannyml"] = attempt(lambda: nannyml_value(nm.ContinuousJensenShannonDistance, rv, cv))
    e["hellinger_nannyml"] = attempt(lambda: nannyml_value(nm.ContinuousHellingerDistance, rv, cv))
    # PSI / KL on NannyML's bins: no NannyML counterpart; Evidently's formulas on those bins
    e["psi_reference_bins"] = attempt(lambda: psi_kl_reference_bins(rv, cv)[0])
    e["kl_div_reference_bins"] = attempt(lambda: psi_kl_reference_bins(rv, cv)[1])
    e["auto_method"] = attempt(lambda: ev_registry._get_default_stattest(r, c, num).name)
    if mmd:
        e["mmd"] = attempt(lambda: mmd_statistic(rv, cv))
    return e


def fill_zeroes(p):
    p = p.copy()
    m = min(p[p != 0])
    np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return p


def psi_kl_reference_bins(rv, cv):
    """Doane bins of the reference + NannyML's leftover bin, then Evidently's fill/formulas."""
    bins = np.histogram_bin_edges(rv.astype("float64"), bins="doane")
    rp = np.histogram(rv, bins=bins)[0] / len(rv)
    cp = np.histogram(cv, bins=bins)[0] / len(cv)
    leftover = 1 - np.sum(cp)
    if leftover > 0:
        cp = np.append(cp, leftover)
        rp = np.append(rp, 0)
    rf, cf = fill_zeroes(rp), fill_zeroes(cp)
    psi = np.sum((rf - cf) * np.log(rf / cf))
    kl = stats.entropy(rf, cf)
    return float(psi), float(kl)


def categorical_cases():
    rng = np.random.default_rng(777)
    cases = []

    def add(name, ref, cur):
        cases.append((name, np.asarray(ref, dtype=np.int64), np.asarray(cur, dtype=np.int64)))

    add("cat5_shift_300x250", rng.choice(5, 300, p=[0.1, 0.2, 0.3, 0.25, 0.15]), rng.choice(5, 250, p=[0.2, 0.2, 0.2, 0.2, 0.2]))
    add("cat_new_category_400x300", rng.choice(4, 400), np.concatenate([rng.choice(4, 290), np.full(10, 7)]))
    add("cat_missing_in_current_350x200", rng.choice([0, 1, 2, 3, 9], 350), rng.choice([0, 1, 2], 200))
    add("cat_binary_200x180", rng.choice(2, 200, p=[0.6, 0.4]), rng.choice(2, 180, p=[0.45, 0.55]))
    add("cat_binary_codes_3_8_120x90", rng.choice([3, 8], 120), rng.choice([3, 8], 90, p=[0.7, 0.3]))
    add("cat_single_same_50x60", np.full(50, 2), np.full(60, 2))
    add("cat_binary_disjoint_40x30", np.full(40, 0), np.full(30, 1))
    add("cat_many_2000x1500", rng.choice(30, 2000), rng.choice(30, 1500, p=np.r_[np.full(29, 0.03), 0.13]))
    add("cat_identical_500", (v := rng.choice(6, 500)), v.copy())
    add("cat_tiny_3x2", np.array([0, 1, 1]), np.array([1, 2]))
    return cases


def categorical_expected(name, r, c):
    cat = ColumnType.Categorical
    rs, cs = pd.Series(r), pd.Series(c)
    e = {}
    e["chisquare_p"] = attempt(lambda: _chi_stat_test(rs.copy(), cs.copy(), cat, 0.05)[0])
    keys = sorted(set(r.tolist()) | set(c.tolist()))
    k_norm = len(c) / len(r)
    f_exp = [np.sum(r == k) * k_norm for k in keys]
    f_obs = [np.sum(c == k) for k in keys]
    e["chisquare_statistic"] = attempt(lambda: stats.chisquare(f_obs, f_exp)[0])
    e["z_p"] = attempt(lambda: _z_stat_test(rs.copy(), cs.copy(), cat, 0.05)[0])
    table = np.array([[np.sum(r == k) for k in keys], [np.sum(c == k) for k in keys]])
    e["chi2_contingency"] = attempt(lambda: (lambda res: {"statistic": res.statistic, "p_value": res.pvalue, "dof": int(res.dof)})(stats.chi2_contingency(table)))
    e["tvd"] = attempt(lambda: _total_variation_distance(rs.copy(), cs.copy()))
    e["l_infinity"] = attempt(lambda: nannyml_value(nm.LInfinityDistance, r, c))
    e["psi_evidently"] = attempt(lambda: _psi(rs.copy(), cs.copy(), cat, 0.1)[0])
    e["kl_div_evidently"] = attempt(lambda: _kl_div(rs.copy(), cs.copy(), cat, 0.1)[0])
    e["jensenshannon_evidently"] = attempt(lambda: _jensenshannon(rs.copy(), cs.copy(), cat, 0.1)[0])
    e["hellinger_evidently"] = attempt(lambda: _hellinger_distance(rs.copy(), cs.copy(), cat, 0.1)[0])
    e["jensenshannon_nannyml"] = attempt(lambda: nannyml_value(nm.CategoricalJensenShannonDistance, r, c))
    e["hellinger_nannyml"] = attempt(lambda: nannyml_value(nm.CategoricalHellingerDistance, r, c))
    e["auto_method"] = attempt(lambda: ev_registry._get_default_stattest(rs, cs, cat).name)
    return e


def kolmogorov_grid():
    ns = [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 5000, 10000, 50000, 100000, 200000]
    out = []
    for n in ns:
        xs = set()
        for t in (0.3, 0.5, 0.75, 1.0, 1.5, 2.5):
            xs.add(t / n)
        for c in (0.05, 0.1, 0.3, 0.5, 0.754, 0.8, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 4.0, 4.5, 6.0, 10.0, 18.0, 40.0, 200.0):
            xs.add(math.sqrt(c / n))
        for x in (0.45, 0.5, 0.6, 0.9, 0.99):
            xs.add(x)
        xs.add(1 - 0.5 / n)
        for x in sorted(xs):
            if not (0 < x < 1):
                continue
            out.append({
                "n": n,
                "x": x,
                "kstwo_sf": enc(stats.kstwo.sf(x, n)),
                "smirnov_sf": enc(smirnov(n, x)),
            })
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "generator": "scripts/drift_fixtures.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "evidently": evidently.__version__,
        "nannyml": nannyml.__version__,
    }
    num = []
    for name, r, c, mmd in numeric_cases():
        print("numeric", name, file=sys.stderr)
        num.append({"name": name, "reference": enc_arr(r), "current": enc_arr(c), "expected": numeric_expected(name, r, c, mmd)})
    cat = []
    for name, r, c in categorical_cases():
        print("categorical", name, file=sys.stderr)
        cat.append({"name": name, "reference": r.tolist(), "current": c.tolist(), "expected": categorical_expected(name, r, c)})
    with open(OUT / "numeric.json", "w") as f:
        json.dump({"meta": meta, "cases": num}, f, separators=(",", ":"), allow_nan=False)
    with open(OUT / "categorical.json", "w") as f:
        json.dump({"meta": meta, "cases": cat}, f, separators=(",", ":"), allow_nan=False)
    with open(OUT / "kolmogorov.json", "w") as f:
        json.dump({"meta": meta, "points": kolmogorov_grid()}, f, separators=(",", ":"), allow_nan=False)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
