use super::{PredictionLog, PredictionRecord};
use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Record(PredictionRecord),
    Flush(oneshot::Sender<Result<()>>),
}

/// Counters of a [`Collector`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Records accepted into the channel.
    pub accepted: u64,
    /// Records dropped because the channel was full (the request path never waits).
    pub dropped: u64,
    /// Records that failed to be written by the log.
    pub write_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

/// A bounded, non-blocking front for a [`PredictionLog`]: `record` never waits on disk;
/// when the channel is full the record is dropped and counted. A background task writes
/// records in batches. `flush` waits until everything accepted so far is written.
#[derive(Debug, Clone)]
pub struct Collector {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl Collector {
    /// Start the writer task on the current tokio runtime with a channel of `capacity`.
    /// Errors when called outside a tokio runtime.
    pub fn spawn(log: Arc<dyn PredictionLog>, capacity: usize) -> Result<Collector> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::invalid(
                "collector",
                "it must be started inside a tokio runtime (call it from async code)",
            )
        })?;
        let (tx, mut rx) = mpsc::channel::<Msg>(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        handle.spawn(async move {
            let mut buf = Vec::with_capacity(256);
            let mut batch = Vec::new();
            while rx.recv_many(&mut buf, 256).await > 0 {
                let mut flushes = Vec::new();
                for m in buf.drain(..) {
                    match m {
                        Msg::Record(r) => batch.push(r),
                        Msg::Flush(ack) => flushes.push(ack),
                    }
                }
                let mut result = Ok(());
                if !batch.is_empty() {
                    let n = batch.len() as u64;
                    if let Err(e) = log.append(std::mem::take(&mut batch)).await {
                        c.write_errors.fetch_add(n, Ordering::Relaxed);
                        result = Err(e.to_string());
                    }
                }
                for ack in flushes {
                    let _ = ack.send(result.clone().map_err(|e| Error::Backend {
                        backend: "prediction log",
                        source: e.into(),
                    }));
                }
            }
        });
        Ok(Collector { tx, counters })
    }

    /// Hand a record to the writer without waiting; drops (and counts) it if the channel
    /// is full.
    pub fn record(&self, r: PredictionRecord) {
        match self.tx.try_send(Msg::Record(r)) {
            Ok(()) => self.counters.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// Hand a record to the writer, waiting for room in the channel: nothing is dropped.
    /// For synchronous producers (batch scoring threads); must not be called from async
    /// code (it would block a runtime worker).
    pub fn record_blocking(&self, r: PredictionRecord) -> Result<()> {
        self.tx
            .blocking_send(Msg::Record(r))
            .map_err(|_| Error::Backend {
                backend: "prediction log",
                source: "the collector's writer task has stopped".into(),
            })?;
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Wait until every record accepted before this call is written.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        let closed = || Error::Backend {
            backend: "prediction log",
            source: "the collector's writer task has stopped".into(),
        };
        self.tx.send(Msg::Flush(ack)).await.map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }

    /// Current counters.
    pub fn stats(&self) -> CollectorStats {
        CollectorStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            write_errors: self.counters.write_errors.load(Ordering::Relaxed),
        }
    }
}
