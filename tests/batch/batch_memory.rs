//! Batch scoring keeps memory flat: the peak RSS of `mlcycle score` on an input 10× larger
//! stays within 2× of the smaller run. (Its own test binary, so no other child process of
//! this process pollutes the RUSAGE_CHILDREN reading.)

use mlcycle::clock::SystemClock;
use mlcycle::model::Model;
use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

fn write_input(path: &Path, rows: usize) {
    let sample = CreditDefault::new(5)
        .sample(1_000, &DriftSpec::none(), 2)
        .unwrap()
        .without_target();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("s.csv");
    mlcycle::data::write_csv(&sample, &tmp).unwrap();
    let text = std::fs::read_to_string(&tmp).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,{header}").unwrap();
    for i in 0..rows {
        writeln!(f, "{i},{}", body[i % body.len()]).unwrap();
    }
}

#[tokio::test]
async fn peak_memory_does_not_grow_with_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = CreditDefault::new(5)
        .sample(2_000, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let reg = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    reg.register(
        "credit",
        NewVersion {
            artifact: model.to_artifact().unwrap(),
            lineage: Lineage::default(),
            metrics: Default::default(),
            tags: Default::default(),
            description: String::new(),
        },
    )
    .await
    .unwrap();
    reg.set_alias("credit", "production", 1, Change::new("t", "t"))
        .await
        .unwrap();
    let score = |input: &Path, rows: usize| {
        write_input(input, rows);
        let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .args([
                "score",
                "--quiet",
                "--threads",
                "2",
                "--keep",
                "id",
                "--store",
            ])
            .arg(&store)
            .args(["--model", "credit@production", "--input"])
            .arg(input)
            .arg("--output")
            .arg(dir.path().join("out.csv"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = std::fs::read_to_string(dir.path().join("out.csv"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, rows + 1);
        children_peak_rss_kib()
    };
    let small = score(&dir.path().join("small.csv"), 100_000);
    let large = score(&dir.path().join("large.csv"), 1_000_000);
    eprintln!("peak RSS: small {small} KiB, large {large} KiB");
    let large_bytes = std::fs::metadata(dir.path().join("large.csv"))
        .unwrap()
        .len();
    assert!(
        large_bytes > 90_000_000,
        "the large input is only {large_bytes} bytes"
    );
    assert!(
        large <= 2 * small,
        "peak RSS grew with the input: {small} KiB for 100k rows, {large} KiB for 1M rows"
    );
}
