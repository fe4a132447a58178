//! Batch scoring: order, rejects with line numbers, exit-status rules, atomic publication,
//! determinism.

use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::deploy::{BatchJob, BatchOptions, BatchOutcome, score_file};
use mlcycle::model::Model;
use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

struct Fixture {
    dir: tempfile::TempDir,
    model: Arc<dyn Model>,
    input: PathBuf,
}

/// A store with `credit@production`, and an input CSV with an `id` column, `n` good rows
/// and four bad ones at known lines.
async fn fixture(n: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = CreditDefault::new(3)
        .sample(3_000, &DriftSpec::none(), 0)
        .unwrap();
    let model = Arc::new(fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap());
    let reg = SqliteRegistry::open(dir.path().join("store"), Arc::new(SystemClock)).unwrap();
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
    let rows = CreditDefault::new(3)
        .sample(n, &DriftSpec::none(), 1)
        .unwrap()
        .without_target();
    let plain = dir.path().join("plain.csv");
    write_csv(&rows, &plain).unwrap();
    let text = std::fs::read_to_string(&plain).unwrap();
    let mut lines = text.lines();
    let mut out = format!("id,{}\n", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        out.push_str(&format!("c{i},{l}\n"));
        // Bad rows after data rows 2, 5, 9 and 10 (file lines 5, 9, 14, 16).
        match i {
            2 => out.push_str("bad1,1,2,3\n"),
            5 => out.push_str(&format!(
                "bad2,{}\n",
                l.replacen(|c: char| c.is_ascii_digit(), "x", 1)
                    .replacen(",", ",abc", 0)
            )),
            9 => out.push_str(&format!(
                "bad3,{}\n",
                l.replace("mortgage", "yacht")
                    .replace(",own,", ",yacht,")
                    .replace(",rent,", ",yacht,")
            )),
            10 => out.push_str(&format!("bad4,,{}\n", l.split_once(',').unwrap().1)),
            _ => {}
        }
    }
    let input = dir.path().join("in.csv");
    std::fs::write(&input, out).unwrap();
    Fixture {
        dir,
        model: model as Arc<dyn Model>,
        input,
    }
}

fn job<'a>(f: &'a Fixture, output: &'a Path, options: &'a BatchOptions) -> BatchJob<'a> {
    BatchJob {
        model: f.model.as_ref(),
        model_name: "credit",
        model_version: 1,
        input: &f.input,
        output,
        options,
        clock: &SystemClock,
        progress: None,
        collect: None,
    }
}

#[tokio::test]
async fn order_rejects_and_determinism() {
    let f = fixture(2_000).await;
    let out1 = f.dir.path().join("out1.csv");
    let out2 = f.dir.path().join("out2.csv");
    let opts = BatchOptions {
        keep: vec!["id".into()],
        chunk_rows: 7,
        threads: 3,
        ..Default::default()
    };
    let s = score_file(&job(&f, &out1, &opts)).unwrap();
    assert_eq!(s.outcome, BatchOutcome::Published);
    assert_eq!(s.rows_read, 2_004);
    assert_eq!(s.rows_rejected, 4);
    assert_eq!(s.rows_scored, 2_000);
    assert_eq!(
        s.input_hash,
        format!(
            "blake3:{}",
            blake3::hash(&std::fs::read(&f.input).unwrap()).to_hex()
        )
    );
    #[cfg(unix)]
    {
        // Published like any new file (umask applies), not with a temporary file's 0600.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = f.dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert_eq!(mode(&out1), mode(&plain));
    }

    let text = std::fs::read_to_string(&out1).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "id,prediction,proba_no,proba_yes");
    let ids: Vec<&str> = lines
        .clone()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let expected: Vec<String> = (0..2_000).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, expected, "output order differs from input order");

    // The predictions are the model's, for the same rows.
    let rows = CreditDefault::new(3)
        .sample(2_000, &DriftSpec::none(), 1)
        .unwrap();
    let p = f.model.predict(rows.features()).unwrap();
    let proba = p.probabilities.unwrap();
    for (i, l) in lines.enumerate() {
        let cols: Vec<&str> = l.split(',').collect();
        let yes: f64 = cols[3].parse().unwrap();
        assert_eq!(yes.to_bits(), proba[[i, 1]].to_bits(), "row {i}");
        assert_eq!(cols[1], if p.values[i] == 1.0 { "yes" } else { "no" });
    }

    // Rejects: line numbers and reasons.
    let rej = std::fs::read_to_string(&s.rejects).unwrap();
    let rej: Vec<&str> = rej.lines().collect();
    assert_eq!(rej[0], "line,reason,record");
    assert!(
        rej[1].starts_with("5,\"expected 14 fields, found 4\""),
        "{}",
        rej[1]
    );
    assert!(
        rej[2].starts_with("9,") && rej[2].contains("is not a number"),
        "{}",
        rej[2]
    );
    assert!(
        rej[3].starts_with("14,") && rej[3].contains("unknown category `yacht`"),
        "{}",
        rej[3]
    );
    assert!(
        rej[4].starts_with("16,") && rej[4].contains("missing value"),
        "{}",
        rej[4]
    );

    // Same input and model, other threading: byte-identical output.
    let opts2 = BatchOptions {
        chunk_rows: 500,
        threads: 1,
        ..opts.clone()
    };
    score_file(&job(&f, &out2, &opts2)).unwrap();
    assert_eq!(std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());
}

#[tokio::test]
async fn too_many_rejects_publish_nothing_and_a_failed_job_leaves_no_output() {
    let f = fixture(100).await;
    let out = f.dir.path().join("out.csv");
    // 4 of 104 rejected > 1%.
    let s = score_file(&job(&f, &out, &BatchOptions::default())).unwrap();
    assert_eq!(s.outcome, BatchOutcome::TooManyRejects);
    assert!(!out.exists());
    assert!(Path::new(&s.rejects).exists());
    // Lenient policies score the unknown category and the empty cell as missing.
    let lenient = BatchOptions {
        allow_missing: true,
        unknown: mlcycle::data::UnknownLevel::AsMissing,
        max_reject_fraction: 0.05,
        ..Default::default()
    };
    let s = score_file(&job(&f, &out, &lenient)).unwrap();
    assert_eq!(s.rows_rejected, 2);
    assert!(out.exists());
    std::fs::remove_file(&out).unwrap();

    // A job that fails midway (here: the collector fails on the third chunk) never
    // leaves a complete-looking output file.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let failing = |_r| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2 {
            Err(mlcycle::Error::Data("disk full".into()))
        } else {
            Ok(())
        }
    };
    let opts = BatchOptions {
        chunk_rows: 10,
        max_reject_fraction: 0.5,
        ..Default::default()
    };
    let mut j = job(&f, &out, &opts);
    j.collect = Some(&failing);
    let e = score_file(&j).unwrap_err();
    assert!(e.to_string().contains("disk full"));
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".mlcycle-score-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary output left behind");
}

#[tokio::test]
async fn missing_required_column_fails_before_any_work() {
    let f = fixture(50).await;
    let text = std::fs::read_to_string(&f.input).unwrap();
    let broken = text.replacen("income", "salary", 1);
    std::fs::write(&f.input, broken).unwrap();
    let out = f.dir.path().join("out.csv");
    let e = score_file(&job(&f, &out, &BatchOptions::default())).unwrap_err();
    assert!(
        matches!(e, mlcycle::Error::SchemaMismatch(ref m) if m.contains("income")),
        "{e}"
    );
    assert!(!out.exists());
}

#[tokio::test]
async fn cli_exit_status_follows_the_reject_rule_and_records_the_run() {
    let f = fixture(300).await;
    let store = f.dir.path().join("store");
    let out = f.dir.path().join("out.csv");
    let run = |frac: &str| {
        Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .args(["score", "--store"])
            .arg(&store)
            .args(["--model", "credit@production", "--input"])
            .arg(&f.input)
            .arg("--output")
            .arg(&out)
            .args([
                "--keep",
                "id",
                "--max-reject-fraction",
                frac,
                "--threads",
                "2",
                "--quiet",
            ])
            .output()
            .unwrap()
    };
    let bad = run("0.001");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no output was written"));
    assert!(!out.exists());
    let good = run("0.05");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    // The row with a missing value is scored (the model handles missing values, as when
    // served); the three bad rows are rejected.
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 302);

    let missing = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["score", "--store"])
        .arg(&store)
        .args(["--model", "credit@staging", "--input"])
        .arg(&f.input)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("alias `credit@staging` not found"));

    // Both runs are in the audit trail with the input hash.
    let audit = mlcycle::audit::SqliteAuditLog::open(&store, Arc::new(SystemClock)).unwrap();
    use mlcycle::audit::AuditLog;
    let recs = audit
        .query(&mlcycle::audit::AuditQuery {
            action: Some("batch.scored".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs[0].entry.subjects[1].starts_with("blake3:"));
    assert_eq!(recs[0].entry.subjects[1].len(), "blake3:".len() + 64);
    assert_eq!(recs[1].entry.payload["rows_rejected"], 3);
}

#[tokio::test]
async fn batch_deployer_feeds_the_prediction_log() {
    use mlcycle::collect::{Collector, InMemoryPredictionLog, PredictionLog};
    use mlcycle::deploy::{BatchDeployer, DeployRequest, Deployer};
    let f = fixture(500).await;
    let log = Arc::new(InMemoryPredictionLog::default());
    let collector = Collector::spawn(log.clone(), 4).unwrap();
    let clock = Arc::new(SystemClock);
    let d = BatchDeployer::new(clock, Some(collector));
    let out = f.dir.path().join("out.csv");
    let opts = BatchOptions {
        chunk_rows: 64,
        max_reject_fraction: 0.05,
        ..Default::default()
    };
    assert!(
        d.score_file(&f.input, &out, &opts, None).await.is_err(),
        "nothing deployed yet"
    );
    d.deploy(DeployRequest {
        model_name: "credit".into(),
        version: 1,
        model: f.model.clone(),
    })
    .await
    .unwrap();
    let s = d.score_file(&f.input, &out, &opts, None).await.unwrap();
    assert_eq!(s.rows_scored, 500);
    let recs = log
        .read_window(
            chrono::DateTime::UNIX_EPOCH,
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let rows: usize = recs.iter().map(|r| r.inputs.len()).sum();
    assert_eq!(rows, 500, "every scored row reaches the prediction log");
    assert!(recs.iter().all(|r| r.model_version == 1));
    // Each row's class probabilities are logged with its class, as the model gives them.
    for r in &recs {
        let x = ndarray::Array2::from_shape_fn((r.inputs.len(), r.inputs[0].len()), |(i, j)| {
            r.inputs[i][j]
        });
        let p = f.model.predict(x.view()).unwrap();
        assert_eq!(r.outputs, p.values.to_vec());
        let want: Vec<Vec<f64>> = p
            .probabilities
            .unwrap()
            .outer_iter()
            .map(|row| row.to_vec())
            .collect();
        assert_eq!(r.probabilities, want);
    }
}

/// Every shape of line the CSV reader accepts (CRLF endings, blank lines, quoted fields,
/// quoted line breaks, exponents, padding, long significands, no final line break) scores
/// exactly like the same records written plainly, across chunk boundaries; malformed lines
/// are rejected with their line numbers.
#[test]
fn odd_csv_lines_score_like_plain_ones() {
    use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
    use ndarray::{Array1, Array2};
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(
        ["a", "b", "c"].map(Feature::numeric).to_vec(),
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Binary {
                classes: vec!["0".into(), "1".into()],
            },
        }),
    )
    .unwrap();
    let value = |i: usize, j: usize| -> f64 {
        // Six-decimal values of either sign, a few with many digits.
        let k = (i * 7919 + j * 104_729) % 4_000_001;
        let v = (k as f64 - 2_000_000.0) / 1e6;
        if i.is_multiple_of(11) { v * 1e5 } else { v }
    };
    let n = 400;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| value(i, j));
    let y = Array1::from_shape_fn(n, |i| f64::from(value(i, 0) + value(i, 1) > value(i, 2)));
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();

    let mut clean = String::from("id,a,b,c\n");
    let mut messy = String::from("id,a,b,c\r\n");
    let mut line = 2u64;
    let mut bad_lines = Vec::new();
    let mut fmt = ryu::Buffer::new();
    for i in 0..n {
        let v: Vec<String> = (0..3)
            .map(|j| fmt.format(value(i, j)).to_string())
            .collect();
        let plain_id = format!("r{i}");
        let (id_clean, id_messy) = match i % 13 {
            5 => (format!("\"r{i},x\"\"\ny\""), format!("\"r{i},x\"\"\ny\"")),
            6 => (plain_id.clone(), format!("\"{plain_id}\"")),
            _ => (plain_id.clone(), plain_id.clone()),
        };
        clean.push_str(&format!("{id_clean},{},{},{}\n", v[0], v[1], v[2]));
        let a = &v[0];
        let record = match i % 10 {
            0 => format!("{id_messy},{a},{},{}\r\n", v[1], v[2]),
            1 => format!("{id_messy},\"{a}\",{},{}\n", v[1], v[2]),
            2 => format!("{id_messy},{:e},{},{}\n", value(i, 0), v[1], v[2]),
            3 => format!("{id_messy}, {a} ,{},{}\n", v[1], v[2]),
            4 if !a.contains('e') => {
                format!("{id_messy},{a}000000000000000000000,{},{}\n", v[1], v[2])
            }
            5 => format!("\n{id_messy},{a},{},{}\n", v[1], v[2]),
            6 => format!("\r\n{id_messy},{a},{},{}\n", v[1], v[2]),
            _ => format!("{id_messy},{a},{},{}\n", v[1], v[2]),
        };
        messy.push_str(&record);
        line += record.matches('\n').count() as u64;
        if i % 37 == 3 {
            let bad = match (i / 37) % 4 {
                0 => format!("bad{i},1.5,2,3,4\n"),
                1 => format!("bad{i},1.5,2\n"),
                2 => format!("bad{i},1.5,2,x3\n"),
                _ => format!("bad{i},1.5,2,\n"),
            };
            bad_lines.push(line);
            messy.push_str(&bad);
            line += 1;
        }
    }
    // No line break after the last record.
    messy.push_str(&format!("r{n},1,2,3"));
    clean.push_str(&format!("r{n},1,2,3\n"));
    let clean_in = dir.path().join("clean.csv");
    let messy_in = dir.path().join("messy.csv");
    std::fs::write(&clean_in, &clean).unwrap();
    std::fs::write(&messy_in, &messy).unwrap();

    let run = |input: &Path, output: &Path, chunk_rows: usize| {
        let opts = BatchOptions {
            keep: vec!["id".into()],
            chunk_rows,
            threads: 2,
            max_reject_fraction: 0.5,
            ..Default::default()
        };
        score_file(&BatchJob {
            model: &model,
            model_name: "m",
            model_version: 1,
            input,
            output,
            options: &opts,
            clock: &SystemClock,
            progress: None,
            collect: None,
        })
        .unwrap()
    };
    let want_out = dir.path().join("clean-out.csv");
    let s = run(&clean_in, &want_out, 64);
    assert_eq!((s.rows_scored, s.rows_rejected), (n as u64 + 1, 0));
    let want = std::fs::read(&want_out).unwrap();
    for chunk_rows in [1, 3, 64, 10_000] {
        let out = dir.path().join(format!("messy-out-{chunk_rows}.csv"));
        let s = run(&messy_in, &out, chunk_rows);
        assert_eq!(s.rows_scored, n as u64 + 1, "chunks of {chunk_rows}");
        assert_eq!(s.rows_rejected, bad_lines.len() as u64);
        assert!(
            std::fs::read(&out).unwrap() == want,
            "chunks of {chunk_rows}: the output differs from the plain file's"
        );
        let rej = std::fs::read_to_string(&s.rejects).unwrap();
        let got: Vec<u64> = rej
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(got, bad_lines, "chunks of {chunk_rows}");
    }
}
