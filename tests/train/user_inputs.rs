//! What a new user runs into with their own data: timestamp and id columns in a CSV, raw
//! rows to score, a custom model in the validate stage, a drift report built by hand.

use mlcycle::Error;
use mlcycle::data::{CsvOptions, Feature, RawValue, Schema, UnknownLevel, encode_rows, read_csv};
use mlcycle::drift::{ColumnDrift, ColumnKind, DriftReport};
use mlcycle::model::{Model, ModelArtifact, Prediction, Signature};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use mlcycle::validate::{ChampionChallenger, ChampionChallengerConfig};
use ndarray::ArrayView2;
use std::sync::Arc;

fn churn_csv(
    rows: usize,
    date: impl Fn(usize) -> String,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("churn.csv");
    let mut text = String::from("customer_id,signed_up,tenure,plan,churned\n");
    for i in 0..rows {
        text.push_str(&format!(
            "c-{i:05},{},{},{},{}\n",
            date(i),
            i % 50,
            ["basic", "pro"][i % 2],
            ["no", "yes"][(i / 3) % 2]
        ));
    }
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_timestamp_column_is_inferred_not_a_feature() {
    for (form, date) in [
        (
            "rfc3339",
            Box::new(|i: usize| format!("2026-01-{:02}T{:02}:30:00Z", 1 + i % 28, i % 24))
                as Box<dyn Fn(usize) -> String>,
        ),
        (
            "iso date-time",
            Box::new(|i: usize| format!("2026-01-{:02} {:02}:30:00", 1 + i % 28, i % 24)),
        ),
        (
            "iso date",
            Box::new(|i: usize| format!("2026-02-{:02}", 1 + i % 28)),
        ),
    ] {
        let (_dir, path) = churn_csv(500, date);
        let data = read_csv(
            &path,
            &CsvOptions {
                ignore: vec!["customer_id".into()],
                ..CsvOptions::with_target("churned")
            },
        )
        .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(data.schema().feature_names(), ["tenure", "plan"], "{form}");
        let ts = data.timestamps().expect("timestamps");
        assert_eq!(ts.len(), 500);
        assert!(
            ts[0].format("%Y-%m").to_string().starts_with("2026-0"),
            "{form}"
        );
    }
    // the explicit option gives the same dataset as the inference
    let (_dir, path) = churn_csv(100, |i| format!("2026-01-{:02}T00:00:00Z", 1 + i % 28));
    let opts = CsvOptions {
        ignore: vec!["customer_id".into()],
        ..CsvOptions::with_target("churned")
    };
    let inferred = read_csv(&path, &opts).unwrap();
    let named = read_csv(
        &path,
        &CsvOptions {
            timestamp: Some("signed_up".into()),
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(inferred.id(), named.id());
    // listing it as categorical keeps the old meaning (a feature), by choice
    let kept = read_csv(
        &path,
        &CsvOptions {
            categorical: vec!["signed_up".into()],
            ..opts
        },
    )
    .unwrap();
    assert!(kept.schema().feature_index("signed_up").is_some());
    assert!(kept.timestamps().is_none());
}

#[test]
fn an_id_column_is_refused_with_a_hint() {
    let (_dir, path) = churn_csv(500, |i| format!("2026-01-{:02}", 1 + i % 28));
    let e = read_csv(&path, &CsvOptions::with_target("churned")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(msg.contains("customer_id"), "{msg}");
    assert!(
        msg.contains("500 distinct text values in 500 rows"),
        "{msg}"
    );
    assert!(msg.contains("CsvOptions::ignore"), "{msg}");
    // a few-level text column is still a category
    let data = read_csv(
        &path,
        &CsvOptions {
            ignore: vec!["customer_id".into()],
            ..CsvOptions::with_target("churned")
        },
    )
    .unwrap();
    assert_eq!(
        data.schema().features[1].levels().unwrap(),
        ["basic", "pro"]
    );
}

#[test]
fn two_time_columns_need_a_choice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let mut text = String::from("at,born,x,y\n");
    for i in 0..20 {
        text.push_str(&format!(
            "2026-01-{:02},1990-05-{:02},{i},{}\n",
            1 + i,
            1 + i,
            i % 2
        ));
    }
    std::fs::write(&path, text).unwrap();
    let e = read_csv(&path, &CsvOptions::with_target("y"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`at`, `born`") && e.contains("CsvOptions::timestamp"),
        "{e}"
    );
    let e = read_csv(
        &path,
        &CsvOptions {
            timestamp: Some("at".into()),
            ..CsvOptions::with_target("y")
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`born`") && e.contains("ignore"), "{e}");
    let ok = read_csv(
        &path,
        &CsvOptions {
            timestamp: Some("at".into()),
            ignore: vec!["born".into()],
            ..CsvOptions::with_target("y")
        },
    )
    .unwrap();
    assert_eq!(ok.schema().feature_names(), ["x"]);
}

#[test]
fn raw_rows_encode_with_the_model_signature() {
    let data = CreditDefault::new(2)
        .sample(400, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let sig = model.signature();
    // the first rows, decoded to text and re-encoded, give the same matrix
    let schema = data.schema();
    let x = data.features();
    let raw: Vec<Vec<(String, RawValue)>> = (0..5)
        .map(|i| {
            schema
                .features
                .iter()
                .enumerate()
                .rev() // any order
                .map(|(j, f)| {
                    let v = if f.is_categorical() {
                        RawValue::Text(schema.decode_cell(j, x[[i, j]]))
                    } else {
                        RawValue::Number(x[[i, j]])
                    };
                    (f.name.clone(), v)
                })
                .chain([("default".to_string(), RawValue::from("yes"))]) // the label is skipped
                .collect()
        })
        .collect();
    let enc = sig.encode_rows(raw.clone(), UnknownLevel::Error).unwrap();
    assert_eq!(enc, x.slice(ndarray::s![0..5, ..]));
    // an unknown column, a missing feature, an unknown level: typed errors naming them
    let mut extra = raw[0].clone();
    extra.push(("shoe_size".into(), 42.0.into()));
    let e = sig.encode_rows([extra], UnknownLevel::Error).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch(m) if m.contains("`shoe_size`")),
        "{e}"
    );
    let short: Vec<_> = raw[0]
        .iter()
        .filter(|(k, _)| k != "income")
        .cloned()
        .collect();
    let e = sig.encode_rows([short], UnknownLevel::Error).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch(m) if m.contains("`income`")),
        "{e}"
    );
    let odd: Vec<_> = raw[0]
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "region" {
                    "atlantis".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let e = sig
        .encode_rows([odd.clone()], UnknownLevel::Error)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Data(m) if m.contains("row 0") && m.contains("`atlantis`")),
        "{e}"
    );
    let lenient = sig.encode_rows([odd], UnknownLevel::AsMissing).unwrap();
    assert!(lenient[[0, schema.feature_index("region").unwrap()]].is_nan());
    // JSON objects
    let s = Schema::new(
        vec![Feature::numeric("a"), Feature::categorical("c", ["1", "x"])],
        None,
    )
    .unwrap();
    let m = mlcycle::data::encode_json_rows(
        &s,
        &[
            serde_json::json!({"a": "2.5", "c": 1}),
            serde_json::json!({"c": "x", "a": null}),
        ],
        UnknownLevel::Error,
    )
    .unwrap();
    assert_eq!(m[[0, 0]], 2.5);
    assert_eq!(m[[0, 1]], 0.0);
    assert!(m[[1, 0]].is_nan());
    assert_eq!(m[[1, 1]], 1.0);
    assert!(
        encode_rows(
            &s,
            [vec![("a", RawValue::Text("ten".into())), ("c", "x".into())]],
            UnknownLevel::Error
        )
        .is_err()
    );
}

/// A user's model that cannot be stored.
#[derive(Debug)]
struct Unstorable(Signature, Arc<dyn Model>);

impl Model for Unstorable {
    fn signature(&self) -> &Signature {
        &self.0
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
        self.1.predict(x)
    }
    fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
        Err(Error::invalid(
            "artifact",
            "no serialisation for this model",
        ))
    }
}

#[test]
fn a_custom_model_without_an_artifact_fails_validation_naming_the_cause() {
    let data = CreditDefault::new(3)
        .sample(600, &DriftSpec::none(), 0)
        .unwrap();
    let (train, holdout) = data.split(0.3, 1).unwrap();
    let inner: Arc<dyn Model> =
        Arc::new(fit_logistic(&train, &LogisticParams::default().check().unwrap()).unwrap());
    let custom = Arc::new(Unstorable(inner.signature().clone(), inner));
    let v = ChampionChallenger::default();
    let e = v
        .validate_sync(custom.clone(), None, &holdout, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot be serialised to an artifact"), "{e}");
    assert!(e.contains("no serialisation for this model"), "{e}");
    assert!(
        e.contains("implement `Model::to_artifact`") && e.contains("serving_cost: None"),
        "{e}"
    );
    // without the measurement, validation itself works
    let v = ChampionChallenger::new(ChampionChallengerConfig {
        serving_cost: None,
        ..Default::default()
    })
    .unwrap();
    assert!(v.validate_sync(custom, None, &holdout, None).is_ok());
}

#[test]
fn a_drift_report_built_by_hand_serialises_like_the_detectors() {
    let a = ColumnDrift::new(
        "age",
        ColumnKind::Numeric,
        "ks",
        0.3,
        Some(0.001),
        0.05,
        true,
    )
    .with_counts(10, 20, 1, 2);
    let b = ColumnDrift::new(
        "plan",
        ColumnKind::Categorical,
        "chisquare",
        0.5,
        Some(0.4),
        0.05,
        false,
    );
    let r = DriftReport::from_columns(vec![a, b], 0.5);
    assert_eq!(
        (r.drifted_columns, r.share_drifted, r.dataset_drift),
        (1, 0.5, true)
    );
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["columns"][0]["kind"], "numeric");
    assert_eq!(v["columns"][1]["kind"], "categorical");
    assert_eq!(v["columns"][0]["tests"]["ks"]["p_value"], 0.001);
    assert_eq!(v["columns"][0]["missing_current"], 2);
    assert_eq!(
        serde_json::to_value(ColumnKind::Categorical).unwrap(),
        "categorical"
    );
    assert_eq!(r.columns[1].column_kind(), Some(ColumnKind::Categorical));
    let back: DriftReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
    assert!(!DriftReport::from_columns(vec![], 0.5).dataset_drift);
}
