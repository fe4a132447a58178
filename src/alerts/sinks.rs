use super::Alert;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use tokio::sync::mpsc;
use uuid::Uuid;

/// One attempt at delivering an alert to a sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The sink's name (see [`AlertSink::name`]).
    pub sink: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The delivery's id (the same for every attempt of one delivery; the webhook's
    /// `X-Mlcycle-Delivery` header).
    pub delivery_id: Uuid,
    /// When the attempt began.
    pub at: DateTime<Utc>,
    /// Whether it succeeded.
    pub ok: bool,
    /// The HTTP status answered, for a webhook.
    pub status: Option<u16>,
    /// What went wrong, when it failed.
    pub error: Option<String>,
}

/// What a sink did with one alert: its attempts, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Every attempt, first to last.
    pub attempts: Vec<DeliveryAttempt>,
}

impl DeliveryReport {
    /// A report of one attempt.
    pub fn single(sink: &str, ok: bool, error: Option<String>) -> DeliveryReport {
        DeliveryReport {
            attempts: vec![DeliveryAttempt {
                sink: sink.to_string(),
                attempt: 1,
                delivery_id: Uuid::new_v4(),
                at: Utc::now(),
                ok,
                status: None,
                error,
            }],
        }
    }

    /// Whether the last attempt succeeded.
    pub fn delivered(&self) -> bool {
        self.attempts.last().is_some_and(|a| a.ok)
    }
}

/// Where alerts go: a log, a channel, a webhook, a pager — one alert at a time.
///
/// # Contract
/// - [`AlertSink::deliver`] tries to deliver one alert and reports every attempt it made,
///   in order, with `ok` set on the one that succeeded; it never panics and reports
///   failures in the attempts instead of returning an error. It must return at least one
///   attempt, and may retry internally (a bounded number of times).
/// - [`AlertSink::name`] is short and stable (it is stored with each attempt).
/// - A sink may be called concurrently for different alerts.
///
/// ```
/// use mlcycle::alerts::{Alert, AlertKind, AlertSink, DeliveryReport, Severity};
/// use std::sync::Mutex;
/// #[derive(Debug, Default)]
/// struct Pager(Mutex<Vec<String>>);
/// #[async_trait::async_trait]
/// impl AlertSink for Pager {
///     fn name(&self) -> &str { "pager" }
///     async fn deliver(&self, alert: &Alert) -> DeliveryReport {
///         self.0.lock().unwrap().push(alert.message.clone());
///         DeliveryReport::single(self.name(), true, None)
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let p = Pager::default();
/// let a = Alert::new(chrono::Utc::now(), Severity::Warning, AlertKind::Drift, "credit",
///                    "inputs drifted: retrain or investigate", "t1");
/// assert!(p.deliver(&a).await.delivered());
/// assert_eq!(p.0.lock().unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait AlertSink: Send + Sync + Debug {
    /// The sink's short name (`log`, `channel`, `webhook:<host>`).
    fn name(&self) -> &str;
    /// Deliver one alert; report every attempt.
    async fn deliver(&self, alert: &Alert) -> DeliveryReport;
}

/// A sink that writes each alert to the `tracing` log (`warn` for warnings and critical
/// alerts, `info` otherwise).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

#[async_trait]
impl AlertSink for LogSink {
    fn name(&self) -> &str {
        "log"
    }

    async fn deliver(&self, a: &Alert) -> DeliveryReport {
        let owner = a.owner.as_deref().unwrap_or("-");
        match a.severity {
            super::Severity::Info => tracing::info!(
                target: "mlcycle::alerts", id = %a.id, kind = a.kind.as_str(),
                model = %a.model_name, owner, "{}", a.message
            ),
            _ => tracing::warn!(
                target: "mlcycle::alerts", id = %a.id, kind = a.kind.as_str(),
                severity = a.severity.as_str(), model = %a.model_name, owner, "{}", a.message
            ),
        }
        DeliveryReport::single(self.name(), true, None)
    }
}

/// A sink that sends each alert on a tokio channel, for applications that embed the
/// lifecycle and handle alerts themselves.
///
/// ```
/// use mlcycle::alerts::{Alert, AlertKind, AlertSink, ChannelSink, Severity};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (sink, mut rx) = ChannelSink::new(16);
/// let a = Alert::new(chrono::Utc::now(), Severity::Info, AlertKind::Released, "credit",
///                    "credit/2 is now served", "t1");
/// assert!(sink.deliver(&a).await.delivered());
/// assert_eq!(rx.recv().await.unwrap().id, a.id);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<Alert>,
}

impl ChannelSink {
    /// A sink and the receiver of its alerts; `capacity` alerts are buffered (at least 1).
    pub fn new(capacity: usize) -> (ChannelSink, mpsc::Receiver<Alert>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (ChannelSink { tx }, rx)
    }

    /// A sink sending on an existing channel.
    pub fn from_sender(tx: mpsc::Sender<Alert>) -> ChannelSink {
        ChannelSink { tx }
    }
}

#[async_trait]
impl AlertSink for ChannelSink {
    fn name(&self) -> &str {
        "channel"
    }

    async fn deliver(&self, alert: &Alert) -> DeliveryReport {
        match self.tx.send(alert.clone()).await {
            Ok(()) => DeliveryReport::single(self.name(), true, None),
            Err(_) => DeliveryReport::single(
                self.name(),
                false,
                Some("the receiving end of the alert channel was dropped".into()),
            ),
        }
    }
}
