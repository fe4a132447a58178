//! Batch-scoring benchmark: 1,000,000 rows × 30 numeric features, CSV → CSV, logistic
//! regression, end to end (parse, score, write, atomic publish).
//!
//! Run through `scripts/bench_batch.sh`, which also times the pandas + scikit-learn
//! pipeline on the same file. Standalone: `cargo bench --bench batch -- DIR`, which writes
//! `DIR/input.csv` (if absent) and scores it.

use mlcycle::clock::SystemClock;
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::deploy::{BatchJob, BatchOptions, score_csv};
use mlcycle::train::{LogisticParams, fit_logistic};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

const ROWS: usize = 1_000_000;
const FEATURES: usize = 30;

fn schema() -> Schema {
    Schema::new(
        (0..FEATURES)
            .map(|j| Feature::numeric(format!("f{j}")))
            .collect(),
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Binary {
                classes: vec!["0".into(), "1".into()],
            },
        }),
    )
    .expect("valid schema")
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-batch"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let w: Vec<f64> = (0..FEATURES)
        .map(|j| ((j % 7) as f64 - 3.0) / 3.0)
        .collect();
    let sample = |rng: &mut rand_chacha::ChaCha8Rng| -> (Vec<f64>, f64) {
        let x: Vec<f64> = (0..FEATURES)
            .map(|_| rng.random::<f64>() * 4.0 - 2.0)
            .collect();
        let z: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
        let y = if rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()) {
            1.0
        } else {
            0.0
        };
        (x, y)
    };
    let input = dir.join("input.csv");
    if !input.exists() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("input"));
        let header: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
        writeln!(f, "id,{}", header.join(",")).expect("write");
        let mut buf = ryu::Buffer::new();
        for i in 0..ROWS {
            let (x, _) = sample(&mut rng);
            write!(f, "{i}").expect("write");
            for v in x {
                write!(f, ",{}", buf.format((v * 1e6).round() / 1e6)).expect("write");
            }
            writeln!(f).expect("write");
        }
    }
    // Train on a separate labelled sample (the same model family as the peer).
    let n_train = 50_000;
    let mut x = Array2::<f64>::zeros((n_train, FEATURES));
    let mut y = Array1::<f64>::zeros(n_train);
    for i in 0..n_train {
        let (xi, yi) = sample(&mut rng);
        for j in 0..FEATURES {
            x[[i, j]] = xi[j];
        }
        y[i] = yi;
    }
    let data = Dataset::new(schema(), x, Some(y), None).expect("dataset");
    let model =
        fit_logistic(&data, &LogisticParams::default().check().expect("params")).expect("fit");
    let output = dir.join("output.csv");
    let options = BatchOptions {
        keep: vec!["id".into()],
        ..BatchOptions::default()
    };
    for run in 0..3 {
        let t = Instant::now();
        let s = score_csv(&BatchJob {
            model: &model,
            model_name: "bench",
            model_version: 1,
            input: &input,
            output: &output,
            options: &options,
            clock: &SystemClock,
            progress: None,
            collect: None,
        })
        .expect("score");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "mlcycle run {run}: {} rows in {secs:.3} s = {:.0} rows/s (rejected {})",
            s.rows_scored,
            s.rows_read as f64 / secs,
            s.rows_rejected
        );
    }
    // SAFETY: getrusage only writes into the struct we pass.
    let rss = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u.ru_maxrss
    };
    println!(
        "mlcycle peak RSS (whole bench process, incl. training): {} MiB",
        rss / 1024
    );
}
