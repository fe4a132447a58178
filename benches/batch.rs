//! Batch-scoring benchmark: 1,000,000 rows × 30 numeric features, CSV → CSV, logistic
//! regression, end to end (parse, score, write, atomic publish).
//!
//! Run through `scripts/bench_batch.sh`, which also times the pandas + scikit-learn
//! pipeline on the same file. Standalone: `cargo bench --bench batch -- DIR`, which writes
//! `DIR/input.csv` (if absent) and scores it; with the `parquet` feature it also writes the
//! same rows to `DIR/input.parquet` and scores that into `DIR/output.parquet`.

use mlcycle::clock::SystemClock;
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::deploy::{BatchJob, BatchOptions, score_file};
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
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-batch"));
    // Which pipelines to time: `csv`, `parquet` or both (default).
    let only = args.get(1).map(String::as_str).unwrap_or("all");
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
    for run in 0..if only == "parquet" { 0 } else { 3 } {
        let cpu = cpu_seconds();
        let t = Instant::now();
        let s = score_file(&BatchJob {
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
        let cpu = cpu_seconds() - cpu;
        println!(
            "mlcycle run {run}: {} rows in {secs:.3} s = {:.0} rows/s, {cpu:.2} CPU-s \
             (all threads) = {:.2} CPU-s per million rows (rejected {})",
            s.rows_scored,
            s.rows_read as f64 / secs,
            cpu * 1e6 / s.rows_read as f64,
            s.rows_rejected
        );
    }
    #[cfg(feature = "parquet")]
    if only != "csv" {
        let input_pq = dir.join("input.parquet");
        if !input_pq.exists() {
            csv_to_parquet(&input, &input_pq);
        }
        let output_pq = dir.join("output.parquet");
        for run in 0..3 {
            let cpu = cpu_seconds();
            let t = Instant::now();
            let s = score_file(&BatchJob {
                model: &model,
                model_name: "bench",
                model_version: 1,
                input: &input_pq,
                output: &output_pq,
                options: &options,
                clock: &SystemClock,
                progress: None,
                collect: None,
            })
            .expect("score parquet");
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu;
            println!(
                "mlcycle parquet run {run}: {} rows in {secs:.3} s = {:.0} rows/s, \
                 {cpu:.2} CPU-s (all threads) (rejected {})",
                s.rows_scored,
                s.rows_read as f64 / secs,
                s.rows_rejected
            );
        }
    }
    // SAFETY: getrusage only writes into the struct we pass.
    let rss = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u.ru_maxrss
    };
    println!(
        "mlcycle peak RSS ({only}; whole bench process, incl. generating and training): {} MiB",
        rss / 1024
    );
}

/// User + system CPU time of the whole process so far (all threads), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The same rows as Parquet: `id` as int64, the features as float64, Snappy, 65,536-row
/// row groups.
#[cfg(feature = "parquet")]
fn csv_to_parquet(csv_path: &std::path::Path, out: &std::path::Path) {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    fields.extend((0..FEATURES).map(|j| Field::new(format!("f{j}"), DataType::Float64, false)));
    let schema = Arc::new(Schema::new(fields));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(65_536))
        .build();
    let file = std::fs::File::create(out).expect("parquet input");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))
        .expect("parquet writer");
    let mut rdr = csv::Reader::from_path(csv_path).expect("csv input");
    let mut ids = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); FEATURES];
    let mut flush = |ids: &mut Vec<i64>, cols: &mut Vec<Vec<f64>>| {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(std::mem::take(ids)))];
        arrays.extend(
            cols.iter_mut()
                .map(|c| Arc::new(Float64Array::from(std::mem::take(c))) as ArrayRef),
        );
        w.write(&RecordBatch::try_new(schema.clone(), arrays).expect("batch"))
            .expect("write");
    };
    for rec in rdr.records() {
        let rec = rec.expect("record");
        ids.push(rec[0].parse::<i64>().expect("id"));
        for j in 0..FEATURES {
            cols[j].push(rec[j + 1].parse::<f64>().expect("feature"));
        }
        if ids.len() == 65_536 {
            flush(&mut ids, &mut cols);
        }
    }
    if !ids.is_empty() {
        flush(&mut ids, &mut cols);
    }
    w.close().expect("close");
}
