//! [`DriftReport`]: the stable, serialisable result of a drift check.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The outcome of one method on one column.
///
/// Serialised as `{"statistic": x}`, plus `"p_value"` for tests with a p-value and `"raw"`
/// for the Wasserstein distance (`statistic` is then Evidently's normed distance
/// `W1 / max(std(reference), 0.001)` and `raw` the plain `W1`). Non-finite numbers (an
/// infinite chi-square statistic when a category is absent from the reference, a NaN
/// p-value with a single category) are written as `null` and read back as NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The statistic or distance.
    #[serde(deserialize_with = "nullable_f64")]
    pub statistic: f64,
    /// The p-value, for tests that have one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable_opt_f64"
    )]
    pub p_value: Option<f64>,
    /// The unnormalised value where `statistic` is normalised (Wasserstein: `W1`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable_opt_f64"
    )]
    pub raw: Option<f64>,
}

impl TestOutcome {
    /// A distance (no p-value).
    pub fn distance(statistic: f64) -> Self {
        TestOutcome {
            statistic,
            p_value: None,
            raw: None,
        }
    }

    /// A test with a p-value.
    pub fn test(statistic: f64, p_value: f64) -> Self {
        TestOutcome {
            statistic,
            p_value: Some(p_value),
            raw: None,
        }
    }
}

/// Every method computed on a column, keyed by method name (Evidently's names: `ks`,
/// `wasserstein`, `psi`, `jensenshannon`, `chisquare`, ...), in the order they were
/// requested. Serialised as a JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodOutcomes(Vec<(String, TestOutcome)>);

impl MethodOutcomes {
    /// The outcome of a method, by name.
    pub fn get(&self, method: &str) -> Option<&TestOutcome> {
        self.0.iter().find(|(m, _)| m == method).map(|(_, t)| t)
    }

    /// Add (or replace) a method's outcome.
    pub fn insert(&mut self, method: impl Into<String>, outcome: TestOutcome) {
        let method = method.into();
        match self.0.iter_mut().find(|(m, _)| *m == method) {
            Some(slot) => slot.1 = outcome,
            None => self.0.push((method, outcome)),
        }
    }

    /// Iterate over `(method, outcome)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TestOutcome)> {
        self.0.iter().map(|(m, t)| (m.as_str(), t))
    }

    /// Number of methods.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if no method was computed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for MethodOutcomes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MethodOutcomes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MethodOutcomes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of method name to test outcome")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<MethodOutcomes, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, TestOutcome>()? {
                    out.push((k, v));
                }
                Ok(MethodOutcomes(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn nullable_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nullable_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    // a present `null` is a NaN p-value (e.g. chi-square with one category)
    Ok(Some(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
}

pub use super::stats::ColumnKind;

/// The drift result of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub name: String,
    /// `numeric` or `categorical` ([`ColumnKind::as_str`]; see [`ColumnDrift::column_kind`]).
    pub kind: String,
    /// Finite reference values used.
    pub n_reference: usize,
    /// Finite current values used.
    pub n_current: usize,
    /// Missing reference values dropped (NaN and ±inf).
    pub missing_reference: usize,
    /// Missing current values dropped (NaN and ±inf): a surge is a data-quality signal.
    pub missing_current: usize,
    /// The method that decided the column (Evidently's name).
    pub method: String,
    /// The deciding method's statistic (normed distance for `wasserstein`).
    #[serde(deserialize_with = "nullable_f64")]
    pub statistic: f64,
    /// The deciding method's p-value, for tests that have one.
    pub p_value: Option<f64>,
    /// The threshold the decision used (after any multiple-testing correction).
    #[serde(deserialize_with = "nullable_f64")]
    pub threshold: f64,
    /// Whether the column drifted.
    pub drift: bool,
    /// Every requested method that applies to the column's kind, the deciding one included.
    #[serde(default)]
    pub tests: MethodOutcomes,
}

impl ColumnDrift {
    /// The result of `method` on column `name`: `statistic` (and `p_value` for a test)
    /// against `threshold`, with `drift` its verdict. The counts start at zero (set them
    /// with [`ColumnDrift::with_counts`]) and `tests` holds this one method.
    ///
    /// ```
    /// use mlcycle::drift::{ColumnDrift, ColumnKind, DriftReport};
    /// let age = ColumnDrift::new("age", ColumnKind::Numeric, "ks", 0.21, Some(0.001), 0.05, true)
    ///     .with_counts(5_000, 1_200, 0, 3);
    /// let plan = ColumnDrift::new("plan", ColumnKind::Categorical, "chisquare", 1.2, Some(0.55), 0.05, false);
    /// let report = DriftReport::from_columns(vec![age, plan], 0.5);
    /// assert!(report.dataset_drift);
    /// assert_eq!(report.columns[0].kind, "numeric");
    /// assert_eq!(report.columns[0].tests.get("ks").unwrap().p_value, Some(0.001));
    /// ```
    pub fn new(
        name: impl Into<String>,
        kind: ColumnKind,
        method: impl Into<String>,
        statistic: f64,
        p_value: Option<f64>,
        threshold: f64,
        drift: bool,
    ) -> Self {
        let method = method.into();
        let mut tests = MethodOutcomes::default();
        tests.insert(
            method.clone(),
            TestOutcome {
                statistic,
                p_value,
                raw: None,
            },
        );
        ColumnDrift {
            name: name.into(),
            kind: kind.as_str().into(),
            n_reference: 0,
            n_current: 0,
            missing_reference: 0,
            missing_current: 0,
            method,
            statistic,
            p_value,
            threshold,
            drift,
            tests,
        }
    }

    /// Set the finite values used and the missing values dropped, on each side.
    pub fn with_counts(
        mut self,
        n_reference: usize,
        n_current: usize,
        missing_reference: usize,
        missing_current: usize,
    ) -> Self {
        self.n_reference = n_reference;
        self.n_current = n_current;
        self.missing_reference = missing_reference;
        self.missing_current = missing_current;
        self
    }

    /// [`ColumnDrift::kind`] as a [`ColumnKind`] (`None` for a string neither kind spells).
    pub fn column_kind(&self) -> Option<ColumnKind> {
        match self.kind.as_str() {
            "numeric" => Some(ColumnKind::Numeric),
            "categorical" => Some(ColumnKind::Categorical),
            _ => None,
        }
    }
}

/// The drift result of a dataset.
///
/// Its JSON form is a stable contract:
/// ```text
/// {"columns": [{"name": "...", "kind": "numeric|categorical", "n_reference": N,
///               "n_current": N, "missing_reference": N, "missing_current": N,
///               "method": "...", "statistic": x, "p_value": x|null, "threshold": x,
///               "drift": bool, "tests": {"ks": {"statistic": D, "p_value": p}, ...}}],
///  "drifted_columns": N, "share_drifted": x, "drift_share": x, "dataset_drift": bool}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Per-column results, in input (schema) order.
    pub columns: Vec<ColumnDrift>,
    /// Number of drifted columns.
    pub drifted_columns: usize,
    /// `drifted_columns / columns`.
    pub share_drifted: f64,
    /// The share of drifted columns at which the dataset counts as drifted.
    pub drift_share: f64,
    /// Whether the dataset drifted (`share_drifted ≥ drift_share`).
    pub dataset_drift: bool,
}

impl DriftReport {
    /// A report from per-column results: counts the drifted columns and applies the
    /// dataset rule (drifted when `share_drifted ≥ drift_share`), as the built-in detector
    /// does.
    pub fn from_columns(columns: Vec<ColumnDrift>, drift_share: f64) -> Self {
        let drifted_columns = columns.iter().filter(|c| c.drift).count();
        let share_drifted = if columns.is_empty() {
            0.0
        } else {
            drifted_columns as f64 / columns.len() as f64
        };
        DriftReport {
            columns,
            drifted_columns,
            share_drifted,
            drift_share,
            dataset_drift: share_drifted >= drift_share,
        }
    }

    /// The drifted columns.
    pub fn drifted(&self) -> impl Iterator<Item = &ColumnDrift> {
        self.columns.iter().filter(|c| c.drift)
    }

    /// A column's result, by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.name == name)
    }
}
