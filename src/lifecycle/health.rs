//! Health that decides: limits on a monitoring window's p99 latency and traffic volume, and
//! an active probe that scores a typical reference row through the deployed model each
//! cycle ("can it still predict?"). A breach raises a `health` alert; it does not change the
//! drift verdict. (The failed-call limit, `LifecycleConfig::max_error_rate`, is judged with
//! the decision.)

use super::Lifecycle;
use super::decide::AlertSpec;
use super::monitoring::StoredReference;
use super::observer::{AlertKind, Severity};
use crate::data::{Dataset, FeatureKind, Schema};
use crate::deploy::ScoreRequest;
use crate::drift::DatasetProfile;
use crate::monitor::HealthReport;
use serde::{Deserialize, Serialize};

/// Request ids of probe calls start with this (they are real scoring calls, logged as such).
pub const PROBE_REQUEST_PREFIX: &str = "probe-";

/// Health limits of a monitoring window (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthLimits {
    /// A `health` alert when the window's p99 scoring latency exceeds this many milliseconds.
    #[serde(default)]
    pub max_p99_latency_ms: Option<f64>,
    /// A `health` alert when the window holds fewer scoring calls than this (traffic
    /// stopped, or a client lost its way).
    #[serde(default)]
    pub min_requests: Option<usize>,
    /// Score one typical reference row through the deployed model every cycle; a failure
    /// (or nothing deployed while a version is in production) raises a critical `health`
    /// alert.
    #[serde(default)]
    pub probe: bool,
}

/// The `health` alerts the limits raise for a window's figures (pure).
pub fn health_alerts(h: &HealthReport, limits: &HealthLimits) -> Vec<AlertSpec> {
    let mut out = Vec::new();
    if let Some(min) = limits.min_requests
        && h.requests < min
    {
        out.push(AlertSpec {
            severity: Severity::Warning,
            kind: AlertKind::Health,
            message: format!(
                "traffic volume: {} scoring call(s) in the window, fewer than the {min} expected",
                h.requests
            ),
        });
    }
    if let Some(max) = limits.max_p99_latency_ms
        && h.requests > 0
        && h.latency_p99_us as f64 > max * 1_000.0
    {
        out.push(AlertSpec {
            severity: Severity::Warning,
            kind: AlertKind::Health,
            message: format!(
                "p99 latency {:.1} ms over {} calls exceeds the limit of {max} ms",
                h.latency_p99_us as f64 / 1_000.0,
                h.requests
            ),
        });
    }
    out
}

/// One typical row of the model's inputs from a reference profile: the mean of each numeric
/// column, the most frequent level of each categorical one (missing where the profile has
/// nothing to say), encoded as the model expects.
pub fn typical_row(profile: &DatasetProfile, inputs: &Schema) -> Vec<f64> {
    use crate::data::ColumnSummary;
    inputs
        .features
        .iter()
        .map(|f| {
            let summary = profile
                .columns
                .iter()
                .find(|c| c.name == f.name)
                .map(|c| &c.summary);
            match (&f.kind, summary) {
                (FeatureKind::Numeric, Some(ColumnSummary::Numeric(n))) if n.mean.is_finite() => {
                    n.mean
                }
                (FeatureKind::Categorical { levels }, Some(ColumnSummary::Categorical(c))) => c
                    .counts
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .and_then(|(label, _)| levels.iter().position(|l| l == label))
                    .map_or(f64::NAN, |i| i as f64),
                _ => f64::NAN,
            }
        })
        .collect()
}

/// Where the probe row comes from.
pub(super) enum ProbeSource<'a> {
    /// The serving version's training data: its first row.
    Data(&'a Dataset),
    /// The reference profile stored with the version.
    Profile(&'a StoredReference),
}

impl Lifecycle {
    /// Score one reference row through the deployed model; the alert to raise when that
    /// fails, if any.
    pub(super) async fn probe(&self, source: ProbeSource<'_>, trace: &str) -> Option<AlertSpec> {
        let critical = |message: String| AlertSpec {
            severity: Severity::Critical,
            kind: AlertKind::Health,
            message,
        };
        if self.deployer.current().await.is_none() {
            return Some(critical(format!(
                "probe: nothing is deployed although {}@{} names a version",
                self.config.model_name, self.config.serving_alias
            )));
        }
        let rows = match source {
            ProbeSource::Data(d) if d.n_rows() > 0 => {
                d.features().slice(ndarray::s![0..1, ..]).to_owned()
            }
            ProbeSource::Data(_) => return None,
            ProbeSource::Profile(p) => {
                let row = typical_row(&p.profile, &p.inputs);
                match ndarray::Array2::from_shape_vec((1, row.len()), row) {
                    Ok(r) => r,
                    Err(_) => return None,
                }
            }
        };
        match self
            .deployer
            .predict(ScoreRequest {
                rows,
                request_id: Some(format!("{PROBE_REQUEST_PREFIX}{trace}")),
            })
            .await
        {
            Ok(_) => None,
            Err(e) => Some(critical(format!(
                "probe: the deployed model could not score a reference row: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(requests: usize, p99_us: u64) -> HealthReport {
        HealthReport {
            requests,
            rows: requests,
            errors: 0,
            error_rate: 0.0,
            latency_p50_us: p99_us / 2,
            latency_p99_us: p99_us,
            versions: vec![1],
        }
    }

    #[test]
    fn no_limits_no_alerts() {
        assert!(health_alerts(&health(0, 10_000_000), &HealthLimits::default()).is_empty());
    }

    #[test]
    fn volume_and_latency_limits_raise_health_alerts_at_the_boundary() {
        let limits = HealthLimits {
            max_p99_latency_ms: Some(5.0),
            min_requests: Some(100),
            probe: false,
        };
        assert!(health_alerts(&health(100, 5_000), &limits).is_empty());
        let a = health_alerts(&health(99, 5_001), &limits);
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|a| a.kind == AlertKind::Health));
        assert!(
            a[0].message.contains("99 scoring call(s)"),
            "{}",
            a[0].message
        );
        assert!(
            a[1].message.contains("p99 latency 5.0 ms"),
            "{}",
            a[1].message
        );
        // No calls: the volume alert only (no latency to judge).
        let a = health_alerts(&health(0, 0), &limits);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn the_typical_row_takes_means_and_the_most_frequent_level() {
        use crate::data::{Feature, Schema};
        let data = Dataset::new(
            Schema::new(
                vec![
                    Feature {
                        name: "x".into(),
                        kind: FeatureKind::Numeric,
                    },
                    Feature {
                        name: "c".into(),
                        kind: FeatureKind::Categorical {
                            levels: vec!["a".into(), "b".into()],
                        },
                    },
                ],
                None,
            )
            .unwrap(),
            ndarray::array![[1.0, 1.0], [2.0, 1.0], [6.0, 0.0]],
            None,
            None,
        )
        .unwrap();
        let profile = DatasetProfile::reference(&data).unwrap();
        let row = typical_row(&profile, data.schema());
        assert_eq!(row, vec![3.0, 1.0]);
    }
}
