//! The dataset catalog: `mlcycle datasets add FILE --name NAME` registers a content-hashed
//! version (audited, idempotent on the same content), `mlcycle datasets list` shows them, and
//! `mlcycle run --dataset NAME` trains on each new version.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::audit::{AuditLog, AuditQuery, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::datasets::{CatalogSource, DatasetCatalog, DatasetFeed};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_mlcycle");
/// The longest a test waits for one line (a bound on a hang, not a timing assumption).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

fn credit_file(dir: &Path, name: &str, stream: u64) -> PathBuf {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::days(stream as i64);
    let d = CreditDefault::new(11)
        .sample_between(1_500, &DriftSpec::none(), stream, start, Duration::days(1))
        .unwrap();
    let path = dir.join(name);
    write_csv(&d, &path).unwrap();
    path
}

fn mlcycle(args: &[&str], store: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn datasets_add_registers_content_hashed_versions_once_and_audits_them() {
    let store = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let march = credit_file(files.path(), "march.csv", 0);
    let april = credit_file(files.path(), "april.csv", 1);
    let m = march.to_str().unwrap();

    let first: serde_json::Value = serde_json::from_str(&ok(&mlcycle(
        &["datasets", "add", m, "--name", "credit", "--format", "json"],
        store.path(),
    )))
    .unwrap();
    assert_eq!(first["new"], true);
    assert_eq!(first["entry"]["version"], 1);
    assert_eq!(first["entry"]["rows"], 1_500);
    let hash = blake3::hash(&std::fs::read(&march).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(first["entry"]["hash"], format!("blake3:{hash}"));

    // The same content again: no new version, and the text says so.
    let again = ok(&mlcycle(
        &["datasets", "add", m, "--name", "credit"],
        store.path(),
    ));
    assert!(
        again.contains("unchanged") && again.contains("credit@v1"),
        "{again}"
    );
    // New content: version 2.
    let second = ok(&mlcycle(
        &[
            "datasets",
            "add",
            april.to_str().unwrap(),
            "--name",
            "credit",
        ],
        store.path(),
    ));
    assert!(second.contains("added credit@v2"), "{second}");

    let list: serde_json::Value = serde_json::from_str(&ok(&mlcycle(
        &["datasets", "list", "--format", "json"],
        store.path(),
    )))
    .unwrap();
    let versions: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let text = ok(&mlcycle(
        &["datasets", "list", "--name", "credit"],
        store.path(),
    ));
    assert!(
        text.contains("credit@v1") && text.contains("credit@v2"),
        "{text}"
    );

    // The stored copy is the file's content, even after the original is changed.
    std::fs::write(&march, "changed,later\n1,2\n").unwrap();
    let catalog = DatasetCatalog::open(store.path()).unwrap();
    let v1 = catalog.get("credit", 1).unwrap();
    let stored = std::fs::read(catalog.path_of(&v1)).unwrap();
    assert_eq!(blake3::hash(&stored).to_hex().to_string(), hash);

    // One `dataset.published` record per new version, naming who added it.
    let audit = SqliteAuditLog::open(store.path(), Arc::new(SystemClock)).unwrap();
    let records = audit
        .query(&AuditQuery {
            action: Some("dataset.published".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let subjects: Vec<&str> = records
        .iter()
        .map(|r| r.entry.subjects[0].as_str())
        .collect();
    assert_eq!(subjects, ["credit@v1", "credit@v2"]);
    assert_eq!(records[0].entry.payload["rows"], 1_500);
}

#[test]
fn datasets_add_refuses_bad_names_and_files_with_a_reason() {
    let store = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let good = credit_file(files.path(), "ok.csv", 0);
    let out = mlcycle(
        &["datasets", "add", good.to_str().unwrap(), "--name", "../x"],
        store.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a dataset name"));

    let header_only = files.path().join("empty.csv");
    std::fs::write(&header_only, "a,b\n").unwrap();
    let out = mlcycle(
        &[
            "datasets",
            "add",
            header_only.to_str().unwrap(),
            "--name",
            "x",
        ],
        store.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data rows"));

    let dup = files.path().join("dup.csv");
    std::fs::write(&dup, "a,a\n1,2\n").unwrap();
    let out = mlcycle(
        &["datasets", "add", dup.to_str().unwrap(), "--name", "x"],
        store.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("appears twice"));

    // Nothing half-written is left behind by the refusals.
    let leftovers: Vec<_> = std::fs::read_dir(store.path().join("datasets"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_catalog_source_lists_versions_and_loads_the_stored_rows() {
    let store = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let catalog = Arc::new(DatasetCatalog::open(store.path()).unwrap());
    catalog
        .add(&credit_file(files.path(), "a.csv", 0), "credit", "t")
        .await
        .unwrap();
    catalog
        .add(&credit_file(files.path(), "b.csv", 1), "credit", "t")
        .await
        .unwrap();
    let source = CatalogSource::new(catalog.clone(), "credit", "default");
    let versions = source.versions().await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        versions[1].key.starts_with("credit@v2:"),
        "{:?}",
        versions[1]
    );
    let d = source.load(&versions[1]).await.unwrap();
    assert_eq!(d.n_rows(), 1_500);
    // Rows by time across versions: day 1 only holds the second file's rows.
    let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let rows =
        mlcycle::lifecycle::TrainingDataSource::labelled(&source, from, from + Duration::days(1))
            .await
            .unwrap();
    assert_eq!(rows.n_rows(), 1_500);
}

#[test]
fn run_with_a_catalog_dataset_trains_on_each_new_version() {
    let store = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let a = credit_file(files.path(), "a.csv", 0);
    ok(&mlcycle(
        &[
            "datasets",
            "add",
            a.to_str().unwrap(),
            "--name",
            "credit-data",
        ],
        store.path(),
    ));
    let log = store.path().join("run.log");
    let mut child = Command::new(BIN)
        .args(["run", "--store"])
        .arg(store.path())
        .args([
            "--model",
            "credit",
            "--dataset",
            "credit-data",
            "--target",
            "default",
            "--every",
            "1h",
            "--poll",
            "1s",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let next_training = || loop {
        let v = rx.recv_timeout(PATIENCE).unwrap_or_else(|e| {
            panic!(
                "no line ({e}); stderr:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        if v["kind"] == "train" {
            return v;
        }
    };
    let first = next_training();
    assert_eq!(first["version"], 1, "{first}");
    assert!(
        first["summary"]
            .as_str()
            .unwrap()
            .contains("credit-data@v1"),
        "{first}"
    );
    let b = credit_file(files.path(), "b.csv", 1);
    ok(&mlcycle(
        &[
            "datasets",
            "add",
            b.to_str().unwrap(),
            "--name",
            "credit-data",
        ],
        store.path(),
    ));
    let second = next_training();
    assert_eq!(second["version"], 2, "{second}");
    assert!(
        second["summary"]
            .as_str()
            .unwrap()
            .contains("credit-data@v2"),
        "{second}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_training_directory_selects_rows_by_time_across_every_file() {
    // The timestamp column inferred in the first file is the one of the later files too.
    let dir = tempfile::tempdir().unwrap();
    credit_file(dir.path(), "a.csv", 0);
    credit_file(dir.path(), "b.csv", 1);
    credit_file(dir.path(), "c.csv", 2);
    let source = mlcycle::datasets::DirectoryDataSource::new(dir.path(), "default");
    let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let rows =
        mlcycle::lifecycle::TrainingDataSource::labelled(&source, from, from + Duration::days(2))
            .await
            .unwrap();
    assert_eq!(rows.n_rows(), 3_000);
}
