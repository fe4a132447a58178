//! `mlcycle drift` end to end: the JSON contract, the text table, options, exit codes and
//! error messages.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn mlcycle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .output()
        .expect("run mlcycle")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A CSV with numeric `x` (shifted by `shift`), integer `n`, text `city` and a few
/// missing values.
fn sample_csv(rows: usize, shift: f64, seed: u64) -> String {
    let mut s = String::from("x,n,city\n");
    let mut state = seed.wrapping_add(1);
    for i in 0..rows {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let x = if i % 97 == 5 {
            "NA".to_string()
        } else {
            format!("{}", u * 10.0 + shift)
        };
        let n = (state >> 40) % 7;
        let city = ["Lyon", "Oslo", "Pune", "Lima"][((state >> 20) % 4) as usize];
        let city = if i % 101 == 7 { "" } else { city };
        writeln!(s, "{x},{n},{city}").unwrap();
    }
    s
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
}

#[test]
fn json_report_follows_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "ref.csv", &sample_csv(3_000, 0.0, 1));
    let c = write(dir.path(), "cur.csv", &sample_csv(2_000, 2.0, 2));
    let out = dir.path().join("report.json");
    let o = mlcycle(&[
        "drift",
        "--reference",
        r.to_str().unwrap(),
        "--current",
        c.to_str().unwrap(),
        "--methods",
        "ks,wasserstein,psi,jensenshannon,chisquare",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--output writes the file, not stdout");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    let x = &cols[0];
    assert_eq!(x["name"], "x");
    assert_eq!(x["kind"], "numeric");
    assert_eq!(x["n_reference"], 3_000 - 31);
    assert_eq!(x["missing_reference"], 31);
    assert_eq!(x["method"], "ks");
    assert_eq!(x["drift"], true);
    assert!(x["p_value"].is_f64() && x["threshold"] == 0.05);
    let tests: Vec<&str> = x["tests"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(tests.len(), 4);
    for m in ["ks", "wasserstein", "psi", "jensenshannon"] {
        assert!(tests.contains(&m), "{m}");
    }
    assert!(x["tests"]["ks"]["statistic"].is_f64());
    assert!(x["tests"]["ks"]["p_value"].is_f64());
    assert!(x["tests"]["wasserstein"]["raw"].is_f64());
    assert!(x["tests"]["psi"]["statistic"].is_f64());
    // `n` holds integers: numeric
    assert_eq!(cols[1]["kind"], "numeric");
    let city = &cols[2];
    assert_eq!(city["kind"], "categorical");
    assert_eq!(city["missing_reference"], 30);
    let ct: Vec<&str> = city["tests"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ct.len(), 3);
    for m in ["chisquare", "psi", "jensenshannon"] {
        assert!(ct.contains(&m), "{m}");
    }
    assert!(city["tests"]["chisquare"]["p_value"].is_f64());
    for k in [
        "drifted_columns",
        "share_drifted",
        "drift_share",
        "dataset_drift",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["drift_share"], 0.5);
}

#[test]
fn text_table_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "ref.csv", &sample_csv(800, 0.0, 1));
    let c = write(dir.path(), "cur.csv", &sample_csv(600, 0.0, 3));
    let (r, c) = (r.to_str().unwrap(), c.to_str().unwrap());
    let o = mlcycle(&["drift", "--reference", r, "--current", c]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("column") && text.contains("p-value"),
        "{text}"
    );
    assert!(text.contains("Dataset drift: no"), "{text}");
    // auto with a small reference: ks for x, chisquare for city
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    assert!(line("x").contains("ks"), "{text}");
    assert!(line("city").contains("chisquare"), "{text}");

    // --categorical, --binning, --correction, --drift-share, per-column settings
    let o = mlcycle(&[
        "drift",
        "--reference",
        r,
        "--current",
        c,
        "--categorical",
        "n",
        "--binning",
        "reference",
        "--correction",
        "bonferroni",
        "--drift-share",
        "0.3",
        "--threshold",
        "city=0.2",
        "--column-method",
        "x=psi",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["drift_share"], 0.3);
    assert_eq!(v["columns"][0]["method"], "psi");
    assert_eq!(v["columns"][1]["kind"], "categorical");
    // two p-value columns (n, city): Bonferroni halves their thresholds
    assert_eq!(v["columns"][1]["threshold"], 0.025);
    assert_eq!(v["columns"][2]["threshold"], 0.1);

    let o = mlcycle(&[
        "drift",
        "--reference",
        r,
        "--current",
        c,
        "--methods",
        "all",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["columns"][0]["tests"].as_object().unwrap().len() > 5);
}

#[test]
fn missing_values_and_late_text_columns() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(
        dir.path(),
        "ref.csv",
        "a,b,c\n1,10,x\n2,11,\n NaN ,12,y\ninf,1,NA\n3,a,x\n4,b,y\n",
    );
    let c = write(
        dir.path(),
        "cur.csv",
        "c,a,b\nx,5,10\ny,,c\n,6,d\nx,-inf,10\n",
    );
    let o = mlcycle(&[
        "drift",
        "--reference",
        r.to_str().unwrap(),
        "--current",
        c.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let col = |n: &str| {
        v["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    let a = col("a");
    assert_eq!(a["kind"], "numeric");
    assert_eq!(
        (a["n_reference"].clone(), a["missing_reference"].clone()),
        (4.into(), 2.into())
    );
    assert_eq!(
        (a["n_current"].clone(), a["missing_current"].clone()),
        (2.into(), 2.into())
    );
    // `b` starts with numbers and turns to text: every value becomes a category
    let b = col("b");
    assert_eq!(b["kind"], "categorical");
    assert_eq!(b["n_reference"], 6);
    assert_eq!(b["n_current"], 4);
    let c = col("c");
    assert_eq!(
        (c["missing_reference"].clone(), c["missing_current"].clone()),
        (2.into(), 1.into())
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", "x,k\n1,a\n2,b\n3,a\n");
    let g = good.to_str().unwrap();
    let run = |r: &str, c: &str, extra: &[&str]| {
        let mut a = vec!["drift", "--reference", r, "--current", c];
        a.extend_from_slice(extra);
        mlcycle(&a)
    };
    let missing = dir.path().join("nope.csv");
    fails_with(&run(missing.to_str().unwrap(), g, &[]), "nope.csv");
    let other = write(dir.path(), "other.csv", "y,z\n1,2\n");
    fails_with(
        &run(g, other.to_str().unwrap(), &[]),
        "no column names in common",
    );
    let text = write(dir.path(), "text.csv", "x,k\nlow,a\nhigh,b\n");
    let o = run(g, text.to_str().unwrap(), &[]);
    fails_with(&o, "column `x` is numeric");
    fails_with(&o, "--categorical x");
    // ... and the suggested fix works
    let o = run(g, text.to_str().unwrap(), &["--categorical", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let empty_col = write(dir.path(), "emptycol.csv", "x,k\n,a\nNA,b\n");
    fails_with(
        &run(g, empty_col.to_str().unwrap(), &[]),
        "column `x` has no finite values in the current data",
    );
    let empty = write(dir.path(), "empty.csv", "");
    fails_with(&run(g, empty.to_str().unwrap(), &[]), "empty");
    let header_only = write(dir.path(), "header.csv", "x,k\n");
    fails_with(&run(g, header_only.to_str().unwrap(), &[]), "no data rows");
    let ragged = write(dir.path(), "ragged.csv", "x,k\n1,a\n2\n");
    fails_with(&run(g, ragged.to_str().unwrap(), &[]), "fields");
    fails_with(
        &run(g, g, &["--methods", "ks,bogus"]),
        "unknown method `bogus`",
    );
    fails_with(&run(g, g, &["--drift-share", "2"]), "drift share");
    fails_with(&run(g, g, &["--categorical", "nothere"]), "nothere");
    fails_with(&run(g, g, &["--threshold", "x"]), "COLUMN=VALUE");
    fails_with(&run(g, g, &["--column-method", "k=ks"]), "column `k`");
    let o = run(g, g, &["--binning", "weird"]);
    assert!(!o.status.success());
}

/// Shares of each non-empty `city` value of a [`sample_csv`] text.
fn city_shares(csv: &str) -> std::collections::BTreeMap<String, f64> {
    let mut counts = std::collections::BTreeMap::new();
    let mut n = 0.0;
    for line in csv.lines().skip(1) {
        let city = line.rsplit(',').next().unwrap();
        if !city.is_empty() {
            *counts.entry(city.to_string()).or_insert(0.0) += 1.0;
            n += 1.0;
        }
    }
    counts.values_mut().for_each(|c| *c /= n);
    counts
}

#[test]
fn contract_method_names_energy_distance_tvd_chi2_contingency() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, ct) = (sample_csv(600, 0.0, 1), sample_csv(500, 2.0, 2));
    let r = write(dir.path(), "ref.csv", &rt);
    let c = write(dir.path(), "cur.csv", &ct);
    let run = |methods: &str| -> Value {
        let o = mlcycle(&[
            "drift",
            "--reference",
            r.to_str().unwrap(),
            "--current",
            c.to_str().unwrap(),
            "--methods",
            methods,
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = run("energy_distance,tvd,chi2_contingency");
    let cols = v["columns"].as_array().unwrap();
    let x = &cols[0];
    assert_eq!(x["method"], "energy_distance");
    let ed = x["tests"]["energy_distance"]["statistic"].as_f64().unwrap();
    assert!(ed > 0.5, "x is shifted by 2: {ed}");
    let city = &cols[2];
    assert_eq!(city["method"], "tvd");
    let keys: Vec<&str> = city["tests"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["chi2_contingency", "tvd"]);
    // `tvd` reports the total variation distance as its statistic
    let (rs, cs) = (city_shares(&rt), city_shares(&ct));
    let expected: f64 = 0.5
        * rs.keys()
            .chain(cs.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|k| (rs.get(k).unwrap_or(&0.0) - cs.get(k).unwrap_or(&0.0)).abs())
            .sum::<f64>();
    let tvd = city["tests"]["tvd"]["statistic"].as_f64().unwrap();
    assert!((tvd - expected).abs() < 1e-12, "{tvd} vs {expected}");
    let p = city["tests"]["tvd"]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert_eq!(
        city["p_value"].as_f64().unwrap(),
        p,
        "tvd decides by its p-value"
    );
    let chi = &city["tests"]["chi2_contingency"];
    assert!(chi["statistic"].as_f64().unwrap() >= 0.0);
    assert!((0.0..=1.0).contains(&chi["p_value"].as_f64().unwrap()));
    // the Evidently spellings stay as aliases; the key is the contract name
    let v = run("ed,TVD");
    let cols = v["columns"].as_array().unwrap();
    assert!(cols[0]["tests"]["energy_distance"].is_object());
    assert!(cols[0]["tests"].get("ed").is_none());
    assert_eq!(cols[2]["tests"]["tvd"]["statistic"].as_f64().unwrap(), tvd);
    // and `all` runs the three
    let v = run("all");
    let cols = v["columns"].as_array().unwrap();
    assert!(cols[0]["tests"]["energy_distance"].is_object());
    assert!(cols[2]["tests"]["tvd"].is_object());
    assert!(cols[2]["tests"]["chi2_contingency"].is_object());
}

#[test]
fn exclude_fail_on_drift_and_the_files_in_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "ref.csv", &sample_csv(2_000, 0.0, 1));
    let c = write(dir.path(), "cur.csv", &sample_csv(2_000, 3.0, 2));
    let (rs, cs) = (r.to_str().unwrap(), c.to_str().unwrap());
    let base = ["drift", "--reference", rs, "--current", cs];
    // The JSON names its input files and the columns left out.
    let mut a = base.to_vec();
    a.extend(["--format", "json", "--exclude", "n,city"]);
    let o = mlcycle(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reference"], rs);
    assert_eq!(v["current"], cs);
    assert_eq!(v["excluded"], serde_json::json!(["n", "city"]));
    let names: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x"]);
    assert_eq!(v["dataset_drift"], true);
    // --fail-on-drift: exit 3 on drift, after the report; 0 without drift.
    let mut a = base.to_vec();
    a.extend(["--exclude", "n", "--exclude", "city", "--fail-on-drift"]);
    let o = mlcycle(&a);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Left out: n, city"), "{text}");
    let o = mlcycle(&[
        "drift",
        "--reference",
        rs,
        "--current",
        rs,
        "--fail-on-drift",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // An unknown column to leave out is an error.
    let mut a = base.to_vec();
    a.extend(["--exclude", "nope"]);
    fails_with(&mlcycle(&a), "--exclude");
}

#[test]
fn all_methods_as_text_fit_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "ref.csv", &sample_csv(1_000, 0.0, 1));
    let c = write(dir.path(), "cur.csv", &sample_csv(1_000, 1.0, 2));
    let o = mlcycle(&[
        "drift",
        "--reference",
        r.to_str().unwrap(),
        "--current",
        c.to_str().unwrap(),
        "--methods",
        "all",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let section = text
        .split("All methods")
        .nth(1)
        .expect("an all-methods section");
    assert!(section.contains("wasserstein"), "{section}");
    for l in section.lines() {
        assert!(l.chars().count() <= 100, "{} chars: {l}", l.chars().count());
    }
}
