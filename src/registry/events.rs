//! Registry events: the persisted, sequence-numbered stream of changes, and live
//! subscriptions that replay it from a cursor.

use super::{Registry, VersionStatus};
use crate::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::ops::Deref;
use std::time::Duration;
use tokio::sync::broadcast;

/// Something that happened in the registry, with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEvent {
    /// Position in the registry's event stream (1, 2, ...).
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: RegistryEventKind,
}

/// The kinds of registry events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistryEventKind {
    /// A new version was registered.
    VersionCreated {
        /// Model.
        name: String,
        /// Version.
        version: u32,
    },
    /// An alias was set or moved.
    AliasSet {
        /// Model.
        name: String,
        /// Alias.
        alias: String,
        /// New target version.
        version: u32,
        /// Previous target, if it moved.
        previous: Option<u32>,
    },
    /// An alias was deleted.
    AliasDeleted {
        /// Model.
        name: String,
        /// Alias.
        alias: String,
        /// The version it pointed to.
        previous: u32,
    },
    /// A version's status changed.
    StatusChanged {
        /// Model.
        name: String,
        /// Version.
        version: u32,
        /// New status.
        status: VersionStatus,
    },
    /// A tag was set on a version.
    TagSet {
        /// Model.
        name: String,
        /// Version.
        version: u32,
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
    /// A version's description was changed.
    DescriptionSet {
        /// Model.
        name: String,
        /// Version.
        version: u32,
    },
    /// A version was deleted (its aliases, if forced, were deleted first, each with its own
    /// [`RegistryEventKind::AliasDeleted`]).
    VersionDeleted {
        /// Model.
        name: String,
        /// Version.
        version: u32,
    },
}

/// Capacity of a backend's live broadcast channel. A subscriber that falls further behind
/// than this is not lost: it re-reads the persisted events from its cursor.
pub const LIVE_CHANNEL_CAPACITY: usize = 1024;

/// How often a subscription re-reads the persisted events while nothing arrives live
/// (catches events written by other processes sharing the store).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A subscription to a registry's events, starting after a cursor.
///
/// [`next`](EventSubscription::next) first replays the persisted events with a sequence
/// number greater than the cursor, then follows new ones as they happen: live from the
/// backend's broadcast channel when it has one, and by re-reading
/// [`Registry::events_since`] every poll interval when the channel is quiet (so events
/// written by other processes on a shared store arrive too). Events come in sequence order,
/// each once per subscription. A subscriber that stores the `seq` of each event it has
/// handled and resubscribes from it after a restart misses none (at-least-once delivery).
///
/// `P` is any pointer to a registry: `&dyn Registry`, `Arc<dyn Registry>`,
/// `&SqliteRegistry`, ... (use an `Arc` to move the subscription into a spawned task).
///
/// ```
/// use mlcycle::registry::{EventSubscription, InMemoryRegistry, Registry, RegistryExt};
/// use mlcycle::clock::SystemClock;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let registry: Arc<dyn Registry> = Arc::new(InMemoryRegistry::new(Arc::new(SystemClock)));
/// let mut events = EventSubscription::new(registry.clone(), 0);
/// let follower = tokio::spawn(async move { events.next().await.map(|e| e.seq) });
/// # let data = mlcycle::testing::CreditDefault::new(1)
/// #     .sample(200, &mlcycle::testing::DriftSpec::none(), 0).unwrap();
/// # let model = mlcycle::train::fit_logistic(&data,
/// #     &mlcycle::train::LogisticParams::default().check().unwrap()).unwrap();
/// # use mlcycle::model::Model;
/// # let new = mlcycle::registry::NewVersion { artifact: model.to_artifact().unwrap(),
/// #     lineage: Default::default(), metrics: Default::default(), tags: Default::default(),
/// #     description: String::new() };
/// registry.register("credit", new).await.unwrap();
/// assert_eq!(follower.await.unwrap().unwrap(), 1);
/// # });
/// ```
#[derive(Debug)]
pub struct EventSubscription<P> {
    registry: P,
    cursor: u64,
    live: Option<broadcast::Receiver<RegistryEvent>>,
    buffer: VecDeque<RegistryEvent>,
    poll_interval: Duration,
}

impl<P> EventSubscription<P>
where
    P: Deref,
    P::Target: Registry,
{
    /// Subscribe to `registry`'s events with a sequence number greater than `cursor`
    /// (0: from the beginning).
    pub fn new(registry: P, cursor: u64) -> Self {
        let live = registry.live_events();
        EventSubscription {
            registry,
            cursor,
            live,
            buffer: VecDeque::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Change how often persisted events are re-read while nothing arrives live.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.max(Duration::from_millis(1));
        self
    }

    /// The sequence number of the last event returned (or the starting cursor).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next event, waiting for one if needed. Cancel-safe: dropping the future loses
    /// no event.
    pub async fn next(&mut self) -> Result<RegistryEvent> {
        loop {
            if let Some(e) = self.take_buffered() {
                return Ok(e);
            }
            let persisted = self.registry.events_since(self.cursor).await?;
            self.buffer.extend(persisted);
            if let Some(e) = self.take_buffered() {
                return Ok(e);
            }
            // Nothing persisted after the cursor: wait for a live event or the poll timer.
            let poll = tokio::time::sleep(self.poll_interval);
            tokio::pin!(poll);
            loop {
                let Some(rx) = self.live.as_mut() else {
                    poll.as_mut().await;
                    break;
                };
                tokio::select! {
                    r = rx.recv() => match r {
                        // Already returned (replayed from the persisted stream).
                        Ok(e) if e.seq <= self.cursor => continue,
                        Ok(e) if e.seq == self.cursor + 1 => {
                            self.cursor = e.seq;
                            return Ok(e);
                        }
                        // A gap (events from another process) or a lag: re-read the
                        // persisted stream.
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            self.live = None;
                        }
                    },
                    _ = poll.as_mut() => break,
                }
            }
        }
    }

    /// Turn the subscription into a [`Stream`](futures_util::Stream) of events.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<RegistryEvent>>
    where
        P: Send,
    {
        futures_util::stream::unfold(self, |mut sub| async move {
            let e = sub.next().await;
            Some((e, sub))
        })
    }

    fn take_buffered(&mut self) -> Option<RegistryEvent> {
        while let Some(e) = self.buffer.pop_front() {
            if e.seq > self.cursor {
                self.cursor = e.seq;
                return Some(e);
            }
        }
        None
    }
}
