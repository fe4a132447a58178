//! Lineage queries over the audit trail, the registry and the prediction log.
//!
//! This module sits above all three (it joins them), so none of them depends on it.
//!
//! - [`LineageQuery::prediction`]: a request id → the version that answered → its training
//!   and validation datasets (ids, sources, hashes, rows) → code version, trainer and
//!   parameters → approval (who, when, why) → the alias intervals and deployment in force
//!   when it answered.
//! - [`LineageQuery::version`]: a model version → all of the above plus every alias
//!   interval and deployment of it.
//! - [`LineageQuery::dataset`]: a dataset → every model version trained or validated on it.
//!
//! The registry is the source of truth for versions and alias history; the audit trail
//! supplies what only it knows (dataset sources and sizes, validation, approvals,
//! deployments). A record missing from the trail leaves the matching field empty rather
//! than failing the query.

use crate::audit::{AuditLog, AuditQuery, AuditRecord, actions};
use crate::collect::PredictionLog;
use crate::registry::{AliasChange, ModelVersion, Registry, RegistryExt};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// What is known of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The dataset id.
    pub id: String,
    /// Its content hash (sha256; the id is this hash).
    pub hash: String,
    /// Where it came from, as recorded when it entered the lifecycle.
    pub source: Option<String>,
    /// Number of rows.
    pub rows: Option<u64>,
    /// `source`, `train` or `holdout`.
    pub role: Option<String>,
    /// The dataset a split was taken from.
    pub derived_from: Option<String>,
    /// When it was recorded.
    pub registered_at: Option<DateTime<Utc>>,
    /// The audit record that describes it.
    pub audit_seq: Option<u64>,
}

/// A status decision on a version (approval, rejection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalInfo {
    /// The new status.
    pub status: String,
    /// Who decided.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The audit record.
    pub audit_seq: u64,
}

/// The validation of a version against the champion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationInfo {
    /// When.
    pub at: DateTime<Utc>,
    /// Whether it passed.
    pub passed: Option<bool>,
    /// The champion compared with.
    pub champion: Option<u32>,
    /// The validation report as recorded (metrics, checks).
    pub report: Value,
    /// The audit record.
    pub audit_seq: u64,
}

/// A span of time during which an alias pointed at a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasInterval {
    /// The model.
    pub model_name: String,
    /// The alias.
    pub alias: String,
    /// The version it pointed at.
    pub version: u32,
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// Until (exclusive); `None` while it still points there.
    pub to: Option<DateTime<Utc>>,
    /// Who set it.
    pub set_by: String,
    /// Why.
    pub reason: String,
    /// Who moved or removed it, if anyone.
    pub ended_by: Option<String>,
}

impl AliasInterval {
    /// Whether `t` falls in the interval.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && self.to.is_none_or(|end| t < end)
    }
}

/// A span of time during which a version served from a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInterval {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// The deployer kind.
    pub deployer: String,
    /// Where it served.
    pub endpoint: String,
    /// Serving since.
    pub started: DateTime<Utc>,
    /// Serving until; `None` if no stop is recorded.
    pub stopped: Option<DateTime<Utc>>,
    /// Why it stopped.
    pub stop_reason: Option<String>,
    /// The `deployment.started` record.
    pub audit_seq: u64,
}

impl DeploymentInterval {
    /// Whether `t` falls in the interval.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.started <= t && self.stopped.is_none_or(|end| t < end)
    }
}

/// Where a model version came from, and where it served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionLineage {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Its status now.
    pub status: String,
    /// sha256 of its artifact.
    pub artifact_sha256: String,
    /// The training algorithm.
    pub trainer: String,
    /// The training parameters.
    pub params: Value,
    /// The code version recorded at training.
    pub code_version: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// The champion it was compared with.
    pub parent_version: Option<u32>,
    /// The lifecycle run that produced it.
    pub trace_id: Option<String>,
    /// The datasets it was trained on.
    pub training_datasets: Vec<DatasetInfo>,
    /// The holdout it was validated on.
    pub validation_dataset: Option<DatasetInfo>,
    /// The validation.
    pub validation: Option<ValidationInfo>,
    /// The (latest) approval.
    pub approval: Option<ApprovalInfo>,
    /// Every status decision, oldest first.
    pub status_history: Vec<ApprovalInfo>,
    /// Every alias interval of this version, oldest first.
    pub alias_intervals: Vec<AliasInterval>,
    /// Every deployment of this version, oldest first.
    pub deployments: Vec<DeploymentInterval>,
    /// Sequence numbers of the audit records naming this version.
    pub audit_seqs: Vec<u64>,
}

/// Where a prediction came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionLineage {
    /// The request id.
    pub request_id: String,
    /// When it was served.
    pub at: DateTime<Utc>,
    /// Rows scored.
    pub rows: usize,
    /// The error, if the request failed.
    pub error: Option<String>,
    /// The alias intervals in force when it was served (aliases pointing at the version).
    pub serving_aliases: Vec<AliasInterval>,
    /// The deployment that served it, if recorded.
    pub deployment: Option<DeploymentInterval>,
    /// The version that answered.
    pub version: VersionLineage,
}

/// A model version that used a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetUse {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// `training` or `validation`.
    pub role: String,
    /// The version's status now.
    pub status: String,
    /// When the version was registered.
    pub created_at: DateTime<Utc>,
}

/// What a dataset is, what was split from it, and what was trained on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetLineage {
    /// The dataset.
    pub dataset: DatasetInfo,
    /// Datasets split from it.
    pub derived: Vec<DatasetInfo>,
    /// Versions trained or validated on it, oldest first.
    pub used_by: Vec<DatasetUse>,
}

/// Alias intervals from an alias history (oldest first), for every alias.
pub fn alias_intervals(history: &[AliasChange]) -> Vec<AliasInterval> {
    let mut open: Vec<AliasInterval> = Vec::new();
    let mut done = Vec::new();
    for c in history {
        let cur = open
            .iter()
            .position(|i| i.model_name == c.name && i.alias == c.alias);
        if let Some(p) = cur {
            if c.version == Some(open[p].version) {
                continue; // re-set to the same version: the interval goes on
            }
            let mut i = open.remove(p);
            i.to = Some(c.at);
            i.ended_by = Some(c.change.actor.clone());
            done.push(i);
        }
        if let Some(v) = c.version {
            open.push(AliasInterval {
                model_name: c.name.clone(),
                alias: c.alias.clone(),
                version: v,
                from: c.at,
                to: None,
                set_by: c.change.actor.clone(),
                reason: c.change.reason.clone(),
                ended_by: None,
            });
        }
    }
    done.extend(open);
    done.sort_by(|a, b| (a.from, &a.alias).cmp(&(b.from, &b.alias)));
    done
}

fn u32_field(v: &Value, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|x| u32::try_from(x).ok())
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Deployment intervals recorded in `records` (oldest first), for every model.
fn deployment_intervals(records: &[AuditRecord]) -> Vec<DeploymentInterval> {
    let mut out: Vec<DeploymentInterval> = Vec::new();
    for r in records {
        let p = &r.entry.payload;
        let (Some(model), Some(version)) = (str_field(p, "model_name"), u32_field(p, "version"))
        else {
            continue;
        };
        let deployer = str_field(p, "deployer").unwrap_or_default();
        let endpoint = str_field(p, "endpoint").unwrap_or_default();
        let same_place = |i: &DeploymentInterval| {
            i.model_name == model && i.deployer == deployer && i.endpoint == endpoint
        };
        if r.entry.action == actions::DEPLOYMENT_STARTED {
            let started = p
                .get("since")
                .and_then(|s| serde_json::from_value::<DateTime<Utc>>(s.clone()).ok())
                .unwrap_or(r.at);
            // A new version at the same place replaces the one serving there.
            for i in out
                .iter_mut()
                .filter(|i| same_place(i) && i.stopped.is_none())
            {
                i.stopped = Some(started);
                i.stop_reason = Some(format!("replaced by version {version}"));
            }
            out.push(DeploymentInterval {
                model_name: model,
                version,
                deployer,
                endpoint,
                started,
                stopped: None,
                stop_reason: None,
                audit_seq: r.seq,
            });
        } else if r.entry.action == actions::DEPLOYMENT_STOPPED
            && let Some(i) = out
                .iter_mut()
                .rev()
                .find(|i| same_place(i) && i.version == version && i.stopped.is_none())
        {
            i.stopped = Some(r.at);
            i.stop_reason = str_field(p, "reason");
        }
    }
    out
}

/// Lineage queries. Borrowing the three stores keeps it usable with any backends.
///
/// ```
/// use mlcycle::lineage::LineageQuery;
/// use mlcycle::prelude::*;
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
/// let data = CreditDefault::new(7).sample(2_000, &DriftSpec::none(), 0).unwrap();
/// stack.lifecycle.run_training(&data, Trigger::Manual).await.unwrap();
/// let rows = CreditDefault::new(7).sample(5, &DriftSpec::none(), 1).unwrap();
/// let answer = stack.deployer.predict(ScoreRequest { rows: rows.features().to_owned(),
///     request_id: Some("req-1".into()) }).await.unwrap();
/// stack.collector.flush().await.unwrap();
///
/// let q = LineageQuery::new(stack.audit.as_ref(), stack.registry.as_ref(), stack.prediction_log.as_ref());
/// let l = q.prediction("req-1").await.unwrap();
/// assert_eq!(l.version.version, answer.model_version);
/// assert!(l.version.training_datasets.iter().any(|d| d.id == data.id().0));
/// assert_eq!(l.version.approval.as_ref().unwrap().status, "approved");
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LineageQuery<'a> {
    audit: &'a dyn AuditLog,
    registry: &'a dyn Registry,
    predictions: &'a dyn PredictionLog,
}

impl<'a> LineageQuery<'a> {
    /// Queries over these stores.
    pub fn new(
        audit: &'a dyn AuditLog,
        registry: &'a dyn Registry,
        predictions: &'a dyn PredictionLog,
    ) -> Self {
        LineageQuery {
            audit,
            registry,
            predictions,
        }
    }

    async fn records(&self) -> Result<Vec<AuditRecord>> {
        self.audit.query(&AuditQuery::default()).await
    }

    /// Where the prediction `request_id` came from.
    pub async fn prediction(&self, request_id: &str) -> Result<PredictionLineage> {
        let p = self.predictions.find_request(request_id).await?.ok_or_else(|| {
            Error::not_found(
                "prediction request",
                request_id,
                "use the request id returned by the scoring call; it must be in the prediction log",
            )
        })?;
        let records = self.records().await?;
        let mv = self
            .registry
            .get_version(&p.model_name, p.model_version)
            .await?;
        let version = self.version_lineage(mv, &records).await?;
        let serving_aliases = version
            .alias_intervals
            .iter()
            .filter(|i| i.contains(p.at))
            .cloned()
            .collect();
        let deployment = version
            .deployments
            .iter()
            .rev()
            .find(|d| d.contains(p.at))
            .cloned();
        Ok(PredictionLineage {
            request_id: p.request_id,
            at: p.at,
            rows: p.inputs.len(),
            error: p.error,
            serving_aliases,
            deployment,
            version,
        })
    }

    /// The lineage of a model version (`name/3`, `name@production`, `models:/name@alias`).
    pub async fn version(&self, reference: &str) -> Result<VersionLineage> {
        let mv = self.registry.resolve(reference).await?;
        let records = self.records().await?;
        self.version_lineage(mv, &records).await
    }

    /// A dataset (by id, or by a unique prefix of at least 6 characters) and every model
    /// version trained or validated on it.
    pub async fn dataset(&self, id: &str) -> Result<DatasetLineage> {
        let records = self.records().await?;
        let mut versions = Vec::new();
        for name in self.registry.list_models().await? {
            versions.extend(self.registry.list_versions(&name).await?);
        }
        let mut known = BTreeSet::new();
        for r in &records {
            if r.entry.action == actions::DATASET_REGISTERED {
                known.extend(r.entry.subjects.first().cloned());
            }
        }
        for v in &versions {
            known.extend(v.lineage.training_datasets.iter().map(|d| d.0.clone()));
            known.extend(v.lineage.validation_dataset.iter().map(|d| d.0.clone()));
        }
        let id = if known.contains(id) {
            id.to_string()
        } else {
            let matches: Vec<&String> = if id.len() >= 6 {
                known.iter().filter(|k| k.starts_with(id)).collect()
            } else {
                vec![]
            };
            match matches.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(Error::not_found(
                        "dataset",
                        id,
                        "give a dataset id (or a unique prefix of 6+ characters) from the audit log or a version's lineage",
                    ));
                }
                many => {
                    return Err(Error::invalid(
                        format!("dataset id `{id}`"),
                        format!(
                            "the prefix matches {} datasets; give more characters",
                            many.len()
                        ),
                    ));
                }
            }
        };
        let dataset = dataset_info(&id, &records);
        let derived = records
            .iter()
            .filter(|r| {
                r.entry.action == actions::DATASET_REGISTERED
                    && r.entry.payload.get("derived_from").and_then(Value::as_str) == Some(&id)
            })
            .filter_map(|r| r.entry.subjects.first())
            // Each derived dataset once (in the order first recorded), however often it was
            // recorded.
            .scan(BTreeSet::new(), |seen, d| Some(seen.insert(d).then_some(d)))
            .flatten()
            .map(|d| dataset_info(d, &records))
            .collect();
        let mut used_by = Vec::new();
        for v in &versions {
            let role = if v.lineage.training_datasets.iter().any(|d| d.0 == id) {
                "training"
            } else if v
                .lineage
                .validation_dataset
                .as_ref()
                .is_some_and(|d| d.0 == id)
            {
                "validation"
            } else {
                continue;
            };
            used_by.push(DatasetUse {
                model_name: v.name.clone(),
                version: v.version,
                role: role.into(),
                status: v.status.to_string(),
                created_at: v.created_at,
            });
        }
        used_by.sort_by(|a, b| {
            (a.created_at, &a.model_name, a.version).cmp(&(b.created_at, &b.model_name, b.version))
        });
        Ok(DatasetLineage {
            dataset,
            derived,
            used_by,
        })
    }

    async fn version_lineage(
        &self,
        mv: ModelVersion,
        records: &[AuditRecord],
    ) -> Result<VersionLineage> {
        let vref = format!("{}/{}", mv.name, mv.version);
        let naming: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.entry.subjects.contains(&vref))
            .collect();
        let registered = naming
            .iter()
            .find(|r| r.entry.action == actions::VERSION_REGISTERED);
        let trace_id = registered
            .map(|r| r.entry.trace_id.clone())
            .or_else(|| mv.tags.get("trace_id").cloned());
        let holdout = mv.lineage.validation_dataset.as_ref().map(|d| d.0.clone());
        // The validation of this candidate: in its trace, on its holdout, before it was
        // registered.
        let validation = records
            .iter()
            .rfind(|r| {
                r.entry.action == actions::VALIDATION_COMPLETED
                    && trace_id.as_ref().is_none_or(|t| *t == r.entry.trace_id)
                    && holdout
                        .as_ref()
                        .is_none_or(|h| r.entry.subjects.contains(h))
                    && registered.is_none_or(|reg| r.seq < reg.seq)
            })
            .map(|r| {
                let p = &r.entry.payload;
                let passed = match p.get("decision").and_then(Value::as_str) {
                    Some(d) => Some(d == "pass"),
                    None => p
                        .get("report")
                        .and_then(|x| x.get("promote"))
                        .and_then(Value::as_bool),
                };
                ValidationInfo {
                    at: r.at,
                    passed,
                    champion: u32_field(p, "champion"),
                    report: p.get("report").cloned().unwrap_or(Value::Null),
                    audit_seq: r.seq,
                }
            });
        let status_history: Vec<ApprovalInfo> = naming
            .iter()
            .filter(|r| r.entry.action == actions::VERSION_STATUS_CHANGED)
            .map(|r| ApprovalInfo {
                status: str_field(&r.entry.payload, "status").unwrap_or_default(),
                actor: r.entry.actor.clone(),
                at: r.at,
                reason: str_field(&r.entry.payload, "reason").unwrap_or_default(),
                audit_seq: r.seq,
            })
            .collect();
        let approval = status_history
            .iter()
            .rev()
            .find(|a| a.status == "approved")
            .cloned();
        let alias_intervals = alias_intervals(&self.registry.alias_history(&mv.name, None).await?)
            .into_iter()
            .filter(|i| i.version == mv.version)
            .collect();
        let deployments = deployment_intervals(records)
            .into_iter()
            .filter(|d| d.model_name == mv.name && d.version == mv.version)
            .collect();
        Ok(VersionLineage {
            training_datasets: mv
                .lineage
                .training_datasets
                .iter()
                .map(|d| dataset_info(&d.0, records))
                .collect(),
            validation_dataset: holdout.as_ref().map(|h| dataset_info(h, records)),
            model_name: mv.name,
            version: mv.version,
            created_at: mv.created_at,
            status: mv.status.to_string(),
            artifact_sha256: mv.artifact_sha256,
            trainer: mv.lineage.trainer,
            params: mv.lineage.params,
            code_version: mv.lineage.code_version,
            created_by: mv.lineage.created_by,
            parent_version: mv.lineage.parent_version,
            trace_id,
            validation,
            approval,
            status_history,
            alias_intervals,
            deployments,
            audit_seqs: naming.iter().map(|r| r.seq).collect(),
        })
    }
}

/// What the trail says about dataset `id` (its first `dataset.registered` record).
fn dataset_info(id: &str, records: &[AuditRecord]) -> DatasetInfo {
    let rec = records.iter().find(|r| {
        r.entry.action == actions::DATASET_REGISTERED
            && r.entry.subjects.first().map(String::as_str) == Some(id)
    });
    let p = rec.map(|r| &r.entry.payload);
    DatasetInfo {
        id: id.to_string(),
        hash: p
            .and_then(|p| str_field(p, "hash"))
            .unwrap_or_else(|| id.to_string()),
        source: p.and_then(|p| str_field(p, "source")),
        rows: p.and_then(|p| p.get("rows")).and_then(Value::as_u64),
        role: p.and_then(|p| str_field(p, "role")),
        derived_from: p.and_then(|p| str_field(p, "derived_from")),
        registered_at: rec.map(|r| r.at),
        audit_seq: rec.map(|r| r.seq),
    }
}
