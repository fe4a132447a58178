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
    /// Records not kept because sampling left their request out
    /// ([`Collector::with_sampling_rate`]).
    pub sampled_out: u64,
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
    sampled_out: AtomicU64,
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
    /// Requests whose id hashes below this are kept (`u64::MAX`: all of them).
    keep_below: u64,
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
            keep_below: u64::MAX,
        })
    }

    /// Keep only a share `rate` (0 < rate ≤ 1) of the requests, chosen by request id: a
    /// request is kept when a hash of its id falls in the first `rate` of the hash range, so
    /// the choice is the same on every run, every server and for every record of the request
    /// (a shadow challenger's record is kept exactly when the champion's is). The others are
    /// counted as [`CollectorStats::sampled_out`]. For deployments whose log would outgrow
    /// the disk: a sample chosen up front instead of drops under pressure.
    pub fn with_sampling_rate(mut self, rate: f64) -> Result<Collector> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(Error::invalid(
                "sampling rate",
                format!("{rate} is not in (0, 1]; use 1 to keep every request, 0.1 for one in ten"),
            ));
        }
        // 2^64 · rate, saturating at u64::MAX for rate = 1.
        self.keep_below = if rate >= 1.0 {
            u64::MAX
        } else {
            (rate * 18_446_744_073_709_551_616.0) as u64
        };
        Ok(self)
    }

    /// Whether sampling keeps the request `request_id`.
    pub fn samples(&self, request_id: &str) -> bool {
        self.keep_below == u64::MAX || id_hash(request_id) < self.keep_below
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
        if !self.samples(&r.request_id) {
            self.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
            return;
        }
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
        if !self.samples(&r.request_id) {
            self.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
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
            sampled_out: self.counters.sampled_out.load(Ordering::Relaxed),
        }
    }
}

/// A 64-bit hash of a request id, the same on every platform and release: FNV-1a over the
/// bytes, then the SplitMix64 finaliser to spread the bits.
fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
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
                        probabilities: r.probabilities,
                        latency_us: r.latency_us,
                        error: r.error,
                        notes: vec![],
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::InMemoryPredictionLog;
    use chrono::{TimeZone, Utc};

    #[test]
    fn request_id_hash_is_fnv1a_then_splitmix64() {
        // Values computed independently (Python, 64-bit wrapping arithmetic): a change of
        // the hash would change which requests every deployment samples.
        assert_eq!(id_hash(""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(id_hash("req-42"), 0x3034_2201_2213_dedf);
        assert_eq!(id_hash("2026-d059-r0039"), 0xaaa0_8abc_0127_3d5f);
    }

    #[tokio::test]
    async fn sampling_keeps_a_share_chosen_by_request_id() {
        let spawn = || Collector::spawn(Arc::new(InMemoryPredictionLog::default()), 1 << 16);
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let e = spawn()
                .unwrap()
                .with_sampling_rate(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("sampling rate") && e.contains("(0, 1]"), "{e}");
        }
        let log = Arc::new(InMemoryPredictionLog::default());
        let c = Collector::spawn(log.clone(), 1 << 16)
            .unwrap()
            .with_sampling_rate(0.25)
            .unwrap();
        let other = spawn().unwrap().with_sampling_rate(0.25).unwrap();
        let all = spawn().unwrap().with_sampling_rate(1.0).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let n = 20_000;
        let mut kept = Vec::new();
        for i in 0..n {
            let id = format!("{:08x}-{i}", i * 2_654_435_761u64 % 4_294_967_291);
            assert!(all.samples(&id));
            // The same decision from another collector with the same rate.
            assert_eq!(c.samples(&id), other.samples(&id), "{id}");
            if c.samples(&id) {
                kept.push(id.clone());
            }
            c.record(PredictionRecord {
                request_id: id,
                at: t,
                model_name: "m".into(),
                model_version: 1,
                inputs: vec![vec![i as f64]],
                outputs: vec![0.0],
                probabilities: vec![],
                latency_us: 1,
                error: None,
                notes: vec![],
            });
        }
        c.flush().await.unwrap();
        let s = c.stats();
        // 0.25 ± 6 standard deviations of a binomial share over 20,000 requests.
        let share = s.accepted as f64 / n as f64;
        assert!(
            (share - 0.25).abs() < 6.0 * (0.25f64 * 0.75 / n as f64).sqrt(),
            "{share}"
        );
        assert_eq!(s.accepted + s.sampled_out, n);
        assert_eq!(s.dropped, 0);
        let stored: Vec<String> = log
            .read_window(t, t + chrono::TimeDelta::hours(1))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.request_id)
            .collect();
        assert_eq!(stored, kept);
    }
}
