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
pub struct Tests(Vec<(String, TestOutcome)>);

impl Tests {
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

impl Serialize for Tests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Tests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tests;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of method name to test outcome")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Tests, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, TestOutcome>()? {
                    out.push((k, v));
                }
                Ok(Tests(out))
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

/// The drift result of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub name: String,
    /// `numeric` or `categorical`.
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
    pub tests: Tests,
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
    /// The drifted columns.
    pub fn drifted(&self) -> impl Iterator<Item = &ColumnDrift> {
        self.columns.iter().filter(|c| c.drift)
    }

    /// A column's result, by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.name == name)
    }
}
