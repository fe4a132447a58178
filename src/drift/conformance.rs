//! The drift-detector conformance suite: every [`DriftDetector`] must pass it (feature
//! `conformance`).

use super::{DatasetProfile, DriftDetector, DriftReport};
use crate::conformance_support::{check, outcome, step};
use crate::data::{Dataset, Feature, Schema};
use crate::{Error, Result};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SUITE: &str = "drift detector";
const ROWS: usize = 300;
const LEVELS: [&str; 3] = ["red", "green", "blue"];

fn schema(names: [&str; 3]) -> Schema {
    // Three distinct names and no target: a valid schema by construction.
    Schema::new(
        vec![
            Feature::numeric(names[0]),
            Feature::numeric(names[1]),
            Feature::categorical(names[2], LEVELS),
        ],
        None,
    )
    .expect("a valid schema")
}

/// `ROWS` rows: `x1` and `x2` roughly standard normal (a sum of uniforms), `colour` spread
/// over its three levels; reproducible from `seed`.
fn values(seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = move || (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
    Array2::from_shape_fn((ROWS, 3), |(i, j)| match j {
        2 => (i % 3) as f64,
        _ => normal(),
    })
}

fn dataset(names: [&str; 3], x: Array2<f64>) -> Dataset {
    // Finite values and valid level codes: a valid dataset by construction.
    Dataset::new(schema(names), x, None, None).expect("a valid dataset")
}

const NAMES: [&str; 3] = ["x1", "x2", "colour"];

/// Run the drift-detector contract against `detector`.
///
/// Checks, on small datasets of its own (300 rows; two numeric columns and a categorical
/// one):
/// - the same data (rows in another order) shows no drift, on any column or the dataset;
/// - a strong shift of one column (numeric: +4 standard deviations; categorical: every
///   row on one level) is drift on that column and on no unchanged column;
/// - the report has one column per feature, named as the reference's, in schema order;
/// - missing values are dropped and counted (`missing_current`, `n_current`);
/// - a column with no values is an error naming the column;
/// - different feature columns are an [`Error::SchemaMismatch`];
/// - the result is deterministic for the same inputs;
/// - [`DriftDetector::detect_from_profile`] either declines with [`Error::InvalidInput`]
///   or follows the same rules for the same data.
///
/// # Panics
/// On the first broken property, with a short message naming it and why (it is a test
/// suite).
pub async fn drift_conformance(detector: &dyn DriftDetector) {
    let reference = dataset(NAMES, values(11));
    no_drift_on_the_same_data(detector, &reference).await;
    drift_on_a_shifted_column(detector, &reference).await;
    missing_values(detector, &reference).await;
    bad_input(detector, &reference).await;
    deterministic(detector, &reference).await;
    from_profile(detector, &reference).await;
}

async fn detect(
    detector: &dyn DriftDetector,
    property: &str,
    reference: &Dataset,
    current: &Dataset,
) -> DriftReport {
    step(
        SUITE,
        property,
        "detect",
        detector.detect(reference, current).await,
    )
}

fn columns_match(property: &str, report: &DriftReport) {
    let names: Vec<&str> = report.columns.iter().map(|c| c.name.as_str()).collect();
    check(SUITE, property, names == NAMES, || {
        format!("report columns {names:?}, expected {NAMES:?}")
    });
}

fn no_drift(property: &str, report: &DriftReport) {
    columns_match(property, report);
    let drifted: Vec<&str> = report.drifted().map(|c| c.name.as_str()).collect();
    check(SUITE, property, drifted.is_empty(), || {
        format!("columns {drifted:?} drifted")
    });
    check(
        SUITE,
        property,
        !report.dataset_drift,
        || "the dataset drifted",
    );
}

async fn no_drift_on_the_same_data(detector: &dyn DriftDetector, reference: &Dataset) {
    let property = "the same data shows no drift";
    let reversed = {
        let mut x = reference.features().to_owned();
        x.invert_axis(ndarray::Axis(0));
        dataset(NAMES, x)
    };
    for current in [reference, &reversed] {
        let report = detect(detector, property, reference, current).await;
        no_drift(property, &report);
    }
}

async fn drift_on_a_shifted_column(detector: &dyn DriftDetector, reference: &Dataset) {
    for (col, shifted) in [(0usize, "x1"), (2, "colour")] {
        let property = format!("a strong shift of `{shifted}` is drift on `{shifted}` only");
        let mut x = reference.features().to_owned();
        x.column_mut(col)
            .mapv_inplace(|v| if col == 2 { 0.0 } else { v + 4.0 });
        let report = detect(detector, &property, reference, &dataset(NAMES, x)).await;
        columns_match(&property, &report);
        for c in &report.columns {
            let expected = c.name == shifted;
            check(SUITE, &property, c.drift == expected, || {
                format!(
                    "column `{}` drift = {} ({} {}, threshold {})",
                    c.name, c.drift, c.method, c.statistic, c.threshold
                )
            });
        }
    }
}

async fn missing_values(detector: &dyn DriftDetector, reference: &Dataset) {
    let property = "missing values are dropped and counted";
    let mut x = reference.features().to_owned();
    for i in 0..10 {
        x[[i * 7, 1]] = f64::NAN;
    }
    let report = detect(detector, property, reference, &dataset(NAMES, x)).await;
    columns_match(property, &report);
    let c = &report.columns[1];
    check(
        SUITE,
        property,
        c.missing_current == 10 && c.n_current == ROWS - 10,
        || {
            format!(
                "column `x2` with 10 of {ROWS} values missing reports missing_current = {}, n_current = {}",
                c.missing_current, c.n_current
            )
        },
    );
    check(
        SUITE,
        property,
        c.missing_reference == 0 && c.n_reference == ROWS,
        || {
            format!(
                "the complete reference column reports missing_reference = {}, n_reference = {}",
                c.missing_reference, c.n_reference
            )
        },
    );

    let property = "a column with no values is an error naming it";
    let mut x = reference.features().to_owned();
    x.column_mut(1).fill(f64::NAN);
    let r = detector.detect(reference, &dataset(NAMES, x)).await;
    check(
        SUITE,
        property,
        matches!(&r, Err(e) if e.to_string().contains("x2")),
        || format!("an empty `x2` gave {}", outcome(&r)),
    );
}

async fn bad_input(detector: &dyn DriftDetector, reference: &Dataset) {
    let property = "different feature columns are a SchemaMismatch";
    let renamed = dataset(["x1", "other", "colour"], values(12));
    let r = detector.detect(reference, &renamed).await;
    check(
        SUITE,
        property,
        matches!(r, Err(Error::SchemaMismatch(_))),
        || format!("a renamed column gave {}", outcome(&r)),
    );
    let fewer = Dataset::new(
        Schema::new(vec![Feature::numeric("x1")], None).expect("a valid schema"),
        values(13).slice(ndarray::s![.., 0..1]).to_owned(),
        None,
        None,
    )
    .expect("a valid dataset");
    let r = detector.detect(reference, &fewer).await;
    check(
        SUITE,
        property,
        matches!(r, Err(Error::SchemaMismatch(_))),
        || format!("a missing column gave {}", outcome(&r)),
    );
}

async fn deterministic(detector: &dyn DriftDetector, reference: &Dataset) {
    let property = "the result is deterministic";
    let current = dataset(NAMES, values(14));
    let a = detect(detector, property, reference, &current).await;
    let b = detect(detector, property, reference, &current).await;
    // Compared as JSON: statistics may be NaN, which never equals itself.
    let (ja, jb) = (json(&a), json(&b));
    check(
        SUITE,
        property,
        ja == jb,
        || "two runs on the same inputs gave different reports",
    );
}

fn json(report: &DriftReport) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| format!("unserialisable: {e}"))
}

async fn from_profile(detector: &dyn DriftDetector, reference: &Dataset) {
    let property = "detect_from_profile declines or follows the same rules";
    let profile = step(
        SUITE,
        property,
        "DatasetProfile::reference",
        DatasetProfile::reference(reference),
    );
    let r: Result<DriftReport> = detector.detect_from_profile(&profile, reference).await;
    match r {
        Err(Error::InvalidInput { .. }) => {}
        Ok(report) => {
            no_drift(property, &report);
            let mut x = reference.features().to_owned();
            x.column_mut(0).mapv_inplace(|v| v + 4.0);
            let shifted = dataset(NAMES, x);
            let r = detector.detect_from_profile(&profile, &shifted).await;
            let report = step(SUITE, property, "detect_from_profile", r);
            check(
                SUITE,
                property,
                report.column("x1").is_some_and(|c| c.drift),
                || "a strong shift of `x1` was not drift against the profile",
            );
        }
        Err(e) => check(SUITE, property, false, || {
            format!(
                "expected a report or InvalidInput, got {}",
                outcome::<()>(&Err(e))
            )
        }),
    }
}
