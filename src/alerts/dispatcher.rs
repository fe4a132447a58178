use super::{Alert, AlertKind, AlertRecord, AlertSink, AlertStore, CooldownMark};
use crate::Result;
use crate::audit::event::AlertDelivery;
use crate::audit::{AuditEntry, AuditEvent, AuditLog};
use crate::registry::Registry;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The default cooldown: a condition alerted once is not alerted again for 7 days while it
/// persists (one delivery per episode of a daily-monitored condition, then a weekly
/// reminder); once it clears, the next occurrence is delivered at once.
pub const DEFAULT_COOLDOWN: Duration = Duration::days(7);

type Key = (String, AlertKind, Option<String>);

/// Takes the lifecycle's alerts and sees them delivered: it fills in the model's owner,
/// suppresses a repeat of the same (model, kind, column) within the cooldown (a condition
/// that clears — [`AlertDispatcher::clear`] — re-arms it at once; both are kept in the
/// store, so a restarted process goes on where the last one stopped), stores every alert and
/// every delivery attempt, appends an `alert.delivery` audit record per attempt, and fans
/// each alert out to every sink.
///
/// For event kinds (`validation_failed`, `approval_needed`, `released`, `rolled_back`) the
/// version is part of the key, so each version's event is delivered once.
///
/// ```
/// use mlcycle::alerts::{Alert, AlertDispatcher, AlertKind, ChannelSink, MemoryAlertStore, Severity};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (sink, mut rx) = ChannelSink::new(8);
/// let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
///     .sink(Arc::new(sink))
///     .default_owner("risk-team@example.com");
/// let a = Alert::new(chrono::Utc::now(), Severity::Warning, AlertKind::Drift, "credit",
///                    "inputs drifted", "t1");
/// d.raise(a.clone()).await.unwrap();
/// assert_eq!(rx.recv().await.unwrap().owner.as_deref(), Some("risk-team@example.com"));
/// // The same condition again within the cooldown: stored, not delivered.
/// let again = d.raise(Alert { id: uuid::Uuid::new_v4(), ..a }).await.unwrap();
/// assert!(again.suppressed);
/// # });
/// ```
#[derive(Debug)]
pub struct AlertDispatcher {
    store: Arc<dyn AlertStore>,
    sinks: Vec<Arc<dyn AlertSink>>,
    audit: Option<Arc<dyn AuditLog>>,
    registry: Option<Arc<dyn Registry>>,
    default_owner: Option<String>,
    cooldown: Duration,
    actor: String,
    last: Mutex<HashMap<Key, DateTime<Utc>>>,
    /// Whether the store's cooldown marks were read into `last`.
    loaded: tokio::sync::OnceCell<()>,
}

impl AlertDispatcher {
    /// A dispatcher storing alerts in `store`, with no sinks, no audit log and the
    /// [`DEFAULT_COOLDOWN`].
    pub fn new(store: Arc<dyn AlertStore>) -> AlertDispatcher {
        AlertDispatcher {
            store,
            sinks: Vec::new(),
            audit: None,
            registry: None,
            default_owner: None,
            cooldown: DEFAULT_COOLDOWN,
            actor: "mlcycle".into(),
            last: Mutex::new(HashMap::new()),
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// Add a sink.
    pub fn sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Append an `alert.delivery` record of each attempt to `audit`.
    pub fn audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Read each model's owner from `registry` ([`Registry::get_owner`]).
    pub fn registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The owner named when the registry has none for the model (e.g. `--owner`).
    pub fn default_owner(mut self, owner: impl Into<String>) -> Self {
        self.default_owner = Some(owner.into());
        self
    }

    /// Suppress repeats of one (model, kind, column) for `cooldown` (zero: never suppress).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The actor of the audit records (default `mlcycle`).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AlertStore> {
        &self.store
    }

    fn key(a: &Alert) -> Key {
        let column = if a.kind.is_condition() {
            a.column.clone()
        } else {
            a.version.map(|v| format!("v{v}"))
        };
        (a.model_name.clone(), a.kind, column)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, HashMap<Key, DateTime<Utc>>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the store's cooldown marks once (what earlier processes delivered).
    async fn load_cooldowns(&self) -> Result<()> {
        self.loaded
            .get_or_try_init(|| async {
                let marks = self.store.cooldowns().await?;
                let mut last = self.last();
                for m in marks {
                    let key = (m.model, m.kind, m.key);
                    let t = last.entry(key).or_insert(m.delivered_at);
                    *t = (*t).max(m.delivered_at);
                }
                Ok::<_, crate::Error>(())
            })
            .await
            .map(|_| ())
    }

    /// The owner of `model`: the registry's, else the default owner.
    pub async fn owner_of(&self, model: &str) -> Option<String> {
        if let Some(r) = &self.registry
            && let Ok(Some(o)) = r.get_owner(model).await
        {
            return Some(o);
        }
        self.default_owner.clone()
    }

    /// Raise one alert: fill in the owner (when the alert names none), store it, and —
    /// unless the same (model, kind, column) was delivered within the cooldown — deliver
    /// it to every sink, storing and auditing each attempt. Answers the stored record.
    /// Delivery failures are in the record; errors are the store's or the audit log's.
    pub async fn raise(&self, mut alert: Alert) -> Result<AlertRecord> {
        if alert.owner.is_none() {
            alert.owner = self.owner_of(&alert.model_name).await;
        }
        self.load_cooldowns().await?;
        let key = Self::key(&alert);
        let suppressed = {
            let mut last = self.last();
            match last.get(&key) {
                Some(t) if self.cooldown > Duration::zero() && alert.at - *t < self.cooldown => {
                    true
                }
                _ => {
                    last.insert(key.clone(), alert.at);
                    false
                }
            }
        };
        self.store.insert(&alert, suppressed).await?;
        if !suppressed {
            let (model, kind, key) = key;
            self.store
                .save_cooldown(&CooldownMark {
                    model,
                    kind,
                    key,
                    delivered_at: alert.at,
                })
                .await?;
        }
        let mut record = AlertRecord {
            alert,
            suppressed,
            attempts: Vec::new(),
        };
        if suppressed {
            return Ok(record);
        }
        let alert = &record.alert;
        let reports =
            futures_util::future::join_all(self.sinks.iter().map(|s| s.deliver(alert))).await;
        let mut attempts = Vec::new();
        for report in reports {
            for attempt in report.attempts {
                self.store.record_attempt(alert.id, &attempt).await?;
                if let Some(audit) = &self.audit {
                    let subject = match alert.version {
                        Some(v) => format!("{}/{v}", alert.model_name),
                        None => alert.model_name.clone(),
                    };
                    let event = AuditEvent::AlertDelivery(AlertDelivery {
                        alert_id: alert.id.to_string(),
                        kind: alert.kind.as_str().into(),
                        model_name: alert.model_name.clone(),
                        sink: attempt.sink.clone(),
                        attempt: attempt.attempt,
                        delivery_id: attempt.delivery_id.to_string(),
                        ok: attempt.ok,
                        status: attempt.status,
                        error: attempt.error.clone(),
                    });
                    audit
                        .append(AuditEntry::from_event(
                            &self.actor,
                            vec![subject],
                            &event,
                            &alert.trace_id,
                        ))
                        .await?;
                }
                attempts.push(attempt);
            }
        }
        record.attempts = attempts;
        Ok(record)
    }

    /// The condition (model, kind, column) cleared: the next alert for it is delivered
    /// even within the cooldown, also by a dispatcher of a later process on the same store.
    /// `column: None` clears every column of the kind.
    pub async fn clear(&self, model: &str, kind: AlertKind, column: Option<&str>) -> Result<()> {
        self.load_cooldowns().await?;
        let had = {
            let mut last = self.last();
            let before = last.len();
            last.retain(|(m, k, c), _| {
                !(m == model && *k == kind && (column.is_none() || c.as_deref() == column))
            });
            last.len() != before
        };
        if had {
            self.store.clear_cooldowns(model, kind, column).await?;
        }
        Ok(())
    }
}
