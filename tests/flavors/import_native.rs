//! Native LightGBM / XGBoost model files read into the GBDT predictor: predictions equal the
//! library's on the fixtures' test rows (tests/fixtures/import/, written by
//! scripts/import_fixtures.py), unsupported models are refused with a clear error, and
//! `mlcycle import` registers a version that `mlcycle score` scores.

use mlcycle::Error;
use mlcycle::model::native::{NativeFormat, NativeModel, read_lightgbm, read_xgboost};
use mlcycle::model::{Model, TreeTask};
use ndarray::Array2;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TASKS: [&str; 3] = ["binary", "multiclass", "regression"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import")
}

fn model_path(lib: &str, task: &str) -> PathBuf {
    let ext = if lib == "lightgbm" { "txt" } else { "json" };
    dir().join(format!("{lib}_{task}.{ext}"))
}

fn read(lib: &str, task: &str) -> NativeModel {
    let bytes = std::fs::read(model_path(lib, task)).unwrap();
    if lib == "lightgbm" {
        read_lightgbm(std::str::from_utf8(&bytes).unwrap()).unwrap()
    } else {
        read_xgboost(&bytes).unwrap()
    }
}

fn expected(lib: &str, task: &str) -> Value {
    let s = std::fs::read_to_string(dir().join(format!("{lib}_{task}.expected.json"))).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn rows(doc: &Value) -> Array2<f64> {
    let rows = doc["rows"].as_array().unwrap();
    let p = rows[0].as_array().unwrap().len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
        })
        .collect();
    Array2::from_shape_vec((rows.len(), p), flat).unwrap()
}

fn matrix(v: &Value, n: usize) -> Array2<f64> {
    let flat: Vec<f64> = match v.as_array().unwrap()[0] {
        Value::Array(_) => v
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect(),
        _ => v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect(),
    };
    let k = flat.len() / n;
    Array2::from_shape_vec((n, k), flat).unwrap()
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn lightgbm_models_predict_as_lightgbm_does() {
    for task in TASKS {
        let native = read("lightgbm", task);
        assert_eq!(native.format(), NativeFormat::LightGbm);
        assert_eq!(native.n_features(), 5);
        assert_eq!(native.n_trees(), if task == "multiclass" { 45 } else { 15 });
        assert_eq!(
            native.feature_names().unwrap(),
            ["x0", "x1", "x2", "x3", "x4"]
        );
        let doc = expected("lightgbm", task);
        let x = rows(&doc);
        assert!(x.iter().any(|v| v.is_nan()), "the rows have missing values");
        let signature = native.signature_from_file("y").unwrap();
        let pipeline = native.into_pipeline(signature).unwrap();
        // Margins: LightGBM sums float64 leaves, as the native predictor does.
        let margin = pipeline.learner.decision_function(x.view()).unwrap();
        let want = matrix(&doc["margin_f64"], x.nrows());
        assert!(max_abs_diff(&margin, &want) <= 1e-12, "{task}: margins");
        let raw = matrix(&doc["raw"], x.nrows());
        assert!(max_abs_diff(&margin, &raw) <= 1e-12, "{task}: raw scores");
        let p = pipeline.predict(x.view()).unwrap();
        let lib = matrix(&doc["predict"], x.nrows());
        let ours = match task {
            "regression" => p.values.clone().insert_axis(ndarray::Axis(1)),
            _ => p.probabilities.clone().unwrap(),
        };
        let d = max_abs_diff(&ours, &lib);
        assert!(
            d <= 1e-9,
            "{task}: predictions differ from LightGBM's by {d:e}"
        );
    }
}

#[test]
fn xgboost_models_route_as_xgboost_does_and_predict_to_float32_rounding() {
    for task in TASKS {
        let native = read("xgboost", task);
        assert_eq!(native.format(), NativeFormat::XgBoost);
        assert_eq!(native.n_features(), 5);
        let doc = expected("xgboost", task);
        let x = rows(&doc);
        let signature = native.signature_from_file("y").unwrap();
        let pipeline = native.into_pipeline(signature).unwrap();
        // The leaves XGBoost routed each row to, summed in float64: exact routing (a wrong
        // leaf would be off by a leaf value).
        let margin = pipeline.learner.decision_function(x.view()).unwrap();
        let want = matrix(&doc["margin_f64"], x.nrows());
        let d = max_abs_diff(&margin, &want);
        assert!(
            d <= 1e-12,
            "{task}: margins differ from the routed leaves by {d:e}"
        );
        // XGBoost's own outputs are float32 sums: equal up to float32 rounding.
        let raw = matrix(&doc["raw"], x.nrows());
        let d = max_abs_diff(&margin, &raw);
        assert!(d <= 2e-6, "{task}: margins differ from XGBoost's by {d:e}");
        let p = pipeline.predict(x.view()).unwrap();
        let lib = matrix(&doc["predict"], x.nrows());
        let ours = match task {
            "regression" => p.values.clone().insert_axis(ndarray::Axis(1)),
            _ => p.probabilities.clone().unwrap(),
        };
        let d = max_abs_diff(&ours, &lib);
        assert!(
            d <= 1e-6,
            "{task}: predictions differ from XGBoost's by {d:e}"
        );
    }
}

#[test]
fn tasks_and_signatures_follow_the_objective() {
    let n = read("lightgbm", "multiclass");
    assert_eq!(n.task(), TreeTask::Classification { n_classes: 3 });
    assert!(n.objective().starts_with("multiclass"));
    let s = n.signature_from_file("label").unwrap();
    assert_eq!(s.target.name, "label");
    assert_eq!(s.n_classes(), 3);
    assert_eq!(read("xgboost", "regression").task(), TreeTask::Regression);
    assert_eq!(
        read("xgboost", "binary").task(),
        TreeTask::Classification { n_classes: 2 }
    );
}

fn invalid(r: mlcycle::Result<NativeModel>) -> String {
    match r {
        Err(e @ Error::InvalidInput { .. }) => e.to_string(),
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}

#[test]
fn unsupported_lightgbm_models_are_refused_naming_what_is_unsupported() {
    let text = std::fs::read_to_string(model_path("lightgbm", "binary")).unwrap();
    // A categorical split (decision_type bit 0) on the first tree's first split.
    let cat = text.replacen("decision_type=8 ", "decision_type=9 ", 1);
    assert_ne!(cat, text);
    let msg = invalid(read_lightgbm(&cat));
    assert!(msg.contains("categorical split on feature `x4`"), "{msg}");
    let poisson = text.replacen("objective=binary sigmoid:1", "objective=poisson", 1);
    let msg = invalid(read_lightgbm(&poisson));
    assert!(
        msg.contains("objective `poisson` is not supported"),
        "{msg}"
    );
    let rf = text.replacen("feature_names=", "average_output\nfeature_names=", 1);
    assert!(invalid(read_lightgbm(&rf)).contains("random-forest"));
    let linear = text.replacen("is_linear=0", "is_linear=1", 1);
    assert!(invalid(read_lightgbm(&linear)).contains("linear tree"));
    // zero_as_missing with zeros routed against the threshold (default right, t > 0).
    let zero = text.replacen("decision_type=8 ", "decision_type=4 ", 1);
    let msg = invalid(read_lightgbm(&zero));
    assert!(msg.contains("zero_as_missing"), "{msg}");
    assert!(invalid(read_lightgbm("not a model")).contains("save_model"));
    let broken = text.replacen("left_child=2 4", "left_child=2 99", 1);
    assert!(invalid(read_lightgbm(&broken)).contains("out of range"));
    let truncated = &text[..text.len() / 2];
    assert!(read_lightgbm(truncated).is_err());
}

#[test]
fn unsupported_xgboost_models_are_refused_naming_what_is_unsupported() {
    let bytes = std::fs::read(model_path("xgboost", "binary")).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        f(&mut d);
        read_xgboost(&serde_json::to_vec(&d).unwrap())
    };
    let msg = invalid(with(&|d| {
        d["learner"]["gradient_booster"]["model"]["trees"][0]["split_type"][0] = 1.into()
    }));
    assert!(msg.contains("categorical split on feature `x4`"), "{msg}");
    let msg = invalid(with(&|d| {
        d["learner"]["objective"]["name"] = "count:poisson".into()
    }));
    assert!(msg.contains("count:poisson"), "{msg}");
    let msg = invalid(with(&|d| {
        d["learner"]["gradient_booster"]["name"] = "dart".into()
    }));
    assert!(msg.contains("dart"), "{msg}");
    let msg = invalid(with(&|d| {
        d["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 1000.into()
    }));
    assert!(msg.contains("child 1000"), "{msg}");
    assert!(invalid(read_xgboost(b"\x00\x01binary")).contains("not JSON"));
    assert!(invalid(read_xgboost(b"{}")).contains("learner"));
}

#[test]
fn a_signature_that_does_not_fit_the_model_is_refused() {
    use mlcycle::data::{Feature, Schema, Target, TargetKind};
    use mlcycle::model::Signature;
    let sig = |features: Vec<Feature>, kind: TargetKind| {
        Signature::from_training_schema(
            &Schema::new(
                features,
                Some(Target {
                    name: "y".into(),
                    kind,
                }),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let names = |n: &[&str]| n.iter().map(|s| Feature::numeric(*s)).collect::<Vec<_>>();
    let binary = || TargetKind::classification(["no", "yes"]).unwrap();
    let native = read("lightgbm", "binary");
    let e = native
        .clone()
        .into_pipeline(sig(names(&["x0", "x1", "x2", "x3"]), binary()))
        .unwrap_err();
    assert!(e.to_string().contains("takes 5 features"), "{e}");
    let e = native
        .clone()
        .into_pipeline(sig(names(&["x0", "x1", "x2", "x4", "x3"]), binary()))
        .unwrap_err();
    assert!(e.to_string().contains("model's order"), "{e}");
    let e = native
        .clone()
        .into_pipeline(sig(
            names(&["x0", "x1", "x2", "x3", "x4"]),
            TargetKind::Regression,
        ))
        .unwrap_err();
    assert!(e.to_string().contains("2 classes"), "{e}");
    let mut cat = names(&["x0", "x1", "x2", "x3"]);
    cat.push(Feature::categorical("x4", ["a", "b"]));
    let e = native
        .clone()
        .into_pipeline(sig(cat, binary()))
        .unwrap_err();
    assert!(e.to_string().contains("`x4` is categorical"), "{e}");
    // Class labels of the user's choosing are fine.
    let p = native
        .into_pipeline(sig(names(&["x0", "x1", "x2", "x3", "x4"]), binary()))
        .unwrap();
    assert_eq!(p.signature().n_classes(), 2);
}

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

/// The fixture's test rows as a CSV (missing = empty cell).
fn rows_csv(doc: &Value, path: &Path) {
    let mut s = String::from("x0,x1,x2,x3,x4\n");
    for r in doc["rows"].as_array().unwrap() {
        let cells: Vec<String> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().map(|f| format!("{f:?}")).unwrap_or_default())
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn score_column(out: &Path, column: &str) -> Vec<f64> {
    let mut r = csv::Reader::from_path(out).unwrap();
    let header = r.headers().unwrap().clone();
    let j = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    r.records()
        .map(|rec| rec.unwrap()[j].parse::<f64>().unwrap())
        .collect()
}

#[test]
fn mlcycle_import_registers_versions_that_mlcycle_score_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();

    // LightGBM binary, the signature from its training CSV (class labels 0 and 1).
    let file = model_path("lightgbm", "binary");
    let csv = dir().join("train_binary.csv");
    let out = ok(&mlcycle(
        &store,
        &[
            "import",
            "lightgbm",
            "--store",
            s,
            "--file",
            file.to_str().unwrap(),
            "--name",
            "lgb",
            "--signature-from",
            csv.to_str().unwrap(),
            "--target",
            "y",
            "--json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["flavor"], "gbdt");
    assert_eq!(v["origin"], "lightgbm");
    let sha = mlcycle::registry::artifacts::sha256_hex(&std::fs::read(&file).unwrap());
    assert_eq!(v["file_sha256"], sha);

    // XGBoost multiclass, the signature from the file's feature names.
    let out = ok(&mlcycle(
        &store,
        &[
            "import",
            "xgboost",
            "--store",
            s,
            "--file",
            model_path("xgboost", "multiclass").to_str().unwrap(),
            "--name",
            "xgb",
        ],
    ));
    assert!(out.contains("registered xgb/1"), "{out}");
    assert!(out.contains("feature names"), "{out}");

    // Lineage: the version records the file's origin and hash.
    let show = ok(&mlcycle(&store, &["models", "show", "lgb/1", "--store", s]));
    assert!(show.contains(&sha), "{show}");

    // Score both on the fixtures' rows.
    for (name, lib, task, column) in [
        ("lgb/1", "lightgbm", "binary", "proba_1"),
        ("xgb/1", "xgboost", "multiclass", "proba_2"),
    ] {
        let doc = expected(lib, task);
        let input = tmp.path().join(format!("{lib}.csv"));
        rows_csv(&doc, &input);
        let output = tmp.path().join(format!("{lib}.out.csv"));
        ok(&mlcycle(
            &store,
            &[
                "score",
                "--store",
                s,
                "--model",
                name,
                "--input",
                input.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
                "--allow-missing",
                "--quiet",
            ],
        ));
        let got = score_column(&output, column);
        let want = matrix(&doc["predict"], got.len());
        let c = want.ncols() - 1;
        let tol = if lib == "lightgbm" { 1e-9 } else { 1e-6 };
        for (i, g) in got.iter().enumerate() {
            assert!(
                (g - want[[i, c]]).abs() <= tol,
                "{name} row {i}: {g} vs {}",
                want[[i, c]]
            );
        }
    }

    // A file that is not a model: a clear error, nothing registered.
    let o = mlcycle(
        &store,
        &[
            "import",
            "xgboost",
            "--store",
            s,
            "--file",
            csv.to_str().unwrap(),
            "--name",
            "bad",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("XGBoost model file"), "{err}");
}
