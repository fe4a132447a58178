//! The lifecycle's durable state: the drift episode and cooldown ([`EpisodeState`]), the
//! serving version's drift baseline, and the approval requests (one row per version that
//! waits, or waited, for a human decision). A restarted lifecycle resumes from it, and
//! another process (the CLI, the HTTP admin API, a library user) records decisions in it
//! that the running lifecycle applies with [`Lifecycle::apply_decisions`](super::Lifecycle::apply_decisions).

use super::decide::EpisodeState;
use crate::audit::event::ApprovalDecided;
use crate::audit::{AuditEntry, AuditEvent, AuditLog};
use crate::validate::ValidationReport;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::str::FromStr;
use std::sync::Mutex;

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person.
    Pending,
    /// Approved: to be (or already) deployed.
    Approved,
    /// Rejected: to be (or already) marked rejected in the registry.
    Rejected,
}

impl ApprovalStatus {
    /// `pending`, `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
        }
    }
}

impl FromStr for ApprovalStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(ApprovalStatus::Pending),
            "approved" => Ok(ApprovalStatus::Approved),
            "rejected" => Ok(ApprovalStatus::Rejected),
            other => Err(Error::invalid(
                "approval status",
                format!("`{other}` is not one of pending, approved, rejected"),
            )),
        }
    }
}

/// A version that waits (or waited) for a human decision, with its validation summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The model.
    pub model: String,
    /// The version.
    pub version: u32,
    /// When the approval gate answered "pending".
    pub requested_at: DateTime<Utc>,
    /// Why the run started (`manual`, `drift_alert`, `registry_event`, ...).
    pub trigger: String,
    /// The validation summary: primary metric, candidate vs champion, each check's verdict
    /// (see [`validation_summary`]).
    pub summary: serde_json::Value,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why.
    pub reason: Option<String>,
    /// When the running lifecycle applied the decision (deployed, or marked rejected).
    pub applied_at: Option<DateTime<Utc>>,
}

/// The drift episode, cooldown and baseline pointer of one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleState {
    /// The drift episode and cooldown.
    pub episode: EpisodeState,
    /// The version whose training data (or stored reference profile) is the drift baseline.
    pub baseline_version: Option<u32>,
}

/// The validation summary kept with an approval request: primary metric, candidate vs
/// champion on it, and each check's verdict.
pub fn validation_summary(v: &ValidationReport) -> serde_json::Value {
    serde_json::json!({
        "primary_metric": v.primary_metric,
        "candidate": v.candidate.get(&v.primary_metric),
        "champion": v.champion.as_ref().and_then(|c| c.get(&v.primary_metric)),
        "holdout_rows": v.holdout_rows,
        "checks": v.checks.iter().map(|c| serde_json::json!({
            "name": c.name, "passed": c.passed, "detail": c.detail,
        })).collect::<Vec<_>>(),
    })
}

/// Durable lifecycle state: episode, cooldown and baseline per model, and approval requests.
///
/// # Contract
/// - [`load`](Self::load) returns what the last [`save`](Self::save) stored for the model
///   (`None` before the first), also from another handle on the same store.
/// - [`request`](Self::request) stores a `pending` row (replacing an older row of the same
///   version); [`approval`](Self::approval) and [`approvals`](Self::approvals) read rows
///   (oldest request first).
/// - [`decide`](Self::decide) changes a `pending` row to approved/rejected with who, when
///   and why: `NotFound` when there is no row, `Conflict` when it was already decided.
/// - [`claim`](Self::claim) marks a decided, unapplied row applied and answers `true` to
///   exactly one caller, however many race (so a decision is applied once).
///
/// ```
/// use mlcycle::lifecycle::{InMemoryLifecycleState, LifecycleState, LifecycleStateStore};
/// let store = InMemoryLifecycleState::default();
/// assert_eq!(store.load("credit").unwrap(), None);
/// store.save("credit", &LifecycleState::default(), chrono::Utc::now()).unwrap();
/// assert_eq!(store.load("credit").unwrap(), Some(LifecycleState::default()));
/// ```
pub trait LifecycleStateStore: Send + Sync + Debug {
    /// The stored state of `model`.
    fn load(&self, model: &str) -> Result<Option<LifecycleState>>;
    /// Store the state of `model`.
    fn save(&self, model: &str, state: &LifecycleState, at: DateTime<Utc>) -> Result<()>;
    /// Store a pending approval request.
    fn request(&self, record: &ApprovalRecord) -> Result<()>;
    /// One approval row.
    fn approval(&self, model: &str, version: u32) -> Result<Option<ApprovalRecord>>;
    /// Approval rows, of one model or all, oldest request first.
    fn approvals(&self, model: Option<&str>) -> Result<Vec<ApprovalRecord>>;
    /// Record a decision on a pending row.
    fn decide(
        &self,
        model: &str,
        version: u32,
        approved: bool,
        by: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ApprovalRecord>;
    /// Mark a decided row applied; `true` for exactly one caller.
    fn claim(&self, model: &str, version: u32, at: DateTime<Utc>) -> Result<bool>;
}

/// A person's decision on a pending version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The model.
    pub model: String,
    /// The version.
    pub version: u32,
    /// Approved (deploy it) or rejected.
    pub approved: bool,
    /// Who decided.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Record a person's decision on a pending version and audit it (`approval.decided`, actor
/// `by`). Any process may call it; the process running the lifecycle applies the decision
/// with [`Lifecycle::apply_decisions`](super::Lifecycle::apply_decisions).
pub async fn record_decision(
    store: &dyn LifecycleStateStore,
    audit: &dyn AuditLog,
    decision: &Decision,
    at: DateTime<Utc>,
) -> Result<ApprovalRecord> {
    let Decision {
        model,
        version,
        approved,
        by,
        reason,
    } = decision;
    let (model, version, approved) = (model.as_str(), *version, *approved);
    if by.trim().is_empty() {
        return Err(Error::invalid(
            "decided by",
            "is empty; name the person who decides (e.g. `--by alice`)",
        ));
    }
    let rec = store.decide(model, version, approved, by, reason, at)?;
    let event = AuditEvent::ApprovalDecided(ApprovalDecided {
        model_name: model.to_string(),
        version,
        decision: rec.status.as_str().to_string(),
        decided_by: by.to_string(),
        reason: reason.to_string(),
    });
    audit
        .append(AuditEntry::from_event(
            by,
            vec![format!("{model}/{version}")],
            &event,
            format!("decision-{model}-{version}"),
        ))
        .await?;
    Ok(rec)
}

fn not_pending(model: &str, version: u32) -> Error {
    Error::not_found(
        "pending version",
        format!("{model}/{version}"),
        "only versions the lifecycle asked a person to approve can be decided; list them \
         with `mlcycle pending`",
    )
}

fn decided(r: &ApprovalRecord) -> Error {
    Error::Conflict(format!(
        "{}/{} was already {} by {} ({}); a decision cannot be changed",
        r.model,
        r.version,
        r.status.as_str(),
        r.decided_by.as_deref().unwrap_or("?"),
        r.reason.as_deref().unwrap_or("")
    ))
}

/// Lifecycle state in memory (lost with the process): the default of a lifecycle built
/// without a store.
#[derive(Debug, Default)]
pub struct InMemoryLifecycleState {
    inner: Mutex<MemoryTables>,
}

type MemoryTables = (
    BTreeMap<String, LifecycleState>,
    BTreeMap<(String, u32), ApprovalRecord>,
);

impl InMemoryLifecycleState {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryTables> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LifecycleStateStore for InMemoryLifecycleState {
    fn load(&self, model: &str) -> Result<Option<LifecycleState>> {
        Ok(self.lock().0.get(model).cloned())
    }
    fn save(&self, model: &str, state: &LifecycleState, _at: DateTime<Utc>) -> Result<()> {
        self.lock().0.insert(model.to_string(), state.clone());
        Ok(())
    }
    fn request(&self, record: &ApprovalRecord) -> Result<()> {
        self.lock()
            .1
            .insert((record.model.clone(), record.version), record.clone());
        Ok(())
    }
    fn approval(&self, model: &str, version: u32) -> Result<Option<ApprovalRecord>> {
        Ok(self.lock().1.get(&(model.to_string(), version)).cloned())
    }
    fn approvals(&self, model: Option<&str>) -> Result<Vec<ApprovalRecord>> {
        let mut v: Vec<_> = self
            .lock()
            .1
            .values()
            .filter(|r| model.is_none_or(|m| r.model == m))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            (a.requested_at, &a.model, a.version).cmp(&(b.requested_at, &b.model, b.version))
        });
        Ok(v)
    }
    fn decide(
        &self,
        model: &str,
        version: u32,
        approved: bool,
        by: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ApprovalRecord> {
        let mut g = self.lock();
        let r =
            g.1.get_mut(&(model.to_string(), version))
                .ok_or_else(|| not_pending(model, version))?;
        if r.status != ApprovalStatus::Pending {
            return Err(decided(r));
        }
        r.status = if approved {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        r.decided_by = Some(by.to_string());
        r.decided_at = Some(at);
        r.reason = Some(reason.to_string());
        Ok(r.clone())
    }
    fn claim(&self, model: &str, version: u32, at: DateTime<Utc>) -> Result<bool> {
        let mut g = self.lock();
        Ok(match g.1.get_mut(&(model.to_string(), version)) {
            Some(r) if r.status != ApprovalStatus::Pending && r.applied_at.is_none() => {
                r.applied_at = Some(at);
                true
            }
            _ => false,
        })
    }
}

/// Conversions between approval records and the store's plain rows (both database backends).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows {
    use super::*;
    use crate::store::lifecycle_state_rows::ApprovalRow;

    fn time(s: &str) -> Result<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Error::invalid(
                    "stored approval time",
                    format!("`{s}` is not RFC 3339 ({e}); the store was altered"),
                )
            })
    }

    pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
        Error::invalid(
            format!("stored {what}"),
            format!("{e}; the store was altered or written by a newer mlcycle"),
        )
    }

    pub(super) fn from_row(r: ApprovalRow) -> Result<ApprovalRecord> {
        Ok(ApprovalRecord {
            model: r.model,
            version: r.version,
            requested_at: time(&r.requested_at)?,
            trigger: r.trigger,
            summary: serde_json::from_str(&r.summary)
                .map_err(|e| corrupt("validation summary", e))?,
            status: r.status.parse()?,
            decided_by: r.decided_by,
            decided_at: r.decided_at.as_deref().map(time).transpose()?,
            reason: r.reason,
            applied_at: r.applied_at.as_deref().map(time).transpose()?,
        })
    }

    pub(super) fn ts(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    }
}

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLifecycleState;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::rows::{corrupt, from_row, ts};
    use super::*;
    use crate::store::lifecycle_state::{ApprovalRow, LifecycleStateDb};
    use std::path::Path;

    /// Lifecycle state in the embedded store's SQLite database (the same file as the
    /// registry and the audit trail; tables `lifecycle_state` and `approvals`).
    #[derive(Debug)]
    pub struct SqliteLifecycleState {
        db: LifecycleStateDb,
    }

    impl SqliteLifecycleState {
        /// Open the state of the store directory `dir` (creating and migrating it if needed).
        pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
            Ok(SqliteLifecycleState {
                db: LifecycleStateDb::open(dir.as_ref())?,
            })
        }

        /// Open the state of the existing store in `dir` for reading only (SQLite's
        /// read-only mode; no migration): reads work, every change fails with the
        /// database's read-only error.
        pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self> {
            Ok(SqliteLifecycleState {
                db: LifecycleStateDb::open_read_only(dir.as_ref())?,
            })
        }
    }

    impl LifecycleStateStore for SqliteLifecycleState {
        fn load(&self, model: &str) -> Result<Option<LifecycleState>> {
            match self.db.load_state(model)? {
                None => Ok(None),
                Some((episode, baseline_version)) => Ok(Some(LifecycleState {
                    episode: serde_json::from_str(&episode)
                        .map_err(|e| corrupt("drift episode", e))?,
                    baseline_version,
                })),
            }
        }
        fn save(&self, model: &str, state: &LifecycleState, at: DateTime<Utc>) -> Result<()> {
            self.db.save_state(
                model,
                &serde_json::to_string(&state.episode)?,
                state.baseline_version,
                &ts(at),
            )
        }
        fn request(&self, r: &ApprovalRecord) -> Result<()> {
            self.db.insert(&ApprovalRow {
                model: r.model.clone(),
                version: r.version,
                requested_at: ts(r.requested_at),
                trigger: r.trigger.clone(),
                summary: r.summary.to_string(),
                status: r.status.as_str().to_string(),
                decided_by: r.decided_by.clone(),
                decided_at: r.decided_at.map(ts),
                reason: r.reason.clone(),
                applied_at: r.applied_at.map(ts),
            })
        }
        fn approval(&self, model: &str, version: u32) -> Result<Option<ApprovalRecord>> {
            self.db.get(model, version)?.map(from_row).transpose()
        }
        fn approvals(&self, model: Option<&str>) -> Result<Vec<ApprovalRecord>> {
            self.db.list(model)?.into_iter().map(from_row).collect()
        }
        fn decide(
            &self,
            model: &str,
            version: u32,
            approved: bool,
            by: &str,
            reason: &str,
            at: DateTime<Utc>,
        ) -> Result<ApprovalRecord> {
            let status = if approved {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            match self
                .db
                .decide(model, version, status.as_str(), by, reason, &ts(at))?
            {
                Some(r) => from_row(r),
                None => Err(not_pending(model, version)),
            }
        }
        fn claim(&self, model: &str, version: u32, at: DateTime<Utc>) -> Result<bool> {
            self.db.claim(model, version, &ts(at))
        }
    }
}

/// The admin API of approvals over a state store and an audit log: what `mlcycle serve`
/// gives its HTTP server ([`crate::deploy::http::HttpConfig::approvals`]).
#[cfg(feature = "http")]
#[derive(Debug)]
pub struct StoreApprovals {
    store: std::sync::Arc<dyn LifecycleStateStore>,
    audit: std::sync::Arc<dyn AuditLog>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

#[cfg(feature = "http")]
impl StoreApprovals {
    /// Decisions recorded in `store` and audited in `audit` at `clock`'s time.
    pub fn new(
        store: std::sync::Arc<dyn LifecycleStateStore>,
        audit: std::sync::Arc<dyn AuditLog>,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Self {
        StoreApprovals {
            store,
            audit,
            clock,
        }
    }
}

#[cfg(feature = "http")]
#[async_trait::async_trait]
impl crate::deploy::http::ApprovalsAdmin for StoreApprovals {
    async fn pending(&self) -> Result<serde_json::Value> {
        let rows: Vec<ApprovalRecord> = self
            .store
            .approvals(None)?
            .into_iter()
            .filter(|r| r.status == ApprovalStatus::Pending)
            .collect();
        Ok(serde_json::to_value(rows)?)
    }

    async fn decide(
        &self,
        model: &str,
        version: u32,
        approved: bool,
        by: &str,
        reason: &str,
    ) -> Result<serde_json::Value> {
        let decision = Decision {
            model: model.to_string(),
            version,
            approved,
            by: by.to_string(),
            reason: reason.to_string(),
        };
        let rec = record_decision(
            self.store.as_ref(),
            self.audit.as_ref(),
            &decision,
            self.clock.now(),
        )
        .await?;
        Ok(serde_json::to_value(rec)?)
    }
}

#[cfg(feature = "postgres")]
pub use postgres::PostgresLifecycleState;

#[cfg(feature = "postgres")]
mod postgres {
    use super::rows::{corrupt, from_row, ts};
    use super::*;
    use crate::store::lifecycle_state_rows::ApprovalRow;
    use crate::store::postgres::blocking::BlockingPg;
    use crate::store::postgres::in_tx;
    use crate::store::postgres::lifecycle_state as sql;

    /// Lifecycle state in a PostgreSQL database (tables `lifecycle_state` and `approvals`,
    /// beside the registry's), so a decision recorded on one host is applied by the
    /// lifecycle running on another.
    ///
    /// The trait is synchronous: calls run on the handle's own connection thread and wait
    /// for the answer, from any thread (inside an async runtime or not). A decision locks its
    /// row (`SELECT … FOR UPDATE`), so two people deciding at once get one decision and one
    /// `Conflict`; `claim` is one conditional `UPDATE`, true for exactly one caller.
    #[derive(Debug, Clone)]
    pub struct PostgresLifecycleState {
        db: BlockingPg,
    }

    impl PostgresLifecycleState {
        /// Connect to the PostgreSQL database at `url`, creating or upgrading its schema.
        pub fn connect(url: &str) -> Result<Self> {
            Ok(PostgresLifecycleState {
                db: BlockingPg::connect(url)?,
            })
        }
    }

    impl LifecycleStateStore for PostgresLifecycleState {
        fn load(&self, model: &str) -> Result<Option<LifecycleState>> {
            let model = model.to_string();
            let stored = self
                .db
                .run(async move |pool| sql::load_state(&*pool.get().await?, &model).await)?;
            match stored {
                None => Ok(None),
                Some((episode, baseline_version)) => Ok(Some(LifecycleState {
                    episode: serde_json::from_str(&episode)
                        .map_err(|e| corrupt("drift episode", e))?,
                    baseline_version,
                })),
            }
        }

        fn save(&self, model: &str, state: &LifecycleState, at: DateTime<Utc>) -> Result<()> {
            let (model, episode, baseline, at) = (
                model.to_string(),
                serde_json::to_string(&state.episode)?,
                state.baseline_version,
                ts(at),
            );
            self.db.run(async move |pool| {
                sql::save_state(&*pool.get().await?, &model, &episode, baseline, &at).await
            })
        }

        fn request(&self, r: &ApprovalRecord) -> Result<()> {
            let row = ApprovalRow {
                model: r.model.clone(),
                version: r.version,
                requested_at: ts(r.requested_at),
                trigger: r.trigger.clone(),
                summary: r.summary.to_string(),
                status: r.status.as_str().to_string(),
                decided_by: r.decided_by.clone(),
                decided_at: r.decided_at.map(ts),
                reason: r.reason.clone(),
                applied_at: r.applied_at.map(ts),
            };
            self.db
                .run(async move |pool| sql::insert(&*pool.get().await?, &row).await)
        }

        fn approval(&self, model: &str, version: u32) -> Result<Option<ApprovalRecord>> {
            let model = model.to_string();
            self.db
                .run(async move |pool| sql::get(&*pool.get().await?, &model, version, false).await)?
                .map(from_row)
                .transpose()
        }

        fn approvals(&self, model: Option<&str>) -> Result<Vec<ApprovalRecord>> {
            let model = model.map(str::to_string);
            self.db
                .run(async move |pool| sql::list(&*pool.get().await?, model.as_deref()).await)?
                .into_iter()
                .map(from_row)
                .collect()
        }

        fn decide(
            &self,
            model: &str,
            version: u32,
            approved: bool,
            by: &str,
            reason: &str,
            at: DateTime<Utc>,
        ) -> Result<ApprovalRecord> {
            let status = if approved {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            let (m, by, reason, at) = (
                model.to_string(),
                by.to_string(),
                reason.to_string(),
                ts(at),
            );
            let decided = self.db.run(async move |pool| {
                in_tx(&pool, async |tx| {
                    sql::decide(tx, &m, version, status.as_str(), &by, &reason, &at).await
                })
                .await
            })?;
            match decided {
                Some(r) => from_row(r),
                None => Err(not_pending(model, version)),
            }
        }

        fn claim(&self, model: &str, version: u32, at: DateTime<Utc>) -> Result<bool> {
            let (model, at) = (model.to_string(), ts(at));
            self.db
                .run(async move |pool| sql::claim(&*pool.get().await?, &model, version, &at).await)
        }
    }
}
