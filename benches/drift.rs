//! In-memory drift benchmark: the engine on N rows × (20 numeric + 4 categorical) per side.
//!
//! ```text
//! cargo bench --bench drift                        # synthetic data, 1,000,000 rows
//! cargo bench --bench drift -- --rows 200000
//! cargo bench --bench drift -- --data DIR --json OUT.json   # data written by
//!                                                  # scripts/bench_drift.py
//! ```
//!
//! Timed: counting the categorical codes and running the detector (ks, wasserstein, psi,
//! jensenshannon on numeric columns; chisquare, psi, jensenshannon on categorical ones;
//! Evidently binning), then the same with `auto`. Memory: the peak resident set above the
//! loaded data during the run (Linux `/proc`), compared with the size of the data.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mlcycle::drift::stats::{Binning, CategoricalSummary};
use mlcycle::drift::{
    ColumnInput, ColumnValues, MethodSelection, StatisticalDriftConfig, StatisticalDriftDetector,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal, Poisson};

struct Side {
    numeric: Vec<Vec<f64>>,
    categorical: Vec<Vec<u32>>,
}

struct Data {
    numeric_names: Vec<String>,
    categorical_names: Vec<String>,
    levels: Vec<Vec<String>>,
    reference: Side,
    current: Side,
}

impl Data {
    fn bytes(&self) -> usize {
        let side = |s: &Side| {
            s.numeric.iter().map(|c| c.len() * 8).sum::<usize>()
                + s.categorical.iter().map(|c| c.len() * 4).sum::<usize>()
        };
        side(&self.reference) + side(&self.current)
    }
}

fn synthetic(rows: usize) -> Data {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let levels: Vec<Vec<String>> = [3usize, 5, 12, 40]
        .iter()
        .enumerate()
        .map(|(j, &k)| (0..k).map(|i| format!("c{j}_{i}")).collect())
        .collect();
    let mut side = |drift: f64| Side {
        numeric: (0..20)
            .map(|j| {
                let shift = if j < 5 { drift } else { 0.0 };
                (0..rows)
                    .map(|_| match j % 5 {
                        0 => Normal::new(shift, 1.0).unwrap().sample(&mut rng),
                        1 => LogNormal::new(shift, 0.5).unwrap().sample(&mut rng),
                        2 => Exp::new(2.0).unwrap().sample(&mut rng) + shift,
                        3 => rng.random_range(-5.0..5.0) + shift,
                        _ => Poisson::new(3.0 + shift).unwrap().sample(&mut rng),
                    })
                    .collect()
            })
            .collect(),
        categorical: levels
            .iter()
            .map(|l| {
                (0..rows)
                    .map(|_| {
                        let u: f64 = rng.random();
                        ((u * u * l.len() as f64) as u32).min(l.len() as u32 - 1)
                    })
                    .collect()
            })
            .collect(),
    };
    let reference = side(0.0);
    let current = side(0.1);
    Data {
        numeric_names: (0..20).map(|j| format!("num_{j}")).collect(),
        categorical_names: (0..4).map(|j| format!("cat_{j}")).collect(),
        levels,
        reference,
        current,
    }
}

fn read_bin<T>(path: &Path, n_cols: usize, conv: impl Fn(&[u8]) -> T) -> Vec<Vec<T>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let width = std::mem::size_of::<T>();
    let rows = bytes.len() / width / n_cols.max(1);
    (0..n_cols)
        .map(|j| {
            bytes[j * rows * width..(j + 1) * rows * width]
                .chunks_exact(width)
                .map(&conv)
                .collect()
        })
        .collect()
}

/// Data written by scripts/bench_drift.py: `meta.json` and, per side, `{side}_num.bin`
/// (float64, column after column) and `{side}_cat.bin` (uint32 codes).
fn load(dir: &Path) -> Data {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let names = |k: &str| -> Vec<String> {
        meta[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let numeric_names = names("numeric");
    let categorical_names = names("categorical");
    let levels: Vec<Vec<String>> = meta["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let side = |s: &str| Side {
        numeric: read_bin(
            &dir.join(format!("{s}_num.bin")),
            numeric_names.len(),
            |b| f64::from_le_bytes(b.try_into().unwrap()),
        ),
        categorical: read_bin(
            &dir.join(format!("{s}_cat.bin")),
            categorical_names.len(),
            |b| u32::from_le_bytes(b.try_into().unwrap()),
        ),
    };
    Data {
        reference: side("ref"),
        current: side("cur"),
        numeric_names,
        categorical_names,
        levels,
    }
}

fn profile(codes: &[u32], levels: &[String]) -> CategoricalSummary {
    let mut counts = vec![0u64; levels.len()];
    let mut missing = 0;
    for &c in codes {
        match counts.get_mut(c as usize) {
            Some(k) => *k += 1,
            None => missing += 1,
        }
    }
    let mut p = CategoricalSummary {
        missing,
        ..CategoricalSummary::default()
    };
    for (l, c) in levels.iter().zip(counts) {
        if c > 0 {
            p.counts.insert(l.clone(), c);
        }
    }
    p
}

fn run(data: &Data, detector: &StatisticalDriftDetector) -> mlcycle::drift::DriftReport {
    use rayon::prelude::*;
    let profiles: Vec<(CategoricalSummary, CategoricalSummary)> = (0..data.categorical_names.len())
        .into_par_iter()
        .map(|j| {
            (
                profile(&data.reference.categorical[j], &data.levels[j]),
                profile(&data.current.categorical[j], &data.levels[j]),
            )
        })
        .collect();
    let mut inputs: Vec<ColumnInput<'_>> = data
        .numeric_names
        .iter()
        .enumerate()
        .map(|(j, n)| ColumnInput {
            name: n,
            reference: ColumnValues::numeric(&data.reference.numeric[j]),
            current: ColumnValues::numeric(&data.current.numeric[j]),
        })
        .collect();
    for (n, (r, c)) in data.categorical_names.iter().zip(&profiles) {
        inputs.push(ColumnInput {
            name: n,
            reference: ColumnValues::Categorical(Cow::Borrowed(r)),
            current: ColumnValues::Categorical(Cow::Borrowed(c)),
        });
    }
    detector.detect_columns(&inputs).expect("drift detection")
}

fn proc_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Reset the peak RSS (Linux ≥ 4.0), so VmHWM measures this phase only.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Measure {
    times: Vec<f64>,
    extra_bytes: Option<u64>,
}

fn measure(data: &Data, detector: &StatisticalDriftDetector, repeat: usize) -> Measure {
    // the first (cold) run measures memory: peak resident set above the loaded data
    let base = proc_kb("VmRSS:");
    let can_reset = reset_peak();
    let t = Instant::now();
    std::hint::black_box(run(data, detector));
    let cold = t.elapsed().as_secs_f64();
    let peak = proc_kb("VmHWM:");
    let mut times = vec![cold];
    for _ in 0..repeat {
        let t = Instant::now();
        let report = run(data, detector);
        times.push(t.elapsed().as_secs_f64());
        std::hint::black_box(report);
    }
    let extra_bytes = match (can_reset, base, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b) * 1024),
        _ => None,
    };
    times.sort_by(f64::total_cmp);
    Measure { times, extra_bytes }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let rows: usize = value("--rows").map_or(1_000_000, |v| v.parse().expect("--rows N"));
    let repeat: usize = value("--repeat").map_or(5, |v| v.parse().expect("--repeat K"));
    let data = match value("--data") {
        Some(d) => load(&PathBuf::from(d)),
        None => synthetic(rows),
    };
    let n_rows = data.reference.numeric.first().map_or(0, Vec::len);
    let listed = StatisticalDriftDetector::new(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,chisquare"
            .parse()
            .unwrap(),
        binning: Binning::Evidently,
        ..StatisticalDriftConfig::evidently()
    })
    .unwrap();
    let auto = StatisticalDriftDetector::new(StatisticalDriftConfig {
        methods: MethodSelection::Auto,
        ..StatisticalDriftConfig::evidently()
    })
    .unwrap();
    let m_listed = measure(&data, &listed, repeat);
    let m_auto = measure(&data, &auto, repeat);
    let data_bytes = data.bytes();
    let median = |t: &[f64]| t[t.len() / 2];
    eprintln!(
        "drift engine, {n_rows} rows x ({} numeric + {} categorical) per side, {} threads",
        data.numeric_names.len(),
        data.categorical_names.len(),
        rayon::current_num_threads()
    );
    for (name, m) in [("4+3 methods", &m_listed), ("auto", &m_auto)] {
        eprintln!(
            "  {name:<12} min {:.3} s  median {:.3} s  extra memory {}",
            m.times[0],
            median(&m.times),
            m.extra_bytes.map_or("n/a".into(), |b| format!(
                "{:.1} MB ({:.2}x the data)",
                b as f64 / 1e6,
                b as f64 / data_bytes as f64
            ))
        );
    }
    let out = serde_json::json!({
        "rows": n_rows,
        "threads": rayon::current_num_threads(),
        "data_bytes": data_bytes,
        "methods_min_s": m_listed.times[0],
        "methods_median_s": median(&m_listed.times),
        "methods_extra_bytes": m_listed.extra_bytes,
        "auto_min_s": m_auto.times[0],
        "auto_median_s": median(&m_auto.times),
        "auto_extra_bytes": m_auto.extra_bytes,
    });
    match value("--json") {
        Some(p) => std::fs::write(&p, out.to_string()).expect("write --json file"),
        None => println!("{out}"),
    }
}
