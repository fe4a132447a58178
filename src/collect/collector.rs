use super::{BatchWriter, PredictionLog, PredictionRecord, RequestRecord};
use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Most messages the writer takes off the channel at once.
const BATCH_MESSAGES: usize = 8_192;

/// How long the writer thread lets records gather after a partial batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// The byte bound of [`Collector::spawn`].
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

enum Msg {
    /// A record and the bytes it was counted for.
    Record(RequestRecord, usize),
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

/// How much a [`Collector`] holds before it drops records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorLimits {
    /// Most records waiting to be written.
    pub max_records: usize,
    /// Most memory the waiting records may hold, in bytes (as estimated by
    /// [`RequestRecord::queued_bytes`]). A single record larger than this is still
    /// accepted when nothing else is waiting.
    pub max_bytes: usize,
}

impl Default for CollectorLimits {
    fn default() -> Self {
        CollectorLimits {
            max_records: 16_384,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    /// Bytes of the records accepted and not yet written.
    queued_bytes: AtomicUsize,
}

/// A bounded, non-blocking front for a [`PredictionLog`]: `record` never waits on disk;
/// when the queue is full (in records or in bytes, see [`CollectorLimits`]) the record is
/// dropped and counted. A background writer stores records in large batches — on a
/// dedicated thread through the log's [`PredictionLog::batch_writer`] when it has one,
/// else through [`PredictionLog::append`] on the runtime. `flush` waits until everything
/// accepted so far is written.
#[derive(Debug, Clone)]
pub struct Collector {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    max_bytes: usize,
    wants_json_text: bool,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Record(r, _) => write!(f, "Record({})", r.request_id),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

/// Split drained messages into records and flush acknowledgements; returns the bytes the
/// records were counted for.
fn split(
    msgs: &mut Vec<Msg>,
    batch: &mut Vec<RequestRecord>,
    flushes: &mut Vec<oneshot::Sender<Result<()>>>,
) -> usize {
    let mut bytes = 0;
    for m in msgs.drain(..) {
        match m {
            Msg::Record(r, cost) => {
                bytes += cost;
                batch.push(r);
            }
            Msg::Flush(ack) => flushes.push(ack),
        }
    }
    bytes
}

fn acknowledge(flushes: &mut Vec<oneshot::Sender<Result<()>>>, result: &Result<(), String>) {
    for ack in flushes.drain(..) {
        let _ = ack.send(result.clone().map_err(|e| Error::Backend {
            backend: "prediction log",
            source: e.into(),
        }));
    }
}

impl Collector {
    /// Start the writer on the current tokio runtime with room for `capacity` records
    /// (and at most 64 MiB of them). Errors when called outside a tokio runtime.
    pub fn spawn(log: Arc<dyn PredictionLog>, capacity: usize) -> Result<Collector> {
        Self::spawn_with_limits(
            log,
            CollectorLimits {
                max_records: capacity,
                max_bytes: DEFAULT_MAX_BYTES,
            },
        )
    }

    /// Start the writer with the given limits. Errors when called outside a tokio runtime.
    pub fn spawn_with_limits(
        log: Arc<dyn PredictionLog>,
        limits: CollectorLimits,
    ) -> Result<Collector> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::invalid(
                "collector",
                "it must be started inside a tokio runtime (call it from async code)",
            )
        })?;
        let (tx, rx) = mpsc::channel::<Msg>(limits.max_records.max(1));
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let mut wants_json_text = false;
        match log.batch_writer() {
            Some(writer) => {
                wants_json_text = writer.wants_json_text();
                std::thread::Builder::new()
                    .name("mlcycle-collector".into())
                    .spawn(move || write_on_thread(rx, writer, &c))
                    .map_err(|e| Error::Backend {
                        backend: "prediction log",
                        source: format!("could not start the collector's writer thread: {e}")
                            .into(),
                    })?;
            }
            None => {
                handle.spawn(write_on_runtime(rx, log, c));
            }
        }
        Ok(Collector {
            tx,
            counters,
            max_bytes: limits.max_bytes.max(1),
            wants_json_text,
        })
    }

    /// Hand a record to the writer without waiting; drops (and counts) it if the queue
    /// is full.
    pub fn record(&self, r: PredictionRecord) {
        self.record_request(r.into());
    }

    /// Whether the log stores inputs given as JSON text ([`super::RecordInputs::Json`])
    /// more cheaply than the scored matrix (see [`BatchWriter::wants_json_text`]).
    pub fn wants_json_text(&self) -> bool {
        self.wants_json_text
    }

    /// Hand a compact record to the writer without waiting; drops (and counts) it if the
    /// queue is full. The request path of a server calls this.
    pub fn record_request(&self, r: RequestRecord) {
        let cost = r.queued_bytes();
        let before = self
            .counters
            .queued_bytes
            .fetch_add(cost, Ordering::Relaxed);
        if before > 0 && before.saturating_add(cost) > self.max_bytes {
            self.counters
                .queued_bytes
                .fetch_sub(cost, Ordering::Relaxed);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.tx.try_send(Msg::Record(r, cost)) {
            Ok(()) => self.counters.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => {
                self.counters
                    .queued_bytes
                    .fetch_sub(cost, Ordering::Relaxed);
                self.counters.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Hand a record to the writer, waiting for room in the channel: nothing is dropped.
    /// For synchronous producers (batch scoring threads); must not be called from async
    /// code (it would block a runtime worker).
    pub fn record_blocking(&self, r: PredictionRecord) -> Result<()> {
        let r = RequestRecord::from(r);
        let cost = r.queued_bytes();
        self.counters
            .queued_bytes
            .fetch_add(cost, Ordering::Relaxed);
        if self.tx.blocking_send(Msg::Record(r, cost)).is_err() {
            self.counters
                .queued_bytes
                .fetch_sub(cost, Ordering::Relaxed);
            return Err(Error::Backend {
                backend: "prediction log",
                source: "the collector's writer task has stopped".into(),
            });
        }
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

/// The writer loop on a dedicated thread: drain, write the batch synchronously, repeat.
fn write_on_thread(mut rx: mpsc::Receiver<Msg>, mut writer: Box<dyn BatchWriter>, c: &Counters) {
    let mut msgs = Vec::with_capacity(256);
    let mut batch = Vec::with_capacity(256);
    let mut flushes = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        msgs.push(first);
        while msgs.len() < BATCH_MESSAGES {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let drained = msgs.len();
        let bytes = split(&mut msgs, &mut batch, &mut flushes);
        let mut result = Ok(());
        if !batch.is_empty() {
            if let Err(e) = writer.write(&batch) {
                c.write_errors
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                result = Err(e.to_string());
            }
            batch.clear();
            if batch.capacity() > 4 * BATCH_MESSAGES {
                batch.shrink_to(256);
            }
        }
        c.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        let waited_on = !flushes.is_empty();
        acknowledge(&mut flushes, &result);
        if drained < BATCH_MESSAGES && !waited_on && rx.is_empty() {
            // Nothing waiting: let records gather for a moment instead of being woken by
            // each one (under light load that turns one wake-up per request into one per
            // batch); when records are waiting, go on at once.
            std::thread::sleep(LINGER);
        }
    }
}

/// The writer loop on the runtime, for logs without a batch writer.
async fn write_on_runtime(
    mut rx: mpsc::Receiver<Msg>,
    log: Arc<dyn PredictionLog>,
    c: Arc<Counters>,
) {
    let mut msgs = Vec::with_capacity(256);
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while rx.recv_many(&mut msgs, BATCH_MESSAGES).await > 0 {
        let bytes = split(&mut msgs, &mut batch, &mut flushes);
        let mut result = Ok(());
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let records: Vec<PredictionRecord> = batch
                .drain(..)
                .map(|r| match r.inputs {
                    super::RecordInputs::Rows(inputs) => PredictionRecord {
                        request_id: r.request_id,
                        at: r.at,
                        model_name: r.model_name.to_string(),
                        model_version: r.model_version,
                        inputs,
                        outputs: r.outputs,
                        latency_us: r.latency_us,
                        error: r.error,
                    },
                    super::RecordInputs::Matrix(_) | super::RecordInputs::Json(_) => r.to_record(),
                })
                .collect();
            if let Err(e) = log.append(records).await {
                c.write_errors.fetch_add(n, Ordering::Relaxed);
                result = Err(e.to_string());
            }
        }
        c.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        acknowledge(&mut flushes, &result);
    }
}
