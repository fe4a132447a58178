//! Canary releases: an approved version first takes a share of the traffic for a while, next
//! to the champion; then it is promoted when its error rate and latency are no worse than the
//! champion's within limits, and rolled back otherwise.
//!
//! The canary lives in the registry, so every process sees it and it survives restarts: the
//! `canary` alias points to the version, its `canary_share` tag holds the share, and the
//! alias move's time is when the canary started. A server following the model
//! (`mlcycle serve`, [`HttpDeployer::follow`](crate::deploy::HttpDeployer)) routes that share
//! of requests to it; its prediction-log records (tagged with the version that answered) are
//! the evidence [`Lifecycle::settle_canary`] judges.

use super::observer::{AlertKind, Severity};
use super::{Lifecycle, Stage};
use crate::audit::event::{DeploymentStarted, VersionTagged};
use crate::audit::{AuditEvent, in_trace};
use crate::collect::PredictionRecord;
use crate::deploy::DeploymentInfo;
use crate::registry::{Change, VersionStatus, audit_records};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use crate::registry::CANARY_SHARE_TAG;
/// The `deployer` of the [`DeploymentInfo`] that starting a canary returns.
pub const CANARY_DEPLOYER: &str = "canary";

/// How new versions are released through a canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryPolicy {
    /// Share of the traffic the canary takes, in (0, 1).
    pub share: f64,
    /// How long the canary runs before it is judged, in seconds.
    pub duration_secs: i64,
    /// The alias that marks the canary version (default `canary`).
    pub alias: String,
    /// Rolled back when its error rate exceeds the champion's by more than this (default
    /// 0.01, one point).
    pub max_error_rate_increase: f64,
    /// Rolled back when its p99 latency exceeds the champion's times this (default 1.5)
    /// and also by more than `latency_slack_us`.
    pub max_latency_ratio: f64,
    /// A p99 latency within this many microseconds of the champion's is never a reason to
    /// roll back (default 2,000 µs): for models answering in microseconds, a ratio alone
    /// judges scheduling noise.
    #[serde(default = "default_latency_slack_us")]
    pub latency_slack_us: u64,
    /// Rolled back when fewer requests than this reached it (default 20): too little
    /// evidence to promote on.
    pub min_requests: usize,
}

impl CanaryPolicy {
    /// A canary taking `share` of the traffic for `duration`, with the default limits.
    pub fn new(share: f64, duration: Duration) -> Self {
        CanaryPolicy {
            share,
            duration_secs: duration.num_seconds(),
            alias: "canary".into(),
            max_error_rate_increase: 0.01,
            max_latency_ratio: 1.5,
            latency_slack_us: default_latency_slack_us(),
            min_requests: 20,
        }
    }

    /// How long the canary runs.
    pub fn duration(&self) -> Duration {
        Duration::seconds(self.duration_secs)
    }

    /// Check the settings.
    pub fn check(&self) -> Result<()> {
        if !(self.share > 0.0 && self.share < 1.0) {
            return Err(Error::invalid(
                "canary share",
                format!("{} is not in (0, 1): give e.g. 0.1 for 10 %", self.share),
            ));
        }
        if self.duration_secs <= 0 {
            return Err(Error::invalid(
                "canary duration",
                "must be positive (e.g. 1h)",
            ));
        }
        if self.alias.is_empty() {
            return Err(Error::invalid("canary alias", "must not be empty"));
        }
        if !(self.max_error_rate_increase >= 0.0 && self.max_latency_ratio >= 1.0) {
            return Err(Error::invalid(
                "canary limits",
                "the error-rate increase must be ≥ 0 and the latency ratio ≥ 1",
            ));
        }
        Ok(())
    }
}

fn default_latency_slack_us() -> u64 {
    2_000
}

/// Requests, errors and latency of one version over the canary period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServingFigures {
    /// Scoring calls answered by the version.
    pub requests: usize,
    /// Of which failed.
    pub errors: usize,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// 99th percentile latency of its calls in microseconds (nearest rank; 0 without calls).
    pub p99_latency_us: u64,
}

impl ServingFigures {
    fn of<'a>(records: impl Iterator<Item = &'a PredictionRecord>) -> Self {
        let mut lat: Vec<u64> = Vec::new();
        let mut errors = 0;
        for r in records {
            lat.push(r.latency_us);
            errors += usize::from(r.error.is_some());
        }
        let requests = lat.len();
        lat.sort_unstable();
        let p99 = if lat.is_empty() {
            0
        } else {
            // nearest rank: the smallest value with at least 99 % of the calls at or below it
            lat[((requests as f64 * 0.99).ceil() as usize).clamp(1, requests) - 1]
        };
        ServingFigures {
            requests,
            errors,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p99_latency_us: p99,
        }
    }
}

/// Where a canary stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CanaryOutcome {
    /// Still taking its share; judged at `until`.
    Running {
        /// The canary version.
        version: u32,
        /// When it started.
        since: DateTime<Utc>,
        /// When it will be judged.
        until: DateTime<Utc>,
    },
    /// It did as well as the champion: deployed and the serving alias moved to it.
    Promoted {
        /// The canary version.
        version: u32,
        /// The deployment.
        deployment: DeploymentInfo,
        /// The canary's figures.
        canary: ServingFigures,
        /// The champion's figures over the same period.
        champion: ServingFigures,
        /// Why.
        reason: String,
    },
    /// It did worse (or got too little traffic to tell): the canary alias is removed, the
    /// version marked rejected and a `rolled_back` alert raised.
    RolledBack {
        /// The canary version.
        version: u32,
        /// The canary's figures.
        canary: ServingFigures,
        /// The champion's figures over the same period.
        champion: ServingFigures,
        /// Why.
        reason: String,
    },
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

impl Lifecycle {
    /// Put `version` (approved) on the canary alias with its share instead of promoting it.
    pub(super) async fn start_canary(
        &self,
        trace: &str,
        version: u32,
        champion: u32,
        actor: &str,
        reason: &str,
        policy: &CanaryPolicy,
    ) -> Result<DeploymentInfo> {
        let cfg = &self.config;
        let ev = &self.events;
        let now = self.clock.now();
        let endpoint = format!(
            "{}@{} ({} of traffic)",
            cfg.model_name,
            policy.alias,
            percent(policy.share)
        );
        ev.stage(
            Stage::Deploy,
            trace,
            async {
                let previous = self
                    .registry
                    .get_version(&cfg.model_name, version)
                    .await?
                    .tags
                    .get(CANARY_SHARE_TAG)
                    .cloned();
                let share = policy.share.to_string();
                self.registry
                    .set_tag(&cfg.model_name, version, CANARY_SHARE_TAG, &share)
                    .await?;
                ev.emit_as(
                    actor,
                    trace,
                    vec![ev.version_ref(version)],
                    AuditEvent::VersionTagged(VersionTagged {
                        model_name: cfg.model_name.clone(),
                        version,
                        key: CANARY_SHARE_TAG.into(),
                        value: share,
                        previous,
                    }),
                )
                .await?;
                let c = in_trace(
                    trace,
                    self.registry.set_alias(
                        &cfg.model_name,
                        &policy.alias,
                        version,
                        Change::new(
                            actor,
                            format!(
                                "canary: {} of traffic for {}s next to version {champion}; {reason}",
                                percent(policy.share),
                                policy.duration_secs
                            ),
                        ),
                    ),
                )
                .await?;
                ev.registry_change(trace, |t| audit_records::alias_changed(&c, t))
                    .await?;
                ev.emit(
                    trace,
                    vec![ev.version_ref(version)],
                    AuditEvent::DeploymentStarted(DeploymentStarted {
                        deployer: CANARY_DEPLOYER.into(),
                        endpoint: endpoint.clone(),
                        model_name: cfg.model_name.clone(),
                        version,
                        since: now,
                        approved_by: actor.to_string(),
                        replaces: None,
                    }),
                )
                .await?;
                Ok(())
            },
            |_| format!("{} as canary: {endpoint}", ev.version_ref(version)),
        )
        .await?;
        Ok(DeploymentInfo {
            deployer: CANARY_DEPLOYER.into(),
            endpoint,
            model_name: cfg.model_name.clone(),
            version,
            since: now,
        })
    }

    /// The version on the canary alias and when it started, if a canary runs.
    pub async fn canary(&self) -> Result<Option<(u32, DateTime<Utc>)>> {
        let Some(policy) = &self.config.canary else {
            return Ok(None);
        };
        let name = &self.config.model_name;
        if self.registry.list_models().await?.iter().all(|m| m != name) {
            return Ok(None);
        }
        let Some(v) = self.registry.get_alias(name, &policy.alias).await? else {
            return Ok(None);
        };
        let since = self
            .registry
            .alias_history(name, Some(&policy.alias))
            .await?
            .iter()
            .rev()
            .find(|c| c.version == Some(v))
            .map(|c| c.at)
            .unwrap_or_else(|| self.clock.now());
        Ok(Some((v, since)))
    }

    /// Judge the running canary once its time is up: promote it when its error rate and p99
    /// latency are no worse than the champion's within the policy's limits, else roll it back
    /// (remove the canary alias, mark the version rejected, raise `rolled_back`). Returns
    /// `None` when no canary runs (or none is configured). A controller calls this every
    /// poll; calling it again after a decision finds no canary.
    pub async fn settle_canary(&self) -> Result<Option<CanaryOutcome>> {
        let Some(policy) = self.config.canary.clone() else {
            return Ok(None);
        };
        let Some((version, since)) = self.canary().await? else {
            return Ok(None);
        };
        let cfg = &self.config;
        let now = self.clock.now();
        let until = since + policy.duration();
        let champion = self.champion().await?.map(|c| c.version);
        if champion == Some(version) {
            // Promoted before a crash removed the alias: finish the job.
            self.remove_canary_alias(&policy, "canary promoted").await?;
            return Ok(None);
        }
        if now < until {
            return Ok(Some(CanaryOutcome::Running {
                version,
                since,
                until,
            }));
        }
        if let Some(c) = &self.collector {
            c.flush().await.map_err(|e| e.in_stage(Stage::Monitor))?;
        }
        let records = self
            .prediction_log
            .read_window(since, now)
            .await
            .map_err(|e| e.in_stage(Stage::Monitor))?;
        let mine = |v: Option<u32>| {
            ServingFigures::of(
                records
                    .iter()
                    .filter(|r| r.model_name == cfg.model_name && Some(r.model_version) == v),
            )
        };
        let canary = mine(Some(version));
        let champ = mine(champion);
        let verdict = if canary.requests < policy.min_requests {
            Err(format!(
                "only {} request(s) reached the canary in {}s (at least {} needed to judge it); \
                 is a server following {}@{}?",
                canary.requests,
                policy.duration_secs,
                policy.min_requests,
                cfg.model_name,
                policy.alias
            ))
        } else if canary.error_rate > champ.error_rate + policy.max_error_rate_increase {
            Err(format!(
                "its error rate {} exceeds the champion's {} by more than {}",
                percent(canary.error_rate),
                percent(champ.error_rate),
                percent(policy.max_error_rate_increase)
            ))
        } else if champ.requests > 0
            && canary.p99_latency_us as f64 > champ.p99_latency_us as f64 * policy.max_latency_ratio
            && canary.p99_latency_us > champ.p99_latency_us.saturating_add(policy.latency_slack_us)
        {
            Err(format!(
                "its p99 latency {} µs exceeds the champion's {} µs × {} (and by more than {} µs)",
                canary.p99_latency_us,
                champ.p99_latency_us,
                policy.max_latency_ratio,
                policy.latency_slack_us
            ))
        } else {
            Ok(format!(
                "canary passed: {} requests, error rate {} (champion {}), p99 {} µs (champion {} µs)",
                canary.requests,
                percent(canary.error_rate),
                percent(champ.error_rate),
                canary.p99_latency_us,
                champ.p99_latency_us
            ))
        };
        let actor = cfg.actor.clone();
        match verdict {
            Ok(reason) => {
                let trace = self.new_trace("canary");
                let deployment = self
                    .promote_now(&trace, version, &actor, &reason, None)
                    .await?;
                self.remove_canary_alias(&policy, &reason).await?;
                Ok(Some(CanaryOutcome::Promoted {
                    version,
                    deployment,
                    canary,
                    champion: champ,
                    reason,
                }))
            }
            Err(reason) => {
                let trace = self.new_trace("rollback");
                self.remove_canary_alias(&policy, &format!("rolled back: {reason}"))
                    .await?;
                self.set_status(&trace, version, VersionStatus::Rejected, &actor, &reason)
                    .await
                    .map_err(|e| e.in_stage(Stage::Promote))?;
                let details = serde_json::json!({
                    "canary": canary, "champion": champ, "champion_version": champion,
                    "since": since, "until": until, "share": policy.share,
                });
                self.events
                    .raise(
                        &trace,
                        AlertKind::RolledBack,
                        Severity::Warning,
                        version,
                        format!(
                            "{} was rolled back after its canary: {reason}",
                            self.events.version_ref(version)
                        ),
                        details,
                    )
                    .await
                    .map_err(|e| e.in_stage(Stage::Promote))?;
                Ok(Some(CanaryOutcome::RolledBack {
                    version,
                    canary,
                    champion: champ,
                    reason,
                }))
            }
        }
    }

    async fn remove_canary_alias(&self, policy: &CanaryPolicy, reason: &str) -> Result<()> {
        let trace = self.new_trace("canary");
        let c = in_trace(
            &trace,
            self.registry.delete_alias(
                &self.config.model_name,
                &policy.alias,
                Change::new(&self.config.actor, reason),
            ),
        )
        .await
        .map_err(|e| e.in_stage(Stage::Promote))?;
        self.events
            .registry_change(&trace, |t| audit_records::alias_changed(&c, t))
            .await
            .map_err(|e| e.in_stage(Stage::Promote))
    }
}
