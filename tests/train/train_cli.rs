//! `mlcycle train` → `mlcycle validate`, end to end through the binary.

use mlcycle::audit::{AuditLog, AuditQuery, SqliteAuditLog, actions};
use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::registry::{Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn mlcycle(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .env("MLCYCLE_HOME", store)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn train_then_validate_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let generator = CreditDefault::new(21);
    let train_csv = dir.path().join("train.csv");
    let holdout_csv = dir.path().join("holdout.csv");
    write_csv(
        &generator.sample(1_200, &DriftSpec::none(), 0).unwrap(),
        &train_csv,
    )
    .unwrap();
    write_csv(
        &generator.sample(600, &DriftSpec::none(), 1).unwrap(),
        &holdout_csv,
    )
    .unwrap();
    let space = dir.path().join("space.json");
    std::fs::write(&space, r#"{"grid": {"l2": [0.1, 1000.0]}}"#).unwrap();
    let t = train_csv.to_str().unwrap();

    // v1: a plain stump-like tree.
    let out = ok(&mlcycle(
        &store,
        &[
            "train",
            "--data",
            t,
            "--target",
            "default",
            "--name",
            "credit",
            "--algorithm",
            "tree",
            "--params",
            r#"{"max_depth": 1}"#,
            "--seed",
            "3",
        ],
    ));
    assert!(out.contains("registered credit/1"), "{out}");
    // v2: logistic regression with a grid search and 3-fold CV.
    let out = ok(&mlcycle(
        &store,
        &[
            "train",
            "--data",
            t,
            "--target",
            "default",
            "--name",
            "credit",
            "--algorithm",
            "logistic",
            "--search",
            space.to_str().unwrap(),
            "--cv",
            "3",
            "--seed",
            "3",
        ],
    ));
    assert!(out.contains("registered credit/2"), "{out}");
    assert!(out.contains("grid search: 2 trial(s), 3-fold"), "{out}");
    // v3: gradient boosting, JSON output.
    let out = ok(&mlcycle(
        &store,
        &[
            "train",
            "--data",
            t,
            "--target",
            "default",
            "--name",
            "credit",
            "--params",
            r#"{"max_iter": 20}"#,
            "--json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["flavor"], "gbdt");
    assert!(v["metrics"]["roc_auc"].as_f64().unwrap() > 0.6);

    // The lineage holds the dataset, the params and every trial.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mv, artifact) = rt.block_on(async {
        let reg = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
        (
            reg.get_version("credit", 2).await.unwrap(),
            reg.load_artifact("credit", 2).await.unwrap(),
        )
    });
    // The drift baseline is stored with the version: the training split's profile.
    let profile = artifact
        .reference_profile()
        .expect("a reference profile is stored with the version");
    assert!(profile.columns.len() > 1);
    assert_eq!(mv.lineage.trainer, "logistic_regression");
    assert_eq!(mv.lineage.training_datasets.len(), 2);
    assert!(mv.lineage.validation_dataset.is_some());
    let trials = mv.lineage.params["search"]["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0]["cv"]["fold_scores"].as_array().unwrap().len(), 3);
    assert!(mv.metrics.contains_key("roc_auc"));
    assert!(mv.metrics.contains_key("profile_latency_p99_us"));
    drop(rt);

    // The audit trail knows where v2 came from.
    let out = ok(&mlcycle(&store, &["lineage", "version", "credit/2"]));
    assert!(out.contains("logistic_regression"), "{out}");
    ok(&mlcycle(&store, &["audit", "verify"]));

    // Validate v2 against v1 on a fresh holdout: promoted, with fairness by region.
    let h = holdout_csv.to_str().unwrap();
    let out = ok(&mlcycle(
        &store,
        &[
            "validate",
            "--candidate",
            "credit/2",
            "--champion",
            "credit/1",
            "--data",
            h,
            "--sensitive",
            "region",
        ],
    ));
    assert!(out.starts_with("PROMOTE"), "{out}");
    assert!(out.contains("beats_champion:roc_auc"), "{out}");
    assert!(out.contains("fairness by `region`"), "{out}");
    // JSON, with significance.
    let out = ok(&mlcycle(
        &store,
        &[
            "validate",
            "--candidate",
            "credit/2",
            "--champion",
            "credit/1",
            "--data",
            h,
            "--format",
            "json",
            "--significance",
            "0.05",
        ],
    ));
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["promote"], true);
    assert!(r["significance"]["bootstrap"]["lower"].as_f64().unwrap() > 0.0);
    // The reverse is rejected: exit status 2.
    let o = mlcycle(
        &store,
        &[
            "validate",
            "--candidate",
            "credit/1",
            "--champion",
            "credit/2",
            "--data",
            h,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("REJECT"));
    // A fairness limit nobody can meet blocks too.
    let o = mlcycle(
        &store,
        &[
            "validate",
            "--candidate",
            "credit/2",
            "--data",
            h,
            "--sensitive",
            "region",
            "--min-disparate-impact-ratio",
            "1.01",
        ],
    );
    assert_eq!(o.status.code(), Some(2));

    // Bad input: errors, not panics.
    for args in [
        vec![
            "train",
            "--data",
            t,
            "--target",
            "default",
            "--name",
            "x",
            "--algorithm",
            "svm",
        ],
        vec!["train", "--data", t, "--target", "nope", "--name", "x"],
        vec![
            "train", "--data", t, "--target", "default", "--name", "x", "--params", "{",
        ],
        vec!["validate", "--candidate", "credit/9", "--data", h],
        vec![
            "validate",
            "--candidate",
            "credit/2",
            "--data",
            h,
            "--sensitive",
            "nope",
        ],
    ] {
        let o = mlcycle(&store, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("error"),
            "{args:?}"
        );
    }

    // Every completed `validate` left a `validation.completed` record (the failed runs above
    // did not), in order, with the decision and the versions compared.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let records = rt.block_on(async {
        let log = SqliteAuditLog::open(&store, Arc::new(SystemClock)).unwrap();
        log.query(&AuditQuery {
            action: Some(actions::VALIDATION_COMPLETED.into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap()
    });
    let from_validate: Vec<_> = records
        .iter()
        .filter(|r| r.entry.trace_id.starts_with("validate-"))
        .collect();
    let summary: Vec<(Value, Value, &str)> = from_validate
        .iter()
        .map(|r| {
            let p = &r.entry.payload;
            (
                p["candidate"].clone(),
                p["champion"].clone(),
                p["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(2), json!(1), "pass"),
            (json!(2), json!(1), "pass"),
            (json!(1), json!(2), "fail"),
            (json!(2), Value::Null, "fail"),
        ]
    );
    let first = &from_validate[0].entry;
    assert_eq!(first.payload["model_name"], "credit");
    assert_eq!(first.payload["champion_model"], "credit");
    assert_eq!(first.payload["report"]["promote"], true);
    assert!(first.payload["report"]["fairness"].is_object(), "{first:?}");
    // The subject is the holdout's dataset id, the same for every run on the same file.
    assert_eq!(first.subjects.len(), 1);
    assert!(
        from_validate
            .iter()
            .all(|r| r.entry.subjects == first.subjects)
    );
    // One trace per run.
    let traces: std::collections::BTreeSet<_> =
        from_validate.iter().map(|r| &r.entry.trace_id).collect();
    assert_eq!(traces.len(), from_validate.len());
    ok(&mlcycle(&store, &["audit", "verify"]));
}

/// A small CSV with missing values in `sex`, written row by row.
fn penguins_like(path: &Path, rows: usize) {
    let mut s = String::from("bill_length_mm,flipper_length_mm,sex,species\n");
    for i in 0..rows {
        let species = ["Adelie", "Gentoo", "Chinstrap"][i % 3];
        let bill = 35.0 + 5.0 * (i % 3) as f64 + (i * 7 % 11) as f64 * 0.5;
        let flipper = 185.0 + 15.0 * (i % 3) as f64 + (i * 5 % 13) as f64;
        let sex = if i % 17 == 4 {
            ""
        } else if i % 2 == 0 {
            "male"
        } else {
            "female"
        };
        s.push_str(&format!("{bill},{flipper},{sex},{species}\n"));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn train_prints_its_split_and_quality_and_registers_a_dataset_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let csv = dir.path().join("penguins.csv");
    penguins_like(&csv, 300);
    let c = csv.to_str().unwrap();
    let train = [
        "train", "--data", c, "--target", "species", "--name", "penguins",
    ];
    let out = ok(&mlcycle(&store, &train));
    assert!(
        out.contains("split: 300 rows -> 240 for training, 60 held out (20%, seed 0)"),
        "{out}"
    );
    assert!(out.contains("data quality: 300 rows"), "{out}");
    // Metrics say how they average over the three classes; speed is reported apart.
    let f1 = out
        .lines()
        .find(|l| l.trim_start().starts_with("f1 "))
        .unwrap();
    assert!(f1.contains("(macro average over 3 classes)"), "{f1}");
    let profile = out
        .find("serving profile (speed and size, not quality):")
        .unwrap();
    assert!(
        out.find("profile_latency_p50_us").unwrap() > profile,
        "{out}"
    );
    assert!(out.find("holdout metrics").unwrap() < profile, "{out}");
    let sex = out
        .lines()
        .find(|l| l.trim_start().starts_with("sex"))
        .unwrap();
    assert!(sex.contains("18 missing"), "{sex}");
    let o = mlcycle(&store, &train);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: the holdout has only 60 rows"),
        "{err}"
    );
    // Trained twice on the same file: the dataset and its splits are registered once each.
    let audit = SqliteAuditLog::open(&store, Arc::new(SystemClock)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registered = rt
        .block_on(audit.query(&AuditQuery {
            action: Some(actions::DATASET_REGISTERED.into()),
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(registered.len(), 3, "source, train split, holdout split");
    let source = registered[0].entry.subjects[0].clone();
    let text = ok(&mlcycle(&store, &["lineage", "dataset", &source]));
    let splits: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("split into"))
        .collect();
    assert_eq!(splits.len(), 2, "{text}");
    // `--help` lists each algorithm's parameters.
    let help = ok(&mlcycle(&store, &["train", "--help"]));
    for needle in [
        "gbdt",
        "learning_rate",
        "logistic",
        "l2",
        "forest",
        "n_estimators",
    ] {
        assert!(help.contains(needle), "{needle} not in\n{help}");
    }
}

#[test]
fn predictions_are_readable_filtered_and_feed_drift() {
    use mlcycle::collect::{FilePredictionLog, LogFormat, PredictionLog, PredictionRecord};
    use mlcycle::data::FeatureKind;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let csv = dir.path().join("penguins.csv");
    penguins_like(&csv, 300);
    let c = csv.to_str().unwrap();
    ok(&mlcycle(
        &store,
        &[
            "train", "--data", c, "--target", "species", "--name", "penguins",
        ],
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    let mv = rt.block_on(registry.get_version("penguins", 1)).unwrap();
    let sig = &mv.signature;
    let names: Vec<&str> = sig
        .inputs
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["bill_length_mm", "flipper_length_mm", "sex"]);
    let FeatureKind::Categorical { levels } = &sig.inputs.features[2].kind else {
        panic!("sex is categorical")
    };
    let male = levels.iter().position(|l| l == "male").unwrap() as f64;
    let classes = sig.target.kind.classes().unwrap().to_vec();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let record = |id: &str, minutes: i64, model: &str| PredictionRecord {
        request_id: id.into(),
        at: t0 + chrono::Duration::minutes(minutes),
        model_name: model.into(),
        model_version: 1,
        inputs: vec![vec![40.5, 200.0, male], vec![38.0, 190.0, f64::NAN]],
        outputs: vec![1.0, 0.0],
        probabilities: vec![],
        latency_us: 10,
        error: None,
        notes: vec![],
    };
    // Two servers, one per format, writing the same hour: printed in time order.
    let binary =
        FilePredictionLog::open_with_format(store.join("predictions"), LogFormat::Binary).unwrap();
    let jsonl =
        FilePredictionLog::open_with_format(store.join("predictions"), LogFormat::JsonLines)
            .unwrap();
    rt.block_on(binary.append(vec![record("b-30", 30, "penguins")]))
        .unwrap();
    rt.block_on(jsonl.append(vec![
        record("j-10", 10, "penguins"),
        record("other-20", 20, "other"),
    ]))
    .unwrap();
    let out = ok(&mlcycle(&store, &["predictions", "--model", "penguins"]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["j-10", "b-30"]);
    assert_eq!(
        lines[0]["rows"][0],
        json!({"bill_length_mm": 40.5, "flipper_length_mm": 200.0, "sex": "male"})
    );
    assert_eq!(lines[0]["rows"][1]["sex"], Value::Null);
    assert_eq!(
        lines[0]["predictions"],
        json!([classes[1].as_str(), classes[0].as_str()])
    );
    let all = ok(&mlcycle(&store, &["predictions", "--count"]));
    assert_eq!(all.trim(), "3");
    // --model NAME@ALIAS: the version the alias points to.
    ok(&mlcycle(
        &store,
        &[
            "models",
            "alias",
            "set",
            "penguins",
            "production",
            "1",
            "--force",
        ],
    ));
    let n = ok(&mlcycle(
        &store,
        &["predictions", "--model", "penguins@production", "--count"],
    ));
    assert_eq!(n.trim(), "2");
    // CSV that `drift --current` reads as it is.
    let cur = dir.path().join("current.csv");
    ok(&mlcycle(
        &store,
        &[
            "predictions",
            "--model",
            "penguins",
            "--format",
            "csv",
            "--output",
            cur.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&cur).unwrap();
    let mut rows = text.lines();
    assert_eq!(
        rows.next().unwrap(),
        "request_id,at,model_name,model_version,bill_length_mm,flipper_length_mm,sex,prediction"
    );
    assert!(
        rows.next()
            .unwrap()
            .ends_with(&format!(",40.5,200.0,male,{}", classes[1]))
    );
    assert_eq!(text.lines().count(), 5);
    let out = mlcycle(
        &store,
        &[
            "drift",
            "--reference",
            c,
            "--current",
            cur.to_str().unwrap(),
            "--exclude",
            "species",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    let cols: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["bill_length_mm", "flipper_length_mm", "sex"]);
}

#[test]
fn missing_values_and_unknown_categories_follow_one_rule() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let csv = dir.path().join("penguins.csv");
    penguins_like(&csv, 300);
    let c = csv.to_str().unwrap();
    ok(&mlcycle(
        &store,
        &[
            "train", "--data", c, "--target", "species", "--name", "penguins",
        ],
    ));
    // A file with a missing `sex` on every third row: the gbdt model handles it, so `score`
    // scores every row, as `serve` and `validate` do.
    let input = dir.path().join("in.csv");
    let mut s = String::from("bill_length_mm,flipper_length_mm,sex\n");
    for i in 0..30 {
        let sex = if i % 3 == 0 { "" } else { "female" };
        s.push_str(&format!("{},{},{sex}\n", 36 + i % 9, 190 + i % 20));
    }
    std::fs::write(&input, &s).unwrap();
    let out = dir.path().join("out.csv");
    let score = |extra: &[&str]| {
        let mut a = vec![
            "score",
            "--model",
            "penguins/1",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--max-reject-fraction",
            "1",
            "--quiet",
        ];
        a.extend_from_slice(extra);
        mlcycle(&store, &a)
    };
    ok(&score(&[]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 31);
    // Asked to, it rejects them.
    ok(&score(&["--reject-missing"]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 21);
    // A row with no value at all is rejected with its reason.
    std::fs::write(
        &input,
        "bill_length_mm,flipper_length_mm,sex\n40,200,male\n,,\n41,201,\n",
    )
    .unwrap();
    ok(&score(&[]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    let rejects = std::fs::read_to_string(format!("{}.rejects.csv", out.display())).unwrap();
    assert!(rejects.contains("no usable value"), "{rejects}");
    // An unknown category is refused naming the flag that scores it as missing, in `score`
    // and `validate` alike.
    std::fs::write(
        &input,
        "bill_length_mm,flipper_length_mm,sex\n40,200,unicorn\n",
    )
    .unwrap();
    ok(&score(&[]));
    let rejects = std::fs::read_to_string(format!("{}.rejects.csv", out.display())).unwrap();
    assert!(
        rejects.contains("unknown category `unicorn`") && rejects.contains("--unknown-as-missing"),
        "{rejects}"
    );
    ok(&score(&["--unknown-as-missing"]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    // The policy spelled `--unknown-category reject|as_missing` (reject is the default).
    ok(&score(&["--unknown-category", "reject"]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1);
    ok(&score(&["--unknown-category", "as_missing"]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    let holdout = dir.path().join("holdout.csv");
    std::fs::write(
        &holdout,
        "bill_length_mm,flipper_length_mm,sex,species\n40,200,unicorn,Adelie\n",
    )
    .unwrap();
    let o = mlcycle(
        &store,
        &[
            "validate",
            "--candidate",
            "penguins/1",
            "--data",
            holdout.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("unknown category `unicorn`") && err.contains("--unknown-as-missing"),
        "{err}"
    );
}

#[test]
fn train_with_a_holdout_file_and_refit() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let csv = dir.path().join("penguins.csv");
    let holdout = dir.path().join("holdout.csv");
    penguins_like(&csv, 300);
    penguins_like(&holdout, 120);
    let (c, h) = (csv.to_str().unwrap(), holdout.to_str().unwrap());
    let base = [
        "train", "--data", c, "--target", "species", "--name", "penguins",
    ];
    // --holdout FILE: fitted on all 300 rows, measured on the file's 120.
    let mut a = base.to_vec();
    a.extend(["--holdout", h, "--json"]);
    let v: Value = serde_json::from_str(&ok(&mlcycle(&store, &a))).unwrap();
    assert_eq!(
        (v["train_rows"].as_u64(), v["holdout_rows"].as_u64()),
        (Some(300), Some(120))
    );
    let mut a = base.to_vec();
    a.extend(["--holdout", h]);
    let out = ok(&mlcycle(&store, &a));
    assert!(
        out.contains("split: none; fitted on all 300 rows")
            && out.contains("measured on the 120 rows"),
        "{out}"
    );
    // --refit: validated on the split, then fitted on every row; the lineage says so.
    let mut a = base.to_vec();
    a.extend(["--refit", "--json"]);
    let v: Value = serde_json::from_str(&ok(&mlcycle(&store, &a))).unwrap();
    assert_eq!(v["train_rows"], 300);
    assert_eq!(v["holdout_rows"], 60);
    let version = v["version"].as_u64().unwrap() as u32;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    let mv = rt
        .block_on(registry.get_version("penguins", version))
        .unwrap();
    assert_eq!(mv.tags.get("refit").map(String::as_str), Some("true"));
    assert_eq!(mv.lineage.training_datasets.len(), 1, "{:?}", mv.lineage);
    assert_eq!(
        mv.lineage.training_datasets[0].to_string(),
        v["dataset"].as_str().unwrap()
    );
    assert!(
        mv.description.starts_with("refit on all 300 rows"),
        "{}",
        mv.description
    );
    // A share out of range is neither a share nor taken as a file silently.
    let mut a = base.to_vec();
    a.extend(["--holdout", "1.5"]);
    let o = mlcycle(&store, &a);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a share"));
}
