//! The monitoring decision, as a pure function: from what a window showed, the drift
//! episode so far and the policy, what to do and the episode state after it.
//!
//! [`decide`] does no I/O and reads no clock; the monitoring stage gathers its inputs
//! (the window's report, the state, the settings), calls it, then acts (records, alerts,
//! retrains). Retraining needs labelled data the stage fetches afterwards;
//! [`retrain_data_verdict`] judges whether there is enough of it.

use super::config::{LifecycleConfig, RetrainPolicy};
use super::observer::{AlertKind, Severity};
use crate::monitor::MonitorReport;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The drift episode and cooldown state carried from one monitoring window to the next.
/// A plain value: persist it to resume monitoring where it stood.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeState {
    /// When a version was last deployed (the cooldown runs from here).
    pub last_deploy: Option<DateTime<Utc>>,
    /// End of the last monitoring window that showed no drift.
    pub last_clean: Option<DateTime<Utc>>,
    /// Where the current drift episode began (the end of the last clean window), if one
    /// is under way.
    pub drift_since: Option<DateTime<Utc>>,
}

impl EpisodeState {
    /// The state after a version was deployed at `at`.
    pub fn deployed(mut self, at: DateTime<Utc>) -> Self {
        self.last_deploy = Some(at);
        self
    }

    /// The state after a retrained version was promoted at the end of the window `to`: the
    /// episode is over and the window counts as clean.
    pub fn retrained(mut self, to: DateTime<Utc>) -> Self {
        self.drift_since = None;
        self.last_clean = Some(to);
        self
    }
}

/// What a monitoring window showed, as far as the decision is concerned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
    /// The version whose baseline the window was compared with.
    pub reference_version: u32,
    /// Why the drift check was skipped (too few rows), if it was.
    pub skipped: Option<String>,
    /// Data-quality faults, each as "`column` kind: detail".
    pub quality_faults: Vec<String>,
    /// Whether the dataset drifted.
    pub dataset_drift: bool,
    /// The drifted columns.
    pub drifted_columns: Vec<String>,
    /// Scoring calls in the window.
    pub requests: usize,
    /// Share of them that failed.
    pub error_rate: f64,
    /// Realized performance fell below the serving version's validation metrics beyond
    /// the configured limit: the metrics that got worse, in words (`None`: not degraded,
    /// or no labels to tell).
    #[serde(default)]
    pub performance_drop: Option<String>,
    /// The input drift matches the same window one season earlier (see
    /// [`crate::monitor::SeasonalityCheck`]): the seasonal columns and the earlier window,
    /// in words. `None`: no season configured, no drift, or a shift the season does not
    /// explain.
    #[serde(default)]
    pub seasonal_shift: Option<String>,
}

impl WindowSummary {
    /// The summary of a monitoring report over a window compared with `reference_version`.
    pub fn of(report: &MonitorReport, reference_version: u32) -> Self {
        WindowSummary {
            from: report.from,
            to: report.to,
            reference_version,
            skipped: report.skipped.clone(),
            quality_faults: report
                .quality_faults
                .iter()
                .map(|f| format!("`{}` {}: {}", f.column, f.kind.as_str(), f.detail))
                .collect(),
            dataset_drift: report.drift.as_ref().is_some_and(|d| d.dataset_drift),
            drifted_columns: report
                .drift
                .as_ref()
                .map(|d| d.drifted().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            requests: report.health.requests,
            error_rate: report.health.error_rate,
            performance_drop: report.performance.as_ref().filter(|p| p.degraded).map(|p| {
                format!(
                    "{} on {} labelled rows ({:.1}% coverage)",
                    p.worsened(0.0).join(", "),
                    p.labelled,
                    100.0 * p.coverage
                )
            }),
            seasonal_shift: report.seasonality.as_ref().filter(|s| s.expected).map(|s| {
                format!(
                    "{} drifted as in the same window one season earlier ({} to {}, {} rows)",
                    s.seasonal_columns.join(", "),
                    s.from.format("%Y-%m-%d %H:%M"),
                    s.to.format("%Y-%m-%d %H:%M"),
                    s.rows
                )
            }),
        }
    }
}

/// The settings the decision follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Retrain at once, or leave it to a human.
    pub retrain: RetrainPolicy,
    /// No drift-triggered retrain within this many days of the last deployment.
    pub cooldown_days: i64,
    /// At most this many days of labelled data are used to retrain.
    pub retrain_window_days: i64,
    /// Retrain only with at least this many labelled rows from after the drift began.
    pub retrain_min_rows: usize,
    /// Whether there is a source of labelled data to retrain from.
    pub can_retrain: bool,
    /// A health alert above this share of failed calls (`None`: none).
    pub max_error_rate: Option<f64>,
}

impl Policy {
    /// The policy of a lifecycle configured with `config`; `can_retrain` when it has a
    /// training data source.
    pub fn of(config: &LifecycleConfig, can_retrain: bool) -> Self {
        Policy {
            retrain: config.retrain_policy,
            cooldown_days: config.cooldown_days,
            retrain_window_days: config.retrain_window_days,
            retrain_min_rows: config.retrain_min_rows,
            can_retrain,
            max_error_rate: config.max_error_rate,
        }
    }
}

/// An alert the decision raises (the stage stamps it with the time, model and run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSpec {
    /// How serious.
    pub severity: Severity,
    /// About what.
    pub kind: AlertKind,
    /// In words.
    pub message: String,
}

/// What to do about a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Healthy, no drift.
    NoAction,
    /// Too little evidence to judge.
    Skipped {
        /// Why.
        reason: String,
    },
    /// A data-quality fault: alert, never retrain.
    DataQualityFault {
        /// What is wrong.
        reason: String,
    },
    /// Input drift that the season explains (the same shift one season earlier, inputs
    /// only, performance not degraded): expected, no action.
    ExpectedShift {
        /// The seasonal evidence.
        reason: String,
    },
    /// Real drift, no retrain now.
    DriftAlert {
        /// Why not.
        reason: String,
    },
    /// Real drift: retrain on labelled data from `[data_from, data_to)`.
    Retrain {
        /// Start of the retraining data (not before the drift began).
        data_from: DateTime<Utc>,
        /// Its end (the window's end).
        data_to: DateTime<Utc>,
        /// The drifted columns, comma-separated.
        drifted: String,
    },
}

/// The decision about one window: the verdict and the alerts to raise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// Alerts to raise, in order.
    pub alerts: Vec<AlertSpec>,
}

/// Decide what to do about `window` given the episode `state` and the `policy`; returns
/// the decision and the state after this window.
///
/// - A data-quality fault (see [`crate::monitor::quality`]) raises a critical alert and
///   never retrains (retraining on broken inputs is harmful: fix the pipeline); the
///   episode state is left alone. It is reported even when the window had too few rows
///   for a drift check (a volume drop, say).
/// - Otherwise a skipped check (too few rows) decides nothing and leaves the state alone.
/// - Realized performance below the serving version's validation metrics beyond the limit
///   (concept drift: the relation between inputs and outcome changed) is evidence of real
///   drift like input drift, even when no input column moved: it raises a `performance`
///   warning and is handled as drift below.
/// - Drift raises a warning, starts an episode (at the end of the last clean window, or
///   the window's start) or continues it, and retrains unless a version was deployed
///   within the cooldown, the policy leaves retraining to a human, or there is nothing to
///   retrain from. The retraining data starts where the episode began, at most
///   `retrain_window_days` before the window's end.
/// - Input drift that matches the same window one season earlier (with a configured season
///   length) is an expected shift: no alert, no action, and the window counts as clean —
///   unless realized performance dropped too, which is concept drift as above, or a drift
///   episode is under way (the shift has persisted since, so it is no season).
/// - A clean window ends any episode and becomes the last clean window.
/// - Above `max_error_rate` failed calls, a health alert is raised first, whatever else.
///
/// ```
/// use mlcycle::lifecycle::decide::{decide, EpisodeState, Policy, Verdict, WindowSummary};
/// use mlcycle::lifecycle::LifecycleConfig;
/// use chrono::{TimeZone, Utc};
/// let t = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
/// let window = WindowSummary {
///     from: t - chrono::Duration::days(1), to: t, reference_version: 1, skipped: None,
///     quality_faults: vec![], dataset_drift: false, drifted_columns: vec![],
///     requests: 500, error_rate: 0.0, performance_drop: None, seasonal_shift: None,
/// };
/// let policy = Policy::of(&LifecycleConfig::new("credit"), true);
/// let (decision, state) = decide(&window, &EpisodeState::default(), &policy);
/// assert_eq!(decision.verdict, Verdict::NoAction);
/// assert_eq!(state.last_clean, Some(t));
/// ```
pub fn decide(
    window: &WindowSummary,
    state: &EpisodeState,
    policy: &Policy,
) -> (Decision, EpisodeState) {
    let mut next = state.clone();
    let mut alerts = Vec::new();
    if let Some(max) = policy.max_error_rate
        && window.requests > 0
        && window.error_rate > max
    {
        alerts.push(AlertSpec {
            severity: Severity::Critical,
            kind: AlertKind::Health,
            message: format!(
                "{:.1}% of {} scoring calls failed (limit {:.1}%)",
                100.0 * window.error_rate,
                window.requests,
                100.0 * max
            ),
        });
    }
    // A shift that persists is no season: with a drift episode under way (a shift seen in
    // an earlier window and not resolved since), a match with one season earlier is not
    // enough.
    let seasonal = window.dataset_drift
        && window.performance_drop.is_none()
        && window.seasonal_shift.is_some()
        && state.drift_since.is_none();
    let real_shift = (window.dataset_drift && !seasonal) || window.performance_drop.is_some();
    if window.skipped.is_none() && window.quality_faults.is_empty() {
        if real_shift {
            if next.drift_since.is_none() {
                next.drift_since = Some(next.last_clean.unwrap_or(window.from).max(window.from));
            }
        } else {
            next.drift_since = None;
            next.last_clean = Some(window.to);
        }
    }
    let verdict = if !window.quality_faults.is_empty() {
        let reason = window.quality_faults.join("; ");
        alerts.push(AlertSpec {
            severity: Severity::Critical,
            kind: AlertKind::DataQuality,
            message: format!(
                "data-quality fault in production inputs ({reason}); not retraining — fix the upstream data"
            ),
        });
        Verdict::DataQualityFault { reason }
    } else if let Some(reason) = &window.skipped {
        Verdict::Skipped {
            reason: reason.clone(),
        }
    } else if let (true, Some(reason)) = (seasonal, &window.seasonal_shift) {
        Verdict::ExpectedShift {
            reason: reason.clone(),
        }
    } else if real_shift {
        let mut drifted = window.drifted_columns.join(", ");
        if window.dataset_drift {
            alerts.push(AlertSpec {
                severity: Severity::Warning,
                kind: AlertKind::Drift,
                message: format!(
                    "input drift against the training data of version {}: {drifted}",
                    window.reference_version
                ),
            });
        }
        if let Some(drop) = &window.performance_drop {
            alerts.push(AlertSpec {
                severity: Severity::Warning,
                kind: AlertKind::Performance,
                message: format!(
                    "realized performance below the validation metrics of version {}: {drop}{}",
                    window.reference_version,
                    if window.dataset_drift {
                        ""
                    } else {
                        " (concept drift: the inputs did not move)"
                    }
                ),
            });
            if !window.dataset_drift {
                drifted = format!("performance: {drop}");
            }
        }
        let cooling = next
            .last_deploy
            .is_some_and(|t| window.to - t < Duration::days(policy.cooldown_days));
        if cooling {
            Verdict::DriftAlert {
                reason: format!(
                    "a version was deployed less than {} days ago; waiting for its window to fill",
                    policy.cooldown_days
                ),
            }
        } else if policy.retrain == RetrainPolicy::RequireApproval {
            Verdict::DriftAlert {
                reason: "the retrain policy requires a human to start retraining".into(),
            }
        } else if policy.can_retrain {
            let onset = next.drift_since.unwrap_or(window.from);
            Verdict::Retrain {
                data_from: onset.max(window.to - Duration::days(policy.retrain_window_days)),
                data_to: window.to,
                drifted,
            }
        } else {
            Verdict::DriftAlert {
                reason: "no training data source is configured to retrain from".into(),
            }
        }
    } else {
        Verdict::NoAction
    };
    (Decision { verdict, alerts }, next)
}

/// Whether `rows` labelled rows from `since` are enough to retrain on: `None` if so, else
/// the reason the drift alert stands while data is collected.
pub fn retrain_data_verdict(rows: usize, since: DateTime<Utc>, policy: &Policy) -> Option<String> {
    (rows < policy.retrain_min_rows).then(|| {
        format!(
            "collecting data from after the drift began ({rows} of {} labelled rows since {})",
            policy.retrain_min_rows,
            since.format("%Y-%m-%d %H:%M")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap()
    }

    /// The window of day `d` (from day d-1 to day d).
    fn window(d: u32) -> WindowSummary {
        WindowSummary {
            from: day(d - 1),
            to: day(d),
            reference_version: 3,
            skipped: None,
            quality_faults: vec![],
            dataset_drift: false,
            drifted_columns: vec![],
            requests: 1_000,
            error_rate: 0.0,
            performance_drop: None,
            seasonal_shift: None,
        }
    }

    fn drifted(d: u32) -> WindowSummary {
        WindowSummary {
            dataset_drift: true,
            drifted_columns: vec!["income".into(), "age".into()],
            ..window(d)
        }
    }

    fn policy() -> Policy {
        Policy {
            retrain: RetrainPolicy::Automatic,
            cooldown_days: 7,
            retrain_window_days: 14,
            retrain_min_rows: 2_000,
            can_retrain: true,
            max_error_rate: None,
        }
    }

    #[test]
    fn a_clean_window_does_nothing_and_becomes_the_last_clean_one() {
        let (d, s) = decide(&window(5), &EpisodeState::default(), &policy());
        assert_eq!(d.verdict, Verdict::NoAction);
        assert!(d.alerts.is_empty());
        assert_eq!(s.last_clean, Some(day(5)));
        assert_eq!(s.drift_since, None);
    }

    #[test]
    fn drift_starts_an_episode_and_retrains_from_its_onset() {
        let state = EpisodeState {
            last_clean: Some(day(3)),
            last_deploy: Some(day(1)),
            drift_since: None,
        };
        // Day 10: deployed 9 days ago, past the cooldown.
        let (d, s) = decide(&drifted(10), &state, &policy());
        // The episode began at the later of the last clean window's end and this window's start.
        assert_eq!(s.drift_since, Some(day(9)));
        assert_eq!(
            d.verdict,
            Verdict::Retrain {
                data_from: day(9),
                data_to: day(10),
                drifted: "income, age".into()
            }
        );
        assert_eq!(d.alerts.len(), 1);
        assert_eq!(d.alerts[0].kind, AlertKind::Drift);
        assert_eq!(d.alerts[0].severity, Severity::Warning);
        assert!(d.alerts[0].message.contains("version 3: income, age"));
    }

    #[test]
    fn an_episode_continues_from_where_it_began_within_the_retrain_window() {
        let state = EpisodeState {
            drift_since: Some(day(2)),
            last_clean: Some(day(2)),
            last_deploy: None,
        };
        let (d, s) = decide(&drifted(20), &state, &policy());
        assert_eq!(s.drift_since, Some(day(2)), "the onset stays where it was");
        // At most 14 days of data: from day 6, not day 2.
        assert!(matches!(d.verdict, Verdict::Retrain { data_from, .. } if data_from == day(6)));
        let (d, _) = decide(&drifted(10), &state, &policy());
        assert!(matches!(d.verdict, Verdict::Retrain { data_from, .. } if data_from == day(2)));
    }

    #[test]
    fn a_clean_window_ends_the_episode() {
        let state = EpisodeState {
            drift_since: Some(day(4)),
            last_clean: Some(day(4)),
            last_deploy: None,
        };
        let (d, s) = decide(&window(8), &state, &policy());
        assert_eq!(d.verdict, Verdict::NoAction);
        assert_eq!(s.drift_since, None);
        assert_eq!(s.last_clean, Some(day(8)));
    }

    #[test]
    fn drift_during_the_cooldown_alerts_without_retraining() {
        let state = EpisodeState::default().deployed(day(5));
        let (d, s) = decide(&drifted(9), &state, &policy());
        assert!(
            matches!(&d.verdict, Verdict::DriftAlert { reason } if reason.contains("less than 7 days ago")),
            "{:?}",
            d.verdict
        );
        assert_eq!(d.alerts.len(), 1);
        // The episode is still tracked during the cooldown.
        assert_eq!(s.drift_since, Some(day(8)));
        // A week after the deployment the same drift retrains.
        let (d, _) = decide(&drifted(12), &s, &policy());
        assert!(matches!(d.verdict, Verdict::Retrain { data_from, .. } if data_from == day(8)));
    }

    #[test]
    fn a_data_quality_fault_alerts_and_never_retrains() {
        let w = WindowSummary {
            quality_faults: vec!["`income`: 40% missing (reference 1%)".into()],
            ..drifted(20)
        };
        let state = EpisodeState {
            drift_since: Some(day(2)),
            ..EpisodeState::default()
        };
        let (d, s) = decide(&w, &state, &policy());
        assert_eq!(
            d.verdict,
            Verdict::DataQualityFault {
                reason: "`income`: 40% missing (reference 1%)".into()
            }
        );
        assert_eq!(d.alerts.len(), 1);
        assert_eq!(d.alerts[0].kind, AlertKind::DataQuality);
        assert_eq!(d.alerts[0].severity, Severity::Critical);
        assert!(d.alerts[0].message.contains("not retraining"));
        assert_eq!(
            s, state,
            "a faulty window neither starts nor ends an episode"
        );
    }

    #[test]
    fn a_performance_drop_with_stable_inputs_is_concept_drift_and_retrains() {
        let w = WindowSummary {
            performance_drop: Some("accuracy 0.4000 (baseline 0.9000) on 600 labelled rows".into()),
            ..window(10)
        };
        let state = EpisodeState {
            last_clean: Some(day(9)),
            ..EpisodeState::default()
        };
        let (d, s) = decide(&w, &state, &policy());
        assert_eq!(s.drift_since, Some(day(9)));
        match &d.verdict {
            Verdict::Retrain {
                data_from, drifted, ..
            } => {
                assert_eq!(*data_from, day(9));
                assert!(drifted.starts_with("performance: accuracy"), "{drifted}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.alerts.len(), 1);
        assert_eq!(d.alerts[0].kind, AlertKind::Performance);
        assert!(d.alerts[0].message.contains("concept drift"));
        // With input drift too, both alerts, and the drifted columns name the retrain.
        let w = WindowSummary {
            performance_drop: Some("accuracy 0.4000 (baseline 0.9000)".into()),
            ..drifted(10)
        };
        let (d, _) = decide(&w, &state, &policy());
        let kinds: Vec<_> = d.alerts.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, vec![AlertKind::Drift, AlertKind::Performance]);
        assert!(matches!(&d.verdict, Verdict::Retrain { drifted, .. } if drifted == "income, age"));
        // A data-quality fault still wins: fix the pipeline, do not retrain.
        let w = WindowSummary {
            quality_faults: vec!["`income`: 40% missing".into()],
            ..w
        };
        let (d, _) = decide(&w, &state, &policy());
        assert!(matches!(d.verdict, Verdict::DataQualityFault { .. }));
    }

    #[test]
    fn a_seasonal_shift_is_expected_and_no_action_unless_performance_dropped() {
        let w = WindowSummary {
            seasonal_shift: Some("income, age drifted as one season earlier".into()),
            ..drifted(10)
        };
        let state = EpisodeState {
            drift_since: None,
            last_clean: Some(day(9)),
            last_deploy: None,
        };
        let (d, s) = decide(&w, &state, &policy());
        assert_eq!(
            d.verdict,
            Verdict::ExpectedShift {
                reason: "income, age drifted as one season earlier".into()
            }
        );
        assert!(d.alerts.is_empty());
        // Expected: the window is clean.
        assert_eq!((s.drift_since, s.last_clean), (None, Some(day(10))));
        // A shift under way since an earlier window persists: no season, real drift.
        let ongoing = EpisodeState {
            drift_since: Some(day(8)),
            ..state.clone()
        };
        let (d, s) = decide(&w, &ongoing, &policy());
        assert!(
            matches!(d.verdict, Verdict::Retrain { .. }),
            "{:?}",
            d.verdict
        );
        assert_eq!(s.drift_since, Some(day(8)));
        // A performance drop as well is concept drift: retrain.
        let w = WindowSummary {
            performance_drop: Some("rmse 9.0 (baseline 1.0)".into()),
            ..w
        };
        let (d, _) = decide(&w, &state, &policy());
        assert!(
            matches!(d.verdict, Verdict::Retrain { .. }),
            "{:?}",
            d.verdict
        );
        // A data-quality fault still wins.
        let w = WindowSummary {
            quality_faults: vec!["`income` missing_surge: 40%".into()],
            performance_drop: None,
            ..w
        };
        let (d, _) = decide(&w, &state, &policy());
        assert!(matches!(d.verdict, Verdict::DataQualityFault { .. }));
    }

    #[test]
    fn a_skipped_window_decides_nothing() {
        let w = WindowSummary {
            skipped: Some("120 rows, fewer than 200".into()),
            ..drifted(9)
        };
        let state = EpisodeState {
            last_clean: Some(day(3)),
            ..EpisodeState::default()
        };
        let (d, s) = decide(&w, &state, &policy());
        assert_eq!(
            d.verdict,
            Verdict::Skipped {
                reason: "120 rows, fewer than 200".into()
            }
        );
        assert!(d.alerts.is_empty());
        assert_eq!(s, state);
    }

    #[test]
    fn manual_approval_policy_alerts_without_retraining() {
        let p = Policy {
            retrain: RetrainPolicy::RequireApproval,
            ..policy()
        };
        let (d, s) = decide(&drifted(9), &EpisodeState::default(), &p);
        assert!(
            matches!(&d.verdict, Verdict::DriftAlert { reason } if reason.contains("requires a human"))
        );
        assert_eq!(s.drift_since, Some(day(8)));
    }

    #[test]
    fn without_a_data_source_drift_alerts_without_retraining() {
        let p = Policy {
            can_retrain: false,
            ..policy()
        };
        let (d, _) = decide(&drifted(9), &EpisodeState::default(), &p);
        assert!(
            matches!(&d.verdict, Verdict::DriftAlert { reason } if reason.contains("no training data source"))
        );
    }

    #[test]
    fn a_health_alert_comes_first_and_leaves_the_verdict_alone() {
        let p = Policy {
            max_error_rate: Some(0.05),
            ..policy()
        };
        let w = WindowSummary {
            error_rate: 0.2,
            ..window(5)
        };
        let (d, _) = decide(&w, &EpisodeState::default(), &p);
        assert_eq!(d.verdict, Verdict::NoAction);
        assert_eq!(d.alerts.len(), 1);
        assert_eq!(d.alerts[0].kind, AlertKind::Health);
        assert!(
            d.alerts[0].message.contains("20.0% of 1000"),
            "{}",
            d.alerts[0].message
        );
        let w = WindowSummary {
            error_rate: 0.2,
            ..drifted(9)
        };
        let (d, _) = decide(&w, &EpisodeState::default(), &p);
        let kinds: Vec<_> = d.alerts.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, vec![AlertKind::Health, AlertKind::Drift]);
        // Below the limit, or with no limit, no health alert.
        let ok = WindowSummary {
            error_rate: 0.01,
            ..window(5)
        };
        assert!(
            decide(&ok, &EpisodeState::default(), &p)
                .0
                .alerts
                .is_empty()
        );
        assert!(
            decide(&w, &EpisodeState::default(), &policy())
                .0
                .alerts
                .len()
                == 1
        );
    }

    #[test]
    fn retraining_waits_for_enough_rows_from_after_the_onset() {
        let reason = retrain_data_verdict(150, day(8), &policy()).unwrap();
        assert!(reason.contains("150 of 2000"), "{reason}");
        assert!(reason.contains("2026-03-08 00:00"), "{reason}");
        assert_eq!(retrain_data_verdict(2_000, day(8), &policy()), None);
    }

    #[test]
    fn after_a_promoted_retrain_the_episode_is_over() {
        let s = EpisodeState {
            drift_since: Some(day(2)),
            last_clean: Some(day(1)),
            last_deploy: None,
        }
        .retrained(day(9));
        assert_eq!(s.drift_since, None);
        assert_eq!(s.last_clean, Some(day(9)));
    }

    #[test]
    fn the_episode_state_round_trips_through_json() {
        let s = EpisodeState {
            drift_since: Some(day(2)),
            last_clean: Some(day(1)),
            last_deploy: Some(day(1)),
        };
        let back: EpisodeState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let empty: EpisodeState = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, EpisodeState::default());
    }
}
