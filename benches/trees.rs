//! Tree-learner benchmark against scikit-learn on the same data.
//!
//! 1. `python scripts/bench_trees.py` (writes target/bench_trees/{train,test}.csv and
//!    sklearn.json with scikit-learn's figures),
//! 2. `cargo bench --bench trees` (this file; prints our figures next to scikit-learn's).
//!
//! Environment: `BENCH_TREES_DIR` (default target/bench_trees), `BENCH_TREES_REPEATS`
//! (default 3), `BENCH_TREES_FOREST=1` to also time the random forest.

use std::time::Instant;

use mlcycle::train::trees::{EarlyStopping, GbdtParams, RandomForestParams, TreeTask};
use ndarray::{Array1, Array2, ArrayView1};

fn read_csv(path: &str) -> Result<(Array2<f64>, Array1<f64>), String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
    let mut vals = Vec::new();
    let mut ys = Vec::new();
    let mut p = 0;
    for rec in rd.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        p = rec.len() - 1;
        for (j, f) in rec.iter().enumerate() {
            let v: f64 = f.parse().map_err(|e| format!("{path}: {e}"))?;
            if j < p {
                vals.push(v);
            } else {
                ys.push(v);
            }
        }
    }
    let n = ys.len();
    Ok((
        Array2::from_shape_vec((n, p), vals).map_err(|e| e.to_string())?,
        Array1::from(ys),
    ))
}

/// ROC AUC by the rank-sum formula (ties get average ranks).
fn auc(score: ArrayView1<f64>, y: ArrayView1<f64>) -> f64 {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut ranks = vec![0.0; y.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let n_pos = y.iter().filter(|&&v| v == 1.0).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    let sum_pos: f64 = ranks
        .iter()
        .zip(y)
        .filter(|(_, v)| **v == 1.0)
        .map(|(r, _)| r)
        .sum();
    (sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// CPU time of this process (all threads) in seconds, from /proc (Linux); 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ns = 0u64;
    for e in dir.flatten() {
        if let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 * 1e-9
}

/// Runs `f` `repeats` times: (best wall s, median wall s, best CPU s, last result).
fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, f64, f64, T) {
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut out = None;
    for _ in 0..repeats {
        let c = cpu_seconds();
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (
        times[0],
        times[times.len() / 2],
        cpu[0],
        out.expect("repeats ≥ 1"),
    )
}

fn main() {
    let dir = std::env::var("BENCH_TREES_DIR").unwrap_or_else(|_| "target/bench_trees".into());
    let repeats: usize = std::env::var("BENCH_TREES_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let (xtr, ytr, xte, yte) = match (
        read_csv(&format!("{dir}/train.csv")),
        read_csv(&format!("{dir}/test.csv")),
    ) {
        (Ok((a, b)), Ok((c, d))) => (a, b, c, d),
        (Err(e), _) | (_, Err(e)) => {
            println!("no benchmark data ({e}); run `python scripts/bench_trees.py` first");
            return;
        }
    };
    let sk: Option<serde_json::Value> = std::fs::read_to_string(format!("{dir}/sklearn.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    println!(
        "data: {} train × {} features, {} test; rayon threads: {}; repeats: {repeats}",
        xtr.nrows(),
        xtr.ncols(),
        xte.nrows(),
        rayon::current_num_threads()
    );
    let task = TreeTask::Classification { n_classes: 2 };

    // Profiling aid: fit once, then only predict N times on the training rows.
    if let Some(loops) = std::env::var("BENCH_TREES_PREDICT_LOOPS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        let params = GbdtParams::default()
            .early_stopping(EarlyStopping::Disabled)
            .check()
            .expect("valid params");
        let model = params
            .fit(xtr.view(), ytr.view(), task, 0, None)
            .expect("fit");
        let (best, med, cpu, _) =
            best_of(loops, || model.predict_proba(xtr.view()).expect("predict"));
        println!(
            "predict 100k rows, {loops} runs: best {best:.4} s, median {med:.4} s, best CPU {cpu:.4} s"
        );
        return;
    }

    for (name, es) in [
        ("hgb_default", EarlyStopping::Auto),
        ("hgb_no_early_stop", EarlyStopping::Disabled),
    ] {
        let params = GbdtParams::default()
            .early_stopping(es)
            .check()
            .expect("valid params");
        let (fit_best, fit_med, fit_cpu, model) = best_of(repeats, || {
            params
                .fit(xtr.view(), ytr.view(), task, 0, None)
                .expect("fit")
        });
        let (pred_best, pred_med, pred_cpu, proba) = best_of(repeats, || {
            model.predict_proba(xte.view()).expect("predict")
        });
        let (predtr_best, _, predtr_cpu, _) = best_of(repeats, || {
            model.predict_proba(xtr.view()).expect("predict")
        });
        let p1 = proba.column(1);
        let acc = p1
            .iter()
            .zip(&yte)
            .filter(|(p, y)| ((**p > 0.5) as u8 as f64) == **y)
            .count() as f64
            / yte.len() as f64;
        let a = auc(p1, yte.view());
        println!("\n== {name} ==");
        println!(
            "{:<26}{:>14}{:>14}{:>10}",
            "", "mlcycle", "scikit-learn", "ratio"
        );
        let skv = |k: &str| sk.as_ref().and_then(|v| v[name][k].as_f64());
        let row = |label: &str, ours: f64, theirs: Option<f64>, time: bool| {
            let (o, t) = match theirs {
                Some(t) if time => (format!("{ours:.4}"), format!("{t:.4}")),
                Some(t) => (format!("{ours:.4}"), format!("{t:.4}")),
                None => (format!("{ours:.4}"), "-".into()),
            };
            let ratio = match theirs {
                Some(t) if time && ours > 0.0 => format!("{:.2}x", t / ours),
                Some(t) if !time => format!("{:+.4}", ours - t),
                _ => "-".into(),
            };
            println!("{label:<26}{o:>14}{t:>14}{ratio:>10}");
        };
        row("fit s (best)", fit_best, skv("fit_s_best"), true);
        row("fit s (median)", fit_med, skv("fit_s_median"), true);
        row("fit CPU s (best)", fit_cpu, skv("fit_cpu_s_best"), true);
        row(
            "predict 20k s (best)",
            pred_best,
            skv("predict_test_s_best"),
            true,
        );
        row(
            "predict 20k s (median)",
            pred_med,
            skv("predict_test_s_median"),
            true,
        );
        row(
            "predict 20k CPU s (best)",
            pred_cpu,
            skv("predict_test_cpu_s_best"),
            true,
        );
        row(
            "predict 100k s (best)",
            predtr_best,
            skv("predict_train_s_best"),
            true,
        );
        row(
            "predict 100k CPU s (best)",
            predtr_cpu,
            skv("predict_train_cpu_s_best"),
            true,
        );
        row("n_iter", model.n_iter() as f64, skv("n_iter"), false);
        row("accuracy", acc, skv("accuracy"), false);
        row("AUC", a, skv("auc"), false);
    }

    if std::env::var("BENCH_TREES_FOREST").is_ok_and(|v| v == "1") {
        let params = RandomForestParams::default().check().expect("valid params");
        let (fit_best, _, _, rf) = best_of(1, || {
            params
                .fit(xtr.view(), ytr.view(), task, 0, None)
                .expect("fit")
        });
        let (pred_best, _, _, proba) =
            best_of(repeats, || rf.predict_proba(xte.view()).expect("predict"));
        println!("\n== random forest (100 trees) ==");
        println!(
            "fit s {fit_best:.3}  predict 20k s {pred_best:.4}  AUC {:.4}",
            auc(proba.column(1), yte.view())
        );
        if let Some(v) = sk.as_ref().map(|v| &v["rf"]) {
            println!("scikit-learn: {v}");
        }
    }
}
