//! `mlcycle explain` through the binary: the JSON contract, every key, and
//! `base_value + Σ contributions = value` = the model's margin for every row.

use mlcycle::clock::SystemClock;
use mlcycle::data::{Schema, UnknownLevel, read_csv_with_schema, write_csv};
use mlcycle::explain::{GainImpurity, gain_importance};
use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use serde_json::Value;
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
fn explain_json_contract_sums_to_the_margin_for_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let generator = CreditDefault::new(21);
    let train_csv = dir.path().join("train.csv");
    let data_csv = dir.path().join("data.csv");
    write_csv(
        &generator.sample(800, &DriftSpec::none(), 0).unwrap(),
        &train_csv,
    )
    .unwrap();
    write_csv(
        &generator.sample(300, &DriftSpec::none(), 1).unwrap(),
        &data_csv,
    )
    .unwrap();
    let t = train_csv.to_str().unwrap();
    let d = data_csv.to_str().unwrap();
    for (version, algo) in [(1u32, "logistic"), (2, "gbdt")] {
        ok(&mlcycle(
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
                algo,
                "--seed",
                "3",
            ],
        ));
        let reference = format!("credit/{version}");
        let out = ok(&mlcycle(
            &store,
            &[
                "explain", "--model", &reference, "--data", d, "--rows", "25", "--format", "json",
            ],
        ));
        let v: Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        // The contract's keys; tree models add their split counts.
        let mut want = vec![
            "base_value",
            "importance",
            "model",
            "output",
            "rows",
            "version",
        ];
        if algo != "logistic" {
            want.push("importance_split");
        }
        want.sort_unstable();
        assert_eq!(sorted, want, "{algo}");
        assert_eq!(v["model"], "credit");
        assert_eq!(v["version"], version);
        assert_eq!(v["output"], "margin");
        let base = v["base_value"].as_f64().unwrap();
        let rows = v["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 25);
        // The model's own probabilities for these rows, to check value = log-odds.
        let registry = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (_, model) = rt.block_on(registry.load_model(&reference)).unwrap();
        let schema = Schema {
            features: model.signature().inputs.features.clone(),
            target: None,
        };
        let data = read_csv_with_schema(&data_csv, &schema, None, UnknownLevel::AsMissing).unwrap();
        let p = model
            .predict(data.features())
            .unwrap()
            .probabilities
            .unwrap();
        let features = model.signature().inputs.feature_names().len();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.as_object().unwrap().len(), 3);
            assert_eq!(r["row"], i);
            let value = r["value"].as_f64().unwrap();
            let c = r["contributions"].as_object().unwrap();
            assert_eq!(c.len(), features, "one contribution per input column");
            let sum: f64 = c.values().map(|x| x.as_f64().unwrap()).sum();
            assert!(
                (base + sum - value).abs() < 1e-9,
                "{algo} row {i}: {base} + {sum} != {value}"
            );
            let margin = (p[[i, 1]] / p[[i, 0]]).ln();
            assert!(
                (value - margin).abs() < 1e-9,
                "{algo} row {i}: {value} vs {margin}"
            );
        }
        let imp = v["importance"].as_object().unwrap();
        assert_eq!(imp.len(), features);
        assert!(imp.values().all(|x| x.as_f64().unwrap() >= 0.0));
        assert!(imp.values().any(|x| x.as_f64().unwrap() > 0.0));
        if let Some(split) = v.get("importance_split") {
            let split = split.as_object().unwrap();
            assert_eq!(split.len(), features, "{algo}");
            assert!(split.values().all(|x| x.as_u64().is_some()), "{algo}");
            assert!(split.values().any(|x| x.as_u64().unwrap() > 0), "{algo}");
        }
    }
    // A decision tree: split counts, and the gain importance since the data file has the
    // target column (it is left out when the file has none).
    ok(&mlcycle(
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
            "--seed",
            "3",
        ],
    ));
    let out = ok(&mlcycle(
        &store,
        &[
            "explain", "--model", "credit/3", "--data", d, "--rows", "5", "--format", "json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    for key in ["importance", "importance_split", "importance_gain"] {
        assert!(v.get(key).is_some(), "{key} in {out}");
    }
    let gain = v["importance_gain"].as_object().unwrap();
    assert_eq!(gain.len(), v["importance"].as_object().unwrap().len());
    let sum: f64 = gain.values().map(|x| x.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    for (f, g) in gain {
        let g = g.as_f64().unwrap();
        assert!(g >= 0.0, "{f}");
        // A column no split tests has no gain, and a tested one has some.
        assert_eq!(v["importance_split"][f] == 0, g == 0.0, "{f}: {out}");
    }
    // Grown with entropy: the gain measures entropy (the training parameters say so).
    ok(&mlcycle(
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
            r#"{"criterion": "Entropy", "max_depth": 4}"#,
            "--seed",
            "3",
        ],
    ));
    let out = ok(&mlcycle(
        &store,
        &[
            "explain", "--model", "credit/4", "--data", d, "--rows", "2", "--format", "json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    let registry = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let art = rt.block_on(registry.load_artifact("credit", 4)).unwrap();
    let schema = Schema {
        features: art.signature().inputs.features.clone(),
        target: Some(art.signature().target.clone()),
    };
    let labelled = read_csv_with_schema(&data_csv, &schema, None, UnknownLevel::AsMissing).unwrap();
    let want = gain_importance(&art, &labelled, GainImpurity::Entropy).unwrap();
    let gini = gain_importance(&art, &labelled, GainImpurity::Gini).unwrap();
    assert_ne!(want, gini);
    for (f, w) in art.signature().inputs.feature_names().iter().zip(&want) {
        let got = v["importance_gain"][*f].as_f64().unwrap();
        assert!((got - w).abs() < 1e-12, "{f}: {got} vs {w}");
    }
    let no_target = dir.path().join("no_target.csv");
    write_csv(
        &generator
            .sample(50, &DriftSpec::none(), 2)
            .unwrap()
            .without_target(),
        &no_target,
    )
    .unwrap();
    let out = ok(&mlcycle(
        &store,
        &[
            "explain",
            "--model",
            "credit/3",
            "--data",
            no_target.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("importance_split").is_some());
    assert!(v.get("importance_gain").is_none(), "{out}");
    // Text and CSV.
    let text = ok(&mlcycle(
        &store,
        &["explain", "--model", "credit/2", "--data", d, "--rows", "3"],
    ));
    assert!(text.contains("row 2: value"), "{text}");
    let csv = ok(&mlcycle(
        &store,
        &[
            "explain", "--model", "credit/2", "--data", d, "--rows", "4", "--format", "csv",
        ],
    ));
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("row,value,base_value,"));
    // A bad class is an error naming the classes.
    let o = mlcycle(
        &store,
        &[
            "explain", "--model", "credit/1", "--data", d, "--class", "nope",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a class"));
}
