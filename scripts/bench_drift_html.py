#!/usr/bin/env python3
"""Drift HTML report benchmark: `mlcycle drift --format html` against Evidently's HTML report,
end to end (CSV in, HTML out), in one run on the same files.

Data: the files of scripts/bench_drift.py (N rows x 20 numeric + 4 categorical columns per
side, seeded, into target/bench-drift/rows-N/, never committed).

Measured (best of --repeat runs each):
  * mlcycle: `target/release/mlcycle drift --reference ref.csv --current cur.csv
    --format html --output report.html` (Evidently's automatic method selection and binning);
  * Evidently: pandas.read_csv of both files, `Report([DataDriftPreset()]).run(...)` and
    `save_html(...)`, optionally on the first --evidently-rows rows of each file (then its time
    is also scaled linearly to the full size and said so);
  * the size of each HTML file.

Usage (from the repository root):
  python3 -m venv /tmp/venv-drift && /tmp/venv-drift/bin/pip install numpy pandas evidently==0.7.23
  /tmp/venv-drift/bin/python scripts/bench_drift_html.py [--rows 1000000] [--evidently-rows N]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent


def write_data(out, rows):
    # the generator of the drift benchmark, so both benchmarks read the same files
    import bench_drift

    bench_drift.write_data(out, rows)


def best_of(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def evidently_html(ref_csv, cur_csv, path, rows):
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_csv(ref_csv, nrows=rows)
    cur = pd.read_csv(cur_csv, nrows=rows)
    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c.startswith("num_")],
        categorical_columns=[c for c in ref.columns if c.startswith("cat_")],
    )
    r = Dataset.from_pandas(ref, data_definition=definition)
    c = Dataset.from_pandas(cur, data_definition=definition)
    Report([DataDriftPreset()]).run(c, r).save_html(str(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=ROOT / "target" / "bench-drift")
    ap.add_argument("--evidently-rows", type=int, help="run Evidently on the first N rows only")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    out = args.dir / f"rows-{args.rows}"
    write_data(out, args.rows)
    ref_csv, cur_csv = out / "ref.csv", out / "cur.csv"
    res = {
        "rows": args.rows,
        "columns": 24,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "csv_bytes": ref_csv.stat().st_size + cur_csv.stat().st_size,
    }
    if not args.skip_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "mlcycle"], cwd=ROOT, check=True)
    html = out / "mlcycle-drift.html"
    cmd = [
        str(ROOT / "target" / "release" / "mlcycle"), "drift", "--reference", str(ref_csv),
        "--current", str(cur_csv), "--format", "html", "--output", str(html),
    ]
    res["mlcycle_s"] = best_of(lambda: subprocess.run(cmd, check=True), args.repeat)
    res["mlcycle_html_bytes"] = html.stat().st_size

    ev_rows = args.evidently_rows or args.rows
    ev_html = out / "evidently-drift.html"
    res["evidently_rows"] = ev_rows
    res["evidently_s"] = best_of(lambda: evidently_html(ref_csv, cur_csv, ev_html, ev_rows), 1)
    res["evidently_html_bytes"] = ev_html.stat().st_size
    scale = args.rows / ev_rows
    res["evidently_s_scaled_to_rows"] = res["evidently_s"] * scale
    res["speedup"] = res["evidently_s_scaled_to_rows"] / res["mlcycle_s"]
    res["speedup_note"] = (
        "measured on the same rows" if scale == 1 else
        f"Evidently ran on {ev_rows} rows per side; its time is scaled linearly by {scale:g} (a lower bound on its full-size time only if it scales at least linearly)"
    )
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
