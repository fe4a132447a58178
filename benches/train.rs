//! Training through the public `Trainer` / `Model` path (logistic regression and gradient
//! boosting) against scikit-learn on the tree benchmark's data (100,000 × 30, binary).
//!
//! 1. `python scripts/bench_train.py` (writes target/bench_trees/{train,test}.csv if missing
//!    and sklearn_train.json with scikit-learn's figures),
//! 2. `cargo bench --bench train` (prints our figures next to scikit-learn's).
//!
//! Environment: `BENCH_TREES_DIR` (default target/bench_trees), `BENCH_TRAIN_REPEATS`
//! (default 3), `BENCH_TRAIN_PREDICT_REPEATS` (default 20).
//!
//! Fit times are printed as wall-clock and as the process's CPU time (user + system, all
//! threads) during the fit; the script records both for scikit-learn.

use mlcycle::data::{CsvOptions, TargetHint, read_csv, validate_features};
use mlcycle::model::{ModelArtifact, Preprocessor};
use mlcycle::train::{AlgorithmTrainer, TrainContext};
use mlcycle::validate::metrics::{accuracy, roc_auc};
use serde_json::Value;
use std::time::Instant;

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..repeats {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2], out.expect("repeats ≥ 1"))
}

/// CPU seconds (user + system) this process has used so far, over all its threads.
fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given and reads nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `ru` is a valid, writable `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let dir = std::env::var("BENCH_TREES_DIR").unwrap_or_else(|_| "target/bench_trees".into());
    let repeats: usize = std::env::var("BENCH_TRAIN_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    // Predictions are short (milliseconds): more repeats make the best time robust to the
    // machine's load. `scripts/bench_train.py --predict-repeats` is the same knob.
    let predict_repeats: usize = std::env::var("BENCH_TRAIN_PREDICT_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    let opts = CsvOptions {
        target: Some("y".into()),
        target_hint: TargetHint::Classification,
        ..CsvOptions::default()
    };
    let (train, test) = match (
        read_csv(format!("{dir}/train.csv"), &opts),
        read_csv(format!("{dir}/test.csv"), &opts),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            println!("no benchmark data ({e}); run `python scripts/bench_train.py` first");
            return;
        }
    };
    let sk: Option<Value> = std::fs::read_to_string(format!("{dir}/sklearn_train.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    println!(
        "data: {} train × {} features, {} test; rayon threads: {}; repeats: {repeats} \
         (predictions: {predict_repeats})",
        train.n_rows(),
        train.schema().n_features(),
        test.n_rows(),
        rayon::current_num_threads()
    );
    let y = test.target().expect("labelled").clone();
    // Where the logistic fit's time goes: the preprocessing (median imputation and
    // standardisation, fitted and applied) is part of every fit.
    let (pre_best, _, pre) = best_of(repeats, || Preprocessor::fit(&train).expect("fit"));
    let (tr_best, _, _) = best_of(repeats, || pre.transform(train.features()));
    println!("logistic preprocessing: fit {pre_best:.4} s, transform {tr_best:.4} s (best)");
    let (check_best, _, _) = best_of(repeats, || {
        validate_features(&test.schema().without_target(), test.features())
    });
    println!("input checks of 20k rows (validate_features): {check_best:.5} s (best)");
    let only = std::env::var("BENCH_TRAIN_ALGORITHMS").unwrap_or_default();
    for name in ["logistic", "gbdt"] {
        if !only.is_empty() && !only.split(',').any(|a| a == name) {
            continue;
        }
        let trainer = AlgorithmTrainer::from_name(name, &Value::Null).expect("valid");
        let ctx = TrainContext::with_seed(0);
        // Wall time, and the CPU time the fit used (over all threads): with one thread it
        // leaves out the time the process waited for a core on a busy machine.
        let mut fit_cpu = Vec::new();
        let (fit_best, fit_med, trained) = best_of(repeats, || {
            let c0 = cpu_seconds();
            let t = trainer.fit(&train, &ctx).expect("fit");
            fit_cpu.push(cpu_seconds() - c0);
            t
        });
        fit_cpu.sort_by(f64::total_cmp);
        let (cpu_best, cpu_med) = (fit_cpu[0], fit_cpu[fit_cpu.len() / 2]);
        let model = trained.model;
        if let Ok(ModelArtifact::Logistic(m)) = model.to_artifact() {
            println!("logistic convergence: {:?}", m.convergence());
            // The straightforward prediction path `Model::predict` replaced by one fused pass:
            // column-wise input checks, a standardised copy, the product, then the link.
            let schema = test.schema().without_target();
            let (plain, _, _) = best_of(predict_repeats, || {
                validate_features(&schema, test.features()).expect("valid");
                let z = m.preprocessor.transform(test.features());
                let eta = z.dot(&m.weights) + &m.intercepts;
                eta.mapv(|e| 1.0 / (1.0 + (-e).exp()))
            });
            println!(
                "logistic: straightforward 20k-row prediction (checks, standardised copy, \
                 product, sigmoid) {plain:.5} s (best)"
            );
        }
        if let Ok(ModelArtifact::Gbdt(m)) = model.to_artifact() {
            // The trees alone, without the input checks of `Model::predict`.
            let (alone, _, _) = best_of(predict_repeats, || {
                m.learner.predict_proba(test.features()).expect("predict")
            });
            println!(
                "gbdt: {} trees, {} leaves; predict_proba 20k rows without the input checks \
                 {alone:.4} s (best)",
                m.learner.n_trees(),
                m.learner.n_leaves()
            );
            // To check that a change left the fitted model the same, byte for byte.
            let bytes = serde_json::to_vec(&m.learner).expect("serialise");
            println!(
                "gbdt: serialised model {} bytes, BLAKE3 {}",
                bytes.len(),
                &blake3::hash(&bytes).to_hex()[..16]
            );
            println!(
                "gbdt: boosting iterations: ours {}, scikit-learn's {}",
                m.learner.n_iter(),
                sk.as_ref()
                    .and_then(|v| v["gbdt"]["n_iter"].as_u64())
                    .map_or("-".to_string(), |n| n.to_string())
            );
        }
        let (pred_best, pred_med, pred) = best_of(predict_repeats, || {
            model.predict(test.features()).expect("predict")
        });
        let x = test.features();
        model
            .predict(x.slice(ndarray::s![0..1, ..]))
            .expect("predict");
        let mut lat: Vec<f64> = (0..200)
            .map(|i| {
                let t = Instant::now();
                model
                    .predict(x.slice(ndarray::s![i..i + 1, ..]))
                    .expect("predict");
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        let proba = pred.probabilities.expect("classifier");
        let acc = accuracy(y.view(), pred.values.view()).expect("accuracy");
        let auc = roc_auc(y.view(), proba.column(1)).expect("auc");
        let skv = |k: &str| sk.as_ref().and_then(|v| v[name][k].as_f64());
        println!("\n== {name} ==");
        println!(
            "{:<26}{:>14}{:>14}{:>10}",
            "", "mlcycle", "scikit-learn", "ratio"
        );
        let row = |label: &str, ours: f64, theirs: Option<f64>, time: bool| {
            let t = theirs.map_or("-".to_string(), |t| format!("{t:.5}"));
            let ratio = match theirs {
                Some(t) if time && ours > 0.0 => format!("{:.2}x", t / ours),
                Some(t) if !time => format!("{:+.4}", ours - t),
                _ => "-".into(),
            };
            println!("{label:<26}{ours:>14.5}{t:>14}{ratio:>10}");
        };
        row("fit s (best)", fit_best, skv("fit_s_best"), true);
        row("fit s (median)", fit_med, skv("fit_s_median"), true);
        row("fit CPU s (best)", cpu_best, skv("fit_cpu_s_best"), true);
        row("fit CPU s (median)", cpu_med, skv("fit_cpu_s_median"), true);
        row(
            "predict 20k s (best)",
            pred_best,
            skv("predict_20k_s_best"),
            true,
        );
        row(
            "predict 20k s (median)",
            pred_med,
            skv("predict_20k_s_median"),
            true,
        );
        row(
            "single row p50 µs",
            lat[100],
            skv("single_row_p50_us"),
            true,
        );
        row("accuracy", acc, skv("accuracy"), false);
        row("AUC", auc, skv("auc"), false);
    }
}
