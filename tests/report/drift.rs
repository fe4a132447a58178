//! The drift report page: library and `mlcycle drift --format html`.

use crate::{assert_self_contained, assert_snapshot};
use mlcycle::drift::stats::CategoricalSummary;
use mlcycle::drift::{
    ColumnInput, ColumnValues, DriftDetector, StatisticalDriftConfig, StatisticalDriftDetector,
};
use mlcycle::report::{DriftReportMeta, drift_html, drift_html_datasets};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::process::Command;

/// Deterministic pseudo-random numbers in [0, 1).
fn uniform(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

struct Columns {
    income_ref: Vec<f64>,
    income_cur: Vec<f64>,
    age_ref: Vec<f64>,
    age_cur: Vec<f64>,
    plan_ref: CategoricalSummary,
    plan_cur: CategoricalSummary,
}

fn columns() -> Columns {
    let n = 2_000;
    // income: bell-shaped (sum of uniforms), current shifted up by 40%; some missing
    let bell = |seed: u64, scale: f64| -> Vec<f64> {
        let (a, b, c) = (uniform(n, seed), uniform(n, seed + 1), uniform(n, seed + 2));
        (0..n)
            .map(|i| {
                if i % 50 == 3 {
                    f64::NAN
                } else {
                    scale * (a[i] + b[i] + c[i]) * 20_000.0
                }
            })
            .collect()
    };
    let plans = |seed: u64, premium: f64| {
        let u = uniform(n, seed);
        CategoricalSummary::from_labels(u.iter().map(|x| {
            Some(if *x < premium {
                "premium"
            } else if *x < 0.6 {
                "standard"
            } else {
                "basic <legacy>"
            })
        }))
    };
    Columns {
        income_ref: bell(10, 1.0),
        income_cur: bell(20, 1.4),
        age_ref: uniform(n, 30).iter().map(|u| 18.0 + 60.0 * u).collect(),
        age_cur: uniform(n, 40).iter().map(|u| 18.0 + 60.0 * u).collect(),
        plan_ref: plans(50, 0.2),
        plan_cur: plans(60, 0.22),
    }
}

fn inputs(c: &Columns) -> Vec<ColumnInput<'_>> {
    vec![
        ColumnInput {
            name: "age",
            reference: ColumnValues::numeric(&c.age_ref),
            current: ColumnValues::numeric(&c.age_cur),
        },
        ColumnInput {
            name: "plan",
            reference: ColumnValues::Categorical(Cow::Borrowed(&c.plan_ref)),
            current: ColumnValues::Categorical(Cow::Borrowed(&c.plan_cur)),
        },
        ColumnInput {
            name: "income",
            reference: ColumnValues::numeric(&c.income_ref),
            current: ColumnValues::numeric(&c.income_cur),
        },
    ]
}

#[test]
fn drift_page_matches_its_snapshot_and_puts_drifted_columns_first() {
    let c = columns();
    let cols = inputs(&c);
    let detector = StatisticalDriftDetector::new(StatisticalDriftConfig::evidently()).unwrap();
    let report = detector.detect_columns(&cols).unwrap();
    assert!(report.column("income").unwrap().drift);
    assert!(!report.column("age").unwrap().drift);
    let meta = DriftReportMeta::new("train.csv", "week-12.csv", detector.config());
    let html = drift_html(&report, &cols, &meta);
    assert_self_contained(&html);
    // same input, same bytes
    assert_eq!(html, drift_html(&report, &cols, &meta));
    // summary, per-column facts, charts with legends and axis titles
    for needle in [
        "Dataset drift",
        "Drifted columns",
        "Correction",
        "week-12.csv",
        "missing (ref)",
        "share of rows (%)",
        ">reference<",
        ">current<",
        "basic &lt;legacy&gt;",
    ] {
        assert!(html.contains(needle), "`{needle}` missing");
    }
    assert_eq!(html.matches("<svg").count(), 3);
    // income (drifted) is the first column section, age after it
    let income = html.find("<h3>income").unwrap();
    let age = html.find("<h3>age").unwrap();
    assert!(income < age);
    // each column's missing counts are on the page
    let income_col = report.column("income").unwrap();
    assert_eq!(income_col.missing_reference, 40);
    assert!(html.contains("missing: 40 reference (2.0%)"));
    assert_snapshot("drift.html", &html);
}

#[test]
fn drift_page_from_datasets_draws_categorical_levels() {
    let g = CreditDefault::new(5);
    let reference = g.sample(2_000, &DriftSpec::none(), 0).unwrap();
    let current = g.sample(2_000, &DriftSpec::downturn(1.0), 1).unwrap();
    let detector = StatisticalDriftDetector::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(detector.detect(&reference, &current)).unwrap();
    let meta = DriftReportMeta::new("training", "window", detector.config());
    let html = drift_html_datasets(&report, &reference, &current, &meta).unwrap();
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), report.columns.len());
    for f in &reference.schema().features {
        assert!(
            html.contains(&format!("<h3>{}", f.name)),
            "{} missing",
            f.name
        );
        if let Some(levels) = f.levels() {
            assert!(levels.iter().any(|l| html.contains(&format!(">{l}<"))));
        }
    }
    // a report that does not belong to the datasets is refused, naming the column
    let mut other = report.clone();
    other.columns[0].name = "not_a_feature".into();
    let err = drift_html_datasets(&other, &reference, &current, &meta).unwrap_err();
    assert!(err.to_string().contains("not_a_feature"), "{err}");
}

fn csv(rows: usize, shift: f64, seed: u64) -> String {
    let u = uniform(rows * 3, seed);
    let mut s = String::from("x,n,city\n");
    for i in 0..rows {
        let x = if i % 97 == 5 {
            "NA".to_string()
        } else {
            format!("{:.6}", u[3 * i] * 10.0 + shift)
        };
        let n = (u[3 * i + 1] * 7.0) as u32;
        let city = ["Lyon", "Oslo", "Pune", "Lima"][(u[3 * i + 2] * 4.0) as usize];
        writeln!(s, "{x},{n},{city}").unwrap();
    }
    s
}

#[test]
fn mlcycle_drift_format_html_writes_the_page() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ref.csv"), csv(1_500, 0.0, 1)).unwrap();
    std::fs::write(dir.path().join("cur.csv"), csv(1_500, 3.0, 2)).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .current_dir(dir.path())
            .args([
                "drift",
                "--reference",
                "ref.csv",
                "--current",
                "cur.csv",
                "--correction",
                "bonferroni",
                "--format",
                "html",
                "--output",
                "drift.html",
            ])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("drift.html")).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("bonferroni"));
    assert!(html.find("<h3>x").unwrap() < html.find("<h3>n").unwrap());
    assert!(run().status.success());
    assert_eq!(
        html,
        std::fs::read_to_string(dir.path().join("drift.html")).unwrap(),
        "two runs on the same files wrote different bytes"
    );
    assert_snapshot("drift_cli.html", &html);
}
