#!/usr/bin/env python3
"""Drift benchmark: mlcycle's engine and CLI against the Python tools, in one run.

Data: N rows x (20 numeric + 4 categorical) per side, generated here (seeded) into
target/bench-drift/ (never committed). Methods: ks, wasserstein, psi, jensenshannon on
numeric columns; chisquare, psi, jensenshannon on categorical ones (Evidently binning).

Measured:
  * pandas.read_csv of both files;
  * the scipy per-column loop on the in-memory frames (what Evidently computes per column);
  * mlcycle's engine in memory (cargo bench --bench drift) on the same values;
  * `mlcycle drift` end to end (CSV in, JSON out) and its peak memory;
  * Evidently's DataDriftPreset (auto selection) on the same frames, unless --skip-evidently;
  * alibi-detect's TabularDrift (KS + chi-square), if --alibi-python points at a Python
    with alibi-detect (it needs numpy < 2, so it lives in its own environment).

Usage (from the repository root):
  /path/to/venv/bin/python scripts/bench_drift.py [--rows 1000000] [--skip-evidently]
      [--alibi-python target/bench-drift/venv-alibi/bin/python]
Needs numpy, scipy, pandas (and evidently); see scripts/requirements-drift.txt.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

ROOT = Path(__file__).resolve().parent.parent
METHODS = "ks,wasserstein,psi,jensenshannon,chisquare"
CAT_LEVELS = [3, 5, 12, 40]


def generate(rows, seed, drift):
    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(20):
        shift = drift if j < 5 else 0.0
        kind = j % 5
        if kind == 0:
            x = rng.normal(shift, 1.0, rows)
        elif kind == 1:
            x = rng.lognormal(shift, 0.5, rows)
        elif kind == 2:
            x = rng.exponential(0.5, rows) + shift
        elif kind == 3:
            x = rng.uniform(-5, 5, rows) + shift
        else:
            x = rng.poisson(3.0 + shift, rows).astype(float)
        x = np.round(x, 6)
        x[rng.random(rows) < 0.001] = np.nan  # a few missing values
        cols[f"num_{j}"] = x
    for j, k in enumerate(CAT_LEVELS):
        u = rng.random(rows)
        if drift and j == 0:
            u = u ** 0.9
        codes = np.minimum((u * u * k).astype(int), k - 1)
        labels = np.array([f"c{j}_{i}" for i in range(k)], dtype=object)
        cols[f"cat_{j}"] = labels[codes]
    return pd.DataFrame(cols)


def write_data(out, rows):
    meta_path = out / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("rows") == rows:
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, seed, drift in [("ref", 1, 0.0), ("cur", 2, 0.05)]:
        t = time.perf_counter()
        generate(rows, seed, drift).to_csv(out / f"{name}.csv", index=False)
        print(f"wrote {name}.csv in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    meta_path.write_text(json.dumps({"rows": rows}))


def dump_binary(out, frames):
    """The in-memory values (as pandas parsed them) for the Rust engine benchmark."""
    ref, cur = frames
    num = [c for c in ref.columns if c.startswith("num_")]
    cat = [c for c in ref.columns if c.startswith("cat_")]
    levels = [sorted(set(ref[c].dropna()) | set(cur[c].dropna())) for c in cat]
    for name, df in [("ref", ref), ("cur", cur)]:
        np.ascontiguousarray(df[num].to_numpy(dtype=np.float64).T).tofile(out / f"{name}_num.bin")
        codes = np.stack(
            [pd.Categorical(df[c], categories=lv).codes.astype(np.int64) for c, lv in zip(cat, levels)]
        )
        codes[codes < 0] = 2**32 - 1  # missing
        codes.astype(np.uint32).tofile(out / f"{name}_cat.bin")
    meta = json.loads((out / "meta.json").read_text())
    meta.update({"numeric": num, "categorical": cat, "levels": levels})
    (out / "meta.json").write_text(json.dumps(meta))


def evidently_shares(r, c, numeric):
    """Evidently's get_binned_data."""
    if numeric and pd.Series(r).nunique() > 20:
        bins = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        rp = np.histogram(r, bins)[0] / len(r)
        cp = np.histogram(c, bins)[0] / len(c)
    else:
        keys = np.union1d(pd.unique(r), pd.unique(c))
        rc = pd.Series(r).value_counts().reindex(keys, fill_value=0).to_numpy()
        cc = pd.Series(c).value_counts().reindex(keys, fill_value=0).to_numpy()
        rp, cp = rc / len(r), cc / len(c)
    return rp, cp


def psi(rp, cp):
    def fill(v):
        v = v.copy()
        m = v[v != 0].min()
        v[v == 0] = m / 10**6 if m <= 0.0001 else 0.0001
        return v

    r, c = fill(rp), fill(cp)
    return float(np.sum((r - c) * np.log(r / c)))


def scipy_loop(ref, cur):
    out = {}
    for col in ref.columns:
        rs, cs = ref[col], cur[col]
        if col.startswith("num_"):
            r = rs.to_numpy(dtype=float)
            c = cs.to_numpy(dtype=float)
            r, c = r[np.isfinite(r)], c[np.isfinite(c)]
            ks = stats.ks_2samp(r, c)
            w = stats.wasserstein_distance(r, c)
            rp, cp = evidently_shares(r, c, True)
            out[col] = {
                "ks": (float(ks.statistic), float(ks.pvalue)),
                "wasserstein": (w / max(np.std(r), 0.001), w),
                "psi": psi(rp, cp),
                "jensenshannon": float(distance.jensenshannon(rp, cp)),
            }
        else:
            r, c = rs.dropna().to_numpy(), cs.dropna().to_numpy()
            keys = np.union1d(pd.unique(r), pd.unique(c))
            rc = pd.Series(r).value_counts().reindex(keys, fill_value=0).to_numpy()
            cc = pd.Series(c).value_counts().reindex(keys, fill_value=0).to_numpy()
            chi = stats.chisquare(cc, rc * len(c) / len(r))
            rp, cp = rc / len(r), cc / len(c)
            out[col] = {
                "chisquare": (float(chi.statistic), float(chi.pvalue)),
                "psi": psi(rp, cp),
                "jensenshannon": float(distance.jensenshannon(rp, cp)),
            }
    return out


def timed(f, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - t)
    return best, result


def run_evidently(ref, cur):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c.startswith("num_")],
        categorical_columns=[c for c in ref.columns if c.startswith("cat_")],
    )
    r = Dataset.from_pandas(ref, data_definition=definition)
    c = Dataset.from_pandas(cur, data_definition=definition)
    return Report([DataDriftPreset()]).run(c, r)


ALIBI = r"""
import json, sys, time
import numpy as np
from alibi_detect.cd import TabularDrift
d = sys.argv[1]
meta = json.load(open(d + "/meta.json"))
n, nn, nc = meta["rows"], len(meta["numeric"]), len(meta["categorical"])
def load(s):
    num = np.fromfile(f"{d}/{s}_num.bin", dtype=np.float64).reshape(nn, n).T
    cat = np.fromfile(f"{d}/{s}_cat.bin", dtype=np.uint32).reshape(nc, n).T.astype(np.float64)
    x = np.hstack([num, cat])
    return x[np.isfinite(x).all(axis=1) & (x[:, nn:] < 2**32 - 1).all(axis=1)]
ref, cur = load("ref"), load("cur")
t = time.perf_counter()
cd = TabularDrift(ref, p_val=0.05, categories_per_feature={nn + j: None for j in range(nc)})
pred = cd.predict(cur, drift_type="feature")
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=ROOT / "target" / "bench-drift")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--evidently-rows", type=int, help="run Evidently on the first N rows only")
    ap.add_argument("--alibi-python", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    out = args.dir / f"rows-{args.rows}"
    write_data(out, args.rows)
    res = {"rows": args.rows, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}
    ref_csv, cur_csv = out / "ref.csv", out / "cur.csv"
    res["csv_bytes"] = ref_csv.stat().st_size + cur_csv.stat().st_size

    # pandas.read_csv of both files
    res["pandas_read_csv_s"], frames = timed(
        lambda: (pd.read_csv(ref_csv), pd.read_csv(cur_csv)), args.repeat
    )
    ref, cur = frames
    dump_binary(out, frames)

    res["scipy_loop_s"], scipy_res = timed(lambda: scipy_loop(ref, cur), 1)

    # mlcycle: engine in memory
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "mlcycle"], cwd=ROOT, check=True)
    bench_json = out / "engine.json"
    subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "drift", "--", "--data", str(out), "--json", str(bench_json)],
        cwd=ROOT,
        check=True,
    )
    engine = json.loads(bench_json.read_text())
    res["engine"] = engine

    # mlcycle drift end to end
    report_path = out / "report.json"
    cmd = [
        str(ROOT / "target" / "release" / "mlcycle"), "drift", "--reference", str(ref_csv),
        "--current", str(cur_csv), "--methods", METHODS, "--format", "json", "--output", str(report_path),
    ]
    rss = []

    # GNU time reports the CLI's own peak RSS (a forked child's rusage would include the
    # Python parent's pages)
    gnu_time = Path("/usr/bin/time")

    def cli():
        if gnu_time.exists():
            p = subprocess.run([str(gnu_time), "-f", "%M", *cmd], check=True, capture_output=True, text=True)
            rss.append(int(p.stderr.strip().splitlines()[-1]) * 1024)
        else:
            subprocess.run(cmd, check=True)

    res["cli_s"], _ = timed(cli, max(args.repeat, 2))
    res["cli_max_rss_bytes"] = max(rss) if rss else None

    # agreement of the CLI's numbers with the scipy loop
    report = json.loads(report_path.read_text())
    worst = 0.0
    for col in report["columns"]:
        ref_vals = scipy_res[col["name"]]
        for m, t in col["tests"].items():
            want = ref_vals[m]
            pairs = [(t["statistic"], want if isinstance(want, float) else want[0])]
            if isinstance(want, tuple):
                pairs.append((t.get("p_value", t.get("raw")), want[1]))
            for got, exp in pairs:
                if exp == 0.0 and got == 0.0:
                    continue
                worst = max(worst, abs(got - exp) / max(abs(exp), 1e-300) if abs(exp) > 1e-12 else abs(got - exp))
    res["max_rel_diff_cli_vs_scipy"] = worst

    if not args.skip_evidently:
        try:
            n = args.evidently_rows or args.rows
            res["evidently_rows"] = n
            res["evidently_preset_s"], _ = timed(lambda: run_evidently(ref.iloc[:n], cur.iloc[:n]), 1)
        except Exception as e:  # report, don't fail the benchmark
            res["evidently_error"] = f"{type(e).__name__}: {e}"
    if args.alibi_python:
        p = subprocess.run([str(args.alibi_python), "-c", ALIBI, str(out)], capture_output=True, text=True)
        if p.returncode == 0:
            res["alibi_tabular_s"] = json.loads(p.stdout.strip().splitlines()[-1])["seconds"]
        else:
            res["alibi_error"] = p.stderr.strip().splitlines()[-1] if p.stderr else "failed"

    data_bytes = engine["data_bytes"]
    print(json.dumps(res, indent=2))
    print("\n| measure | seconds | ratio |")
    print("|---|---|---|")
    sl = res["scipy_loop_s"]
    print(f"| scipy per-column loop (in memory) | {sl:.2f} | 1 |")
    print(f"| mlcycle engine, 4+3 methods (in memory, min) | {engine['methods_min_s']:.3f} | {sl / engine['methods_min_s']:.0f}x faster |")
    if "evidently_preset_s" in res:
        ev = res["evidently_preset_s"]
        print(f"| Evidently DataDriftPreset (auto), {res['evidently_rows']} rows | {ev:.2f} | - |")
        print(f"| mlcycle engine, auto (in memory, min), {args.rows} rows | {engine['auto_min_s']:.3f} | - |")
    if "alibi_tabular_s" in res:
        print(f"| alibi-detect TabularDrift (KS + chi2) | {res['alibi_tabular_s']:.2f} | - |")
    pr = res["pandas_read_csv_s"]
    print(f"| pandas.read_csv, both files | {pr:.2f} | 1 |")
    print(f"| mlcycle drift CLI end to end | {res['cli_s']:.2f} | {pr / res['cli_s']:.1f}x faster than read_csv alone |")
    extra = engine.get("methods_extra_bytes")
    if extra is not None:
        print(f"| engine extra memory | {extra / 1e6:.0f} MB | {extra / data_bytes:.2f}x the data ({data_bytes / 1e6:.0f} MB) |")
    if rss:
        print(f"| CLI peak RSS | {max(rss) / 1e6:.0f} MB | CSV {res['csv_bytes'] / 1e6:.0f} MB |")
    print(f"| max relative difference CLI vs scipy | {worst:.1e} | |")


if __name__ == "__main__":
    main()
