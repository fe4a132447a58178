//! Batch scoring of large CSV or Parquet files: streaming, parallel, bounded memory, every
//! row accounted for.
//!
//! The input is read in chunks by one thread (CSV: cut at line boundaries; Parquet: record
//! batches decoded from the row groups, only the needed columns), chunks are parsed, scored
//! and formatted by a pool of workers, and one writer puts the results back **in input
//! order**. The input's BLAKE3 hash (for the audit record) is computed on a thread of its
//! own.
//! At most a fixed number of chunks are in flight (a token ring between reader and
//! writer), so memory does not grow with the file. Rows that cannot be scored are never
//! dropped silently: each goes to the rejects file (always CSV) with its line number
//! (Parquet: row number) and the reason. The output is written under a temporary name and
//! renamed only when the job succeeds, so an interrupted job never leaves a
//! complete-looking `OUT.csv`.

use crate::clock::Clock;
use crate::collect::PredictionRecord;
use crate::data::{CellEncoder, UnknownLevel};
use crate::model::{Model, OutputKind};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

#[cfg(feature = "parquet")]
mod arrow_io;
mod csv_in;
mod csv_out;

/// Settings of a batch-scoring job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOptions {
    /// Input columns copied to the output unchanged (e.g. ids), before the prediction.
    pub keep: Vec<String>,
    /// Where rejected rows go (line, reason, record). Default: `<output>.rejects.csv`.
    pub rejects: Option<PathBuf>,
    /// The job fails (no output is published) when more than this share of rows is rejected.
    pub max_reject_fraction: f64,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// What to do with an unknown category: reject the row (default) or score it as missing.
    pub unknown: UnknownLevel,
    /// Let empty feature cells through as missing values (the model imputes them) instead of
    /// rejecting the row.
    pub allow_missing: bool,
    /// The longest CSV record (line) accepted, in bytes, which also bounds every field; an
    /// input with a longer one (or an endless one, such as `/dev/zero`) fails the job with
    /// an error naming its line, and nothing of it is copied anywhere. Default
    /// [`DEFAULT_MAX_LINE_BYTES`] (1 MiB).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

/// The default of [`BatchOptions::max_line_bytes`]: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            keep: vec![],
            rejects: None,
            max_reject_fraction: 0.01,
            threads: 0,
            chunk_rows: 8_192,
            unknown: UnknownLevel::Error,
            allow_missing: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcome {
    /// The output file was written.
    Published,
    /// Too many rows were rejected: no output file was written (the rejects file was).
    TooManyRejects,
}

/// The account of a batch-scoring job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Model name.
    pub model_name: String,
    /// Model version.
    pub model_version: u32,
    /// Input file.
    pub input: String,
    /// Hash of the input file's bytes, named by its algorithm: `blake3:<64 hex digits>`
    /// (BLAKE3, 256-bit output).
    pub input_hash: String,
    /// Output file.
    pub output: String,
    /// Rejects file.
    pub rejects: String,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows scored.
    pub rows_scored: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// When the job started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Whether the output was published.
    pub outcome: BatchOutcome,
}

/// Progress of a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProgress {
    /// Rows written so far (scored + rejected).
    pub rows: u64,
    /// Input bytes read so far.
    pub bytes_read: u64,
    /// Input size in bytes.
    pub bytes_total: u64,
}

/// One batch-scoring job.
pub struct BatchJob<'a> {
    /// The model.
    pub model: &'a dyn Model,
    /// Its registered name.
    pub model_name: &'a str,
    /// Its version.
    pub model_version: u32,
    /// Input: CSV with a header row, or Parquet when the name ends in `.parquet`.
    pub input: &'a Path,
    /// Output: CSV, or Parquet when the name ends in `.parquet`.
    pub output: &'a Path,
    /// Settings.
    pub options: &'a BatchOptions,
    /// Time source for the summary and collected records.
    pub clock: &'a dyn Clock,
    /// Called after each chunk is written.
    pub progress: Option<&'a (dyn Fn(BatchProgress) + Sync)>,
    /// Called with each scored chunk's record, in order (to feed the prediction log).
    pub collect: Option<&'a (dyn Fn(PredictionRecord) -> Result<()> + Sync)>,
}

/// The file format of a batch input or output, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchFormat {
    /// Comma-separated values with a header row (any extension but `.parquet`).
    Csv,
    /// Apache Parquet (`.parquet`); needs the crate's `parquet` feature.
    Parquet,
}

impl BatchFormat {
    /// `.parquet` (any case) is Parquet, anything else CSV.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") => BatchFormat::Parquet,
            _ => BatchFormat::Csv,
        }
    }
}

/// A unit of work cut by the reader.
pub(crate) enum Work {
    /// Whole CSV records (never a partial one) as raw bytes, and the file line number of
    /// the first one, and how many records (a hint for sizing buffers).
    Csv {
        bytes: Vec<u8>,
        first_line: u64,
        rows: usize,
    },
    /// A record batch of a Parquet file, and the 1-based row number of its first row.
    #[cfg(feature = "parquet")]
    Arrow {
        batch: arrow_array::RecordBatch,
        first_row: u64,
    },
}

struct Chunk {
    seq: u64,
    work: Work,
}

/// Passthrough (`keep`) values of the good rows of a chunk.
pub(crate) enum Kept {
    /// Text fields: bytes in an arena (followed by `csv_out::PAD` padding bytes), one
    /// range per (row, kept column), row-major.
    Text {
        arena: Vec<u8>,
        ranges: Vec<(usize, usize)>,
    },
    /// Arrow arrays holding only the good rows, one per kept column.
    #[cfg(feature = "parquet")]
    Arrow(Vec<arrow_array::ArrayRef>),
}

/// A decoded chunk: the feature matrix of its good rows, their kept values, its rejects.
pub(crate) struct Decoded {
    /// Rows read (scored + rejected).
    pub(crate) rows: u64,
    /// Rows rejected.
    pub(crate) rejected: u64,
    /// Rows that go on to scoring.
    pub(crate) n_good: usize,
    /// Row-major features of the good rows.
    pub(crate) values: Vec<f64>,
    pub(crate) kept: Kept,
    /// Rejects, already formatted as CSV records.
    pub(crate) rejects: Vec<u8>,
}

enum Output {
    Csv(Vec<u8>),
    #[cfg(feature = "parquet")]
    Arrow(Option<arrow_array::RecordBatch>),
}

struct Scored {
    seq: u64,
    rows: u64,
    out: Output,
    rejects: Vec<u8>,
    rejected: u64,
    record: Option<PredictionRecord>,
}

/// How to read the input.
pub(crate) enum InputPlan {
    Csv(csv_in::CsvPlan),
    #[cfg(feature = "parquet")]
    Parquet(arrow_io::ParquetPlan),
}

/// Everything the workers need to know, worked out once before any row is read.
pub(crate) struct Plan {
    pub(crate) encoder: CellEncoder,
    /// Feature names, in the model's order.
    pub(crate) names: Vec<String>,
    /// Whether each feature is numeric (else categorical).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) numeric: Vec<bool>,
    /// Kept column names.
    pub(crate) keep: Vec<String>,
    pub(crate) classes: Option<Vec<String>>,
    pub(crate) input: InputPlan,
    pub(crate) output: BatchFormat,
    /// The output schema (Parquet output).
    #[cfg(feature = "parquet")]
    pub(crate) out_schema: Option<arrow_schema::SchemaRef>,
}

impl Plan {
    fn n_feat(&self) -> usize {
        self.names.len()
    }

    /// Output column names.
    pub(crate) fn output_columns(&self) -> Vec<String> {
        let mut cols = self.keep.clone();
        cols.push("prediction".into());
        if let Some(classes) = &self.classes {
            cols.extend(classes.iter().map(|c| format!("proba_{c}")));
        }
        cols
    }
}

fn no_parquet(path: &Path) -> Error {
    Error::invalid(
        "file format",
        format!(
            "{} is a Parquet file, but this build of mlcycle has no Parquet support: \
             rebuild with the `parquet` feature or use CSV",
            path.display()
        ),
    )
}

/// The former name of [`score_file`], which it calls: it never read only CSV.
#[deprecated(note = "renamed `score_file`: it scores CSV or Parquet, by file extension")]
pub fn score_csv(job: &BatchJob<'_>) -> Result<BatchSummary> {
    score_file(job)
}

/// Run a batch-scoring job (blocking; run it on a blocking thread from async code).
///
/// Scores any supported input into any supported output: the formats follow the file
/// extensions (`.parquet` is Parquet with the `parquet` feature, anything else CSV), so
/// CSV → CSV, Parquet → Parquet, CSV → Parquet and Parquet → CSV all work. Rejects are
/// always CSV.
pub fn score_file(job: &BatchJob<'_>) -> Result<BatchSummary> {
    let opts = job.options;
    if !(0.0..=1.0).contains(&opts.max_reject_fraction) {
        return Err(Error::invalid(
            "max reject fraction",
            format!("{} must be in [0, 1]", opts.max_reject_fraction),
        ));
    }
    if opts.chunk_rows == 0 {
        return Err(Error::invalid("chunk size", "must be at least 1 row"));
    }
    if opts.max_line_bytes == 0 {
        return Err(Error::invalid("line limit", "must be at least 1 byte"));
    }
    let in_fmt = BatchFormat::from_path(job.input);
    let out_fmt = BatchFormat::from_path(job.output);
    #[cfg(not(feature = "parquet"))]
    for (f, p) in [(in_fmt, job.input), (out_fmt, job.output)] {
        if f == BatchFormat::Parquet {
            return Err(no_parquet(p));
        }
    }
    let _ = no_parquet;
    let started_at = job.clock.now();
    let input_meta = std::fs::metadata(job.input).map_err(|e| Error::io(job.input, e))?;
    let bytes_total = input_meta.len();
    let rejects_path = opts
        .rejects
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.rejects.csv", job.output.display())));
    // Where the files are published: never the input, never each other, never a device,
    // FIFO or directory; a symbolic link is written through (its target is replaced).
    let output_path = destination("--output", job.output, job.input, &input_meta)?;
    let rejects_path = destination("--rejects", &rejects_path, job.input, &input_meta)?;
    if same_destination(&output_path, &rejects_path) {
        return Err(Error::invalid(
            format!("--rejects {}", rejects_path.display()),
            "it is the output file; give the rejects their own file",
        ));
    }

    // Read the header / schema and check the columns before any work.
    let source = match in_fmt {
        BatchFormat::Csv => Source::Csv(csv_in::open(job.input, opts.max_line_bytes)?),
        #[cfg(feature = "parquet")]
        BatchFormat::Parquet => Source::Parquet(arrow_io::open(job.input)?),
        #[cfg(not(feature = "parquet"))]
        BatchFormat::Parquet => return Err(no_parquet(job.input)),
    };
    let plan = plan(job, &source, out_fmt)?;

    let out_dir = parent_dir(&output_path);
    let rej_dir = parent_dir(&rejects_path);
    // Temporaries left by jobs that were killed (their process is gone) are removed first.
    remove_stale_temporaries(&out_dir)?;
    if rej_dir != out_dir {
        remove_stale_temporaries(&rej_dir)?;
    }
    let pid = std::process::id();
    let out_prefix = format!("{TMP_SCORE}{pid}-");
    let out_tmp = published_file_builder(&out_prefix)
        .tempfile_in(&out_dir)
        .map_err(|e| Error::io(&out_dir, e))?;
    let rej_prefix = format!("{TMP_REJECTS}{pid}-");
    let rej_tmp = published_file_builder(&rej_prefix)
        .tempfile_in(&rej_dir)
        .map_err(|e| Error::io(&rej_dir, e))?;

    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let in_flight = threads * 2 + 2;
    let run_id = format!("batch-{}", started_at.format("%Y%m%dT%H%M%S%.6fZ"));
    let bytes_read = AtomicU64::new(0);
    let stop_hashing = AtomicBool::new(false);

    let (counts, read_result, hash) = std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<Chunk>(in_flight);
        // The input's BLAKE3 hash (for the audit record) on its own thread, overlapped with
        // the work. A CSV input is hashed from the chunks the reader cut (they pass
        // through the hasher on their way to the workers: the file is read once); a
        // Parquet input, read out of order, by reading the file separately.
        let (hasher, feed_tx) = match &source {
            Source::Csv(src) => {
                let header_len = src.data_offset();
                let (feed_tx, feed_rx) = sync_channel::<Chunk>(2);
                let work_tx = work_tx.clone();
                let h = s.spawn(move || hash_and_forward(job.input, header_len, feed_rx, work_tx));
                (h, feed_tx)
            }
            #[cfg(feature = "parquet")]
            Source::Parquet(_) => (
                s.spawn(|| hash_file(job.input, &stop_hashing)),
                work_tx.clone(),
            ),
        };
        drop(work_tx);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<Result<Scored>>(in_flight);
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            // The channel has exactly this capacity and its receiver is alive.
            let _ = token_tx.send(());
        }
        for _ in 0..threads {
            let rx = work_rx.clone();
            let tx = done_tx.clone();
            let plan = &plan;
            let run_id = &run_id;
            s.spawn(move || worker(job, plan, run_id, rx, tx));
        }
        drop(done_tx);
        let writer = {
            let out = out_tmp.as_file();
            let rej = rej_tmp.as_file();
            let plan = &plan;
            let bytes_read = &bytes_read;
            s.spawn(move || {
                write_in_order(
                    job,
                    plan,
                    out,
                    rej,
                    done_rx,
                    token_tx,
                    bytes_read,
                    bytes_total,
                )
            })
        };
        let mut seq = 0u64;
        let mut emit = move |work: Work| -> bool {
            // Wait for a free slot: bounds the chunks in flight. A closed ring means the
            // writer stopped (it reports its own error).
            let ok = token_rx.recv().is_ok() && feed_tx.send(Chunk { seq, work }).is_ok();
            seq += 1;
            ok
        };
        let read_result = match source {
            Source::Csv(src) => csv_in::read_chunks(
                src,
                &bytes_read,
                opts.chunk_rows,
                opts.max_line_bytes,
                &mut emit,
            )
            .map_err(|e| Error::io(job.input, e)),
            #[cfg(feature = "parquet")]
            Source::Parquet(src) => arrow_io::read_batches(
                src,
                &plan,
                job.input,
                &bytes_read,
                bytes_total,
                opts.chunk_rows,
                &mut emit,
            ),
        };
        // Closes the work queue: the workers finish, then the writer.
        drop(emit);
        let counts = writer
            .join()
            .unwrap_or_else(|_| Err(Error::task("batch writer thread", "it panicked")));
        if read_result.is_err() || counts.is_err() {
            stop_hashing.store(true, Ordering::Relaxed);
        }
        let hash = hasher
            .join()
            .unwrap_or_else(|_| Err(Error::task("input hasher thread", "it panicked")));
        (counts, read_result, hash)
    });
    read_result?;
    let (rows_read, rows_scored, rows_rejected) = counts?;
    let input_hash = hash?;

    rej_tmp
        .as_file()
        .sync_all()
        .map_err(|e| Error::io(&rejects_path, e))?;
    rej_tmp
        .persist(&rejects_path)
        .map_err(|e| Error::io(&rejects_path, e.error))?;
    let too_many =
        rows_read > 0 && rows_rejected as f64 / rows_read as f64 > opts.max_reject_fraction;
    let outcome = if too_many {
        BatchOutcome::TooManyRejects
    } else {
        out_tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(&output_path, e))?;
        out_tmp
            .persist(&output_path)
            .map_err(|e| Error::io(&output_path, e.error))?;
        BatchOutcome::Published
    };
    Ok(BatchSummary {
        model_name: job.model_name.to_string(),
        model_version: job.model_version,
        input: job.input.display().to_string(),
        input_hash,
        output: job.output.display().to_string(),
        rejects: rejects_path.display().to_string(),
        rows_read,
        rows_scored,
        rows_rejected,
        started_at,
        finished_at: job.clock.now(),
        outcome,
    })
}

/// An opened input, header or schema read.
enum Source {
    Csv(csv_in::CsvSource),
    #[cfg(feature = "parquet")]
    Parquet(arrow_io::ParquetSource),
}

/// The BLAKE3 hash (`blake3:<hex>`) of a CSV file: its first `header_len` bytes read here,
/// the rest from the chunks
/// passing through on their way to the workers (in file order, every byte once).
fn hash_and_forward(
    path: &Path,
    header_len: u64,
    feed: Receiver<Chunk>,
    work: SyncSender<Chunk>,
) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(header_len).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    hasher.update(&head);
    for chunk in feed {
        if let Work::Csv { bytes, .. } = &chunk.work {
            hasher.update(bytes);
        }
        if work.send(chunk).is_err() {
            return Err(Error::Data("hashing stopped: the job failed".into()));
        }
    }
    Ok(hash_name(&hasher))
}

/// How a finished hash is written in the summary and the audit record: the algorithm's name,
/// a colon, the hex digest.
fn hash_name(hasher: &blake3::Hasher) -> String {
    format!("blake3:{}", hasher.finalize().to_hex())
}

#[cfg_attr(not(feature = "parquet"), allow(dead_code))]
/// The BLAKE3 hash (`blake3:<hex>`) of a file's bytes, read on its own (stops early, with
/// an error nobody sees, when
/// the job has already failed).
fn hash_file(path: &Path, stop: &AtomicBool) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Data("hashing stopped: the job failed".into()));
        }
        let n = match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(&block[..n]);
    }
    Ok(hash_name(&hasher))
}

/// A temporary file that is renamed into place on success: created with the permissions
/// of an ordinary new file (0666 less the umask on Unix), not the private 0600 of a
/// temporary file, so the published output is readable like any file the user writes.
fn published_file_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b
}

/// The name prefix of an output being written (followed by the writer's process id and `-`).
const TMP_SCORE: &str = ".mlcycle-score-";
/// The name prefix of a rejects file being written.
const TMP_REJECTS: &str = ".mlcycle-rejects-";
/// A temporary whose writer cannot be told alive is stale after this long.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The path a job publishes `path` at, checked: a new file, or an existing regular file
/// (through symbolic links, whose target is replaced) that is not the input.
fn destination(
    flag: &str,
    path: &Path,
    input: &Path,
    input_meta: &std::fs::Metadata,
) -> Result<PathBuf> {
    let what = || format!("{flag} {}", path.display());
    let real = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(Error::io(path, e)),
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(target) => target,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::invalid(
                    what(),
                    "it is a symbolic link to a file that does not exist; point it at a regular file or remove it",
                ));
            }
            Err(e) => return Err(Error::io(path, e)),
        },
        Ok(_) => path.to_path_buf(),
    };
    match std::fs::metadata(&real) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&real, e)),
        Ok(m) if !m.is_file() => {
            return Err(Error::invalid(
                what(),
                "it is not a regular file (a device, FIFO, socket or directory): the result is published by renaming a finished file into place, which would replace it; write to a regular file and copy it from there",
            ));
        }
        Ok(m) if same_file(&m, input_meta) => {
            return Err(Error::invalid(
                what(),
                format!(
                    "it is the input file {}; writing it would destroy the input: choose another file",
                    input.display()
                ),
            ));
        }
        Ok(_) => {}
    }
    // The same path as the input even before it exists is impossible; a new file in the
    // input's place through another spelling is caught above once it exists.
    Ok(real)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok() && a.is_file() && b.is_file()
}

/// Whether two destinations are the same file: by identity when both exist, else by their
/// directory (resolved) and name.
fn same_destination(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return same_file(&ma, &mb);
    }
    let key = |p: &Path| {
        std::fs::canonicalize(parent_dir(p))
            .ok()
            .map(|d| d.join(p.file_name().unwrap_or_default()))
    };
    a == b || key(a).is_some_and(|k| Some(k) == key(b))
}

/// Remove the temporaries of batch jobs in `dir` that are stale: those of a process that
/// no longer runs (where that can be told, on Linux) or older than a day. Temporaries of
/// running jobs, and anything that is not one of ours, are left alone. Returns the files
/// removed.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    remove_temporaries(dir, |pid, age| match pid {
        Some(pid) if cfg!(target_os = "linux") && Path::new("/proc/self").exists() => {
            !Path::new(&format!("/proc/{pid}")).exists() || age > STALE_AFTER
        }
        _ => age > STALE_AFTER,
    })
}

/// Remove the temporaries in `dir` of batch jobs of this process (e.g. on SIGINT or
/// SIGTERM, before exiting). Returns the files removed.
pub fn remove_own_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let me = std::process::id();
    remove_temporaries(dir, |pid, _| pid == Some(me))
}

fn remove_temporaries(
    dir: &Path,
    remove: impl Fn(Option<u32>, std::time::Duration) -> bool,
) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| {
            n.strip_prefix(TMP_SCORE)
                .or_else(|| n.strip_prefix(TMP_REJECTS))
        }) else {
            continue;
        };
        // Only regular files (never follow a link someone planted).
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.file_type().is_file() {
            continue;
        }
        let pid = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<u32>().ok());
        let age = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        if remove(pid, age) {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
    Ok(removed)
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn plan(job: &BatchJob<'_>, source: &Source, output: BatchFormat) -> Result<Plan> {
    let sig = job.model.signature();
    let columns: Vec<&str> = match source {
        Source::Csv(s) => s.header.iter().map(String::as_str).collect(),
        #[cfg(feature = "parquet")]
        Source::Parquet(s) => s.column_names(),
    };
    let missing: Vec<&str> = sig
        .inputs
        .features
        .iter()
        .filter(|f| !columns.contains(&f.name.as_str()))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::SchemaMismatch(format!(
            "{} lacks column(s) the model needs: {}",
            job.input.display(),
            missing.join(", ")
        )));
    }
    if let Some(k) = job
        .options
        .keep
        .iter()
        .find(|k| !columns.contains(&k.as_str()))
    {
        return Err(Error::not_found(
            "column",
            k,
            format!(
                "--keep names a column that {} does not have",
                job.input.display()
            ),
        ));
    }
    let names: Vec<String> = sig.inputs.features.iter().map(|f| f.name.clone()).collect();
    let numeric: Vec<bool> = sig
        .inputs
        .features
        .iter()
        .map(|f| !f.is_categorical())
        .collect();
    let classes = match sig.output() {
        OutputKind::Classes { classes } => Some(classes),
        OutputKind::Value => None,
    };
    let input = match source {
        Source::Csv(s) => InputPlan::Csv(csv_in::CsvPlan::new(
            &s.header,
            &names,
            &numeric,
            &job.options.keep,
        )),
        #[cfg(feature = "parquet")]
        Source::Parquet(s) => InputPlan::Parquet(arrow_io::ParquetPlan::new(
            s,
            job.input,
            &names,
            &numeric,
            &job.options.keep,
            output,
        )?),
    };
    #[cfg(feature = "parquet")]
    let out_schema = match output {
        BatchFormat::Parquet => Some(arrow_io::output_schema(&input, &job.options.keep, &classes)),
        BatchFormat::Csv => None,
    };
    Ok(Plan {
        encoder: CellEncoder::new(&sig.inputs, job.options.unknown, job.options.allow_missing),
        names,
        numeric,
        keep: job.options.keep.clone(),
        classes,
        input,
        output,
        #[cfg(feature = "parquet")]
        out_schema,
    })
}

fn worker(
    job: &BatchJob<'_>,
    plan: &Plan,
    run_id: &str,
    rx: Arc<Mutex<Receiver<Chunk>>>,
    tx: SyncSender<Result<Scored>>,
) {
    let mut scratch = csv_in::Scratch::default();
    loop {
        let chunk = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(c) => c,
            Err(_) => return,
        };
        if tx
            .send(score_chunk(job, plan, run_id, chunk, &mut scratch))
            .is_err()
        {
            return;
        }
    }
}

fn score_chunk(
    job: &BatchJob<'_>,
    plan: &Plan,
    run_id: &str,
    chunk: Chunk,
    scratch: &mut csv_in::Scratch,
) -> Result<Scored> {
    let n_feat = plan.n_feat();
    let mut d = match chunk.work {
        Work::Csv {
            bytes,
            first_line,
            rows,
        } => match &plan.input {
            InputPlan::Csv(p) => csv_in::decode(plan, p, &bytes, first_line, rows, scratch),
            #[cfg(feature = "parquet")]
            InputPlan::Parquet(_) => unreachable!("CSV chunks come only from CSV inputs"),
        },
        #[cfg(feature = "parquet")]
        Work::Arrow { batch, first_row } => arrow_io::decode(plan, &batch, first_row)?,
    };
    let x = ArrayView2::from_shape((d.n_good, n_feat), &d.values)
        .map_err(|e| Error::Numerical(format!("batch chunk shape: {e}")))?;
    let pred = if d.n_good > 0 {
        Some(job.model.predict(x)?)
    } else {
        None
    };
    let out = match plan.output {
        BatchFormat::Csv => {
            let mut buf = Vec::with_capacity(d.n_good * 64);
            if let Some(pred) = &pred {
                csv_out::format_rows(plan, &d, pred, &mut buf)?;
            }
            Output::Csv(buf)
        }
        #[cfg(feature = "parquet")]
        BatchFormat::Parquet => Output::Arrow(match &pred {
            Some(pred) => Some(arrow_io::output_batch(plan, &d, pred)?),
            None => None,
        }),
        #[cfg(not(feature = "parquet"))]
        BatchFormat::Parquet => unreachable!("refused before the job starts"),
    };
    let rejects = std::mem::take(&mut d.rejects);
    let (rows, rejected) = (d.rows, d.rejected);
    let record = job.collect.map(|_| PredictionRecord {
        request_id: format!("{run_id}-{}", chunk.seq),
        at: job.clock.now(),
        model_name: job.model_name.to_string(),
        model_version: job.model_version,
        inputs: x.outer_iter().map(|r| r.to_vec()).collect(),
        outputs: pred.as_ref().map_or_else(Vec::new, |p| p.values.to_vec()),
        probabilities: pred
            .as_ref()
            .and_then(|p| p.probabilities.as_ref())
            .map_or_else(Vec::new, |p| p.outer_iter().map(|r| r.to_vec()).collect()),
        latency_us: 0,
        error: None,
        notes: vec![],
    });
    drop(pred);
    scratch.recycle(d);
    Ok(Scored {
        seq: chunk.seq,
        rows,
        out,
        rejects,
        rejected,
        record,
    })
}

/// Where the ordered output goes.
enum Sink<'f> {
    Csv(BufWriter<&'f std::fs::File>),
    #[cfg(feature = "parquet")]
    Parquet(Box<arrow_io::ParquetSink<'f>>),
}

#[allow(clippy::too_many_arguments)]
fn write_in_order(
    job: &BatchJob<'_>,
    plan: &Plan,
    out: &std::fs::File,
    rej: &std::fs::File,
    done: Receiver<Result<Scored>>,
    tokens: SyncSender<()>,
    bytes_read: &AtomicU64,
    bytes_total: u64,
) -> Result<(u64, u64, u64)> {
    let out_path = job.output;
    let io = |e| Error::io(out_path, e);
    let mut sink = match plan.output {
        BatchFormat::Csv => {
            let mut w = BufWriter::with_capacity(1 << 20, out);
            w.write_all(&csv_out::header(&plan.output_columns())?)
                .map_err(io)?;
            Sink::Csv(w)
        }
        #[cfg(feature = "parquet")]
        BatchFormat::Parquet => {
            Sink::Parquet(Box::new(arrow_io::ParquetSink::new(out, plan, out_path)?))
        }
        #[cfg(not(feature = "parquet"))]
        BatchFormat::Parquet => unreachable!("refused before the job starts"),
    };
    let mut rej = BufWriter::new(rej);
    let number = match plan.input {
        InputPlan::Csv(_) => "line",
        #[cfg(feature = "parquet")]
        InputPlan::Parquet(_) => "row",
    };
    rej.write_all(format!("{number},reason,record\n").as_bytes())
        .map_err(io)?;

    let (mut read, mut scored, mut rejected) = (0u64, 0u64, 0u64);
    let mut next = 0u64;
    let mut pending: BTreeMap<u64, Scored> = BTreeMap::new();
    for msg in done {
        let s = msg?;
        pending.insert(s.seq, s);
        while let Some(s) = pending.remove(&next) {
            match (&mut sink, s.out) {
                (Sink::Csv(w), Output::Csv(bytes)) => w.write_all(&bytes).map_err(io)?,
                #[cfg(feature = "parquet")]
                (Sink::Parquet(w), Output::Arrow(batch)) => {
                    if let Some(b) = batch {
                        w.write(b)?;
                    }
                }
                #[cfg(feature = "parquet")]
                _ => unreachable!("workers produce the sink's format"),
            }
            rej.write_all(&s.rejects).map_err(io)?;
            read += s.rows;
            rejected += s.rejected;
            scored += s.rows - s.rejected;
            if let (Some(collect), Some(r)) = (job.collect, s.record)
                && !r.inputs.is_empty()
            {
                collect(r)?;
            }
            next += 1;
            let _ = tokens.send(());
            if let Some(p) = job.progress {
                p(BatchProgress {
                    rows: read,
                    bytes_read: bytes_read.load(Ordering::Relaxed),
                    bytes_total,
                });
            }
        }
    }
    match sink {
        Sink::Csv(mut w) => w.flush().map_err(io)?,
        #[cfg(feature = "parquet")]
        Sink::Parquet(w) => w.finish()?,
    }
    rej.flush().map_err(io)?;
    Ok((read, scored, rejected))
}

/// Batch scoring as a deployment: holds the version to score with, scores files with
/// [`BatchDeployer::score_file`] (streaming, on a blocking thread) and, through the
/// [`super::Deployer`] trait, in-memory batches. With a collector, every scored chunk is
/// appended to the prediction log (nothing dropped: batch producers wait for room).
///
/// It implements [`super::Deployer`] because it keeps the trait's whole contract: `deploy`
/// swaps the version atomically (a file job loads it once and is scored entirely by it),
/// `current` names it, `predict` answers with it and is recorded, `undeploy` stops it and
/// flushes the log; `deployer_conformance` checks this as for every deployer. It is a
/// [`super::ModelSlot`] inside a [`super::Recorded`] wrapper, plus file scoring with the
/// same [`super::Recorder`].
#[derive(Debug)]
pub struct BatchDeployer {
    inner: super::Recorded<super::ModelSlot>,
    clock: Arc<dyn Clock>,
}

impl BatchDeployer {
    /// A batch deployer; `collector` feeds the prediction log (optional).
    pub fn new(clock: Arc<dyn Clock>, collector: Option<crate::collect::Collector>) -> Self {
        let recorder = collector.map(|c| super::Recorder::new(c, clock.clone()));
        BatchDeployer {
            inner: super::Recorded::with_optional(super::ModelSlot::batch(clock.clone()), recorder),
            clock,
        }
    }

    /// Score `input` into `output` with the deployed version. `progress` is called after each
    /// chunk is written (from the job's writer thread).
    pub async fn score_file(
        &self,
        input: &Path,
        output: &Path,
        options: &BatchOptions,
        progress: Option<Arc<dyn Fn(BatchProgress) + Send + Sync>>,
    ) -> Result<BatchSummary> {
        let (info, model) = self.inner.inner().serving()?;
        let (input, output, options) = (input.to_path_buf(), output.to_path_buf(), options.clone());
        let recorder = self.inner.recorder().cloned();
        let clock = self.clock.clone();
        let summary = tokio::task::spawn_blocking(move || {
            let collect = |r| match &recorder {
                Some(rec) => rec.record_blocking(r),
                None => Ok(()),
            };
            score_file(&BatchJob {
                model: model.as_ref(),
                model_name: &info.model_name,
                model_version: info.version,
                input: &input,
                output: &output,
                options: &options,
                clock: clock.as_ref(),
                progress: progress
                    .as_deref()
                    .map(|p| p as &(dyn Fn(BatchProgress) + Sync)),
                collect: recorder
                    .as_ref()
                    .map(|_| &collect as &(dyn Fn(PredictionRecord) -> Result<()> + Sync)),
            })
        })
        .await
        .map_err(|e| Error::task("batch scoring", e))??;
        if let Some(r) = self.inner.recorder() {
            r.flush().await?;
        }
        Ok(summary)
    }
}

#[async_trait::async_trait]
#[deny(clippy::missing_trait_methods)]
impl super::Deployer for BatchDeployer {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    async fn deploy(&self, request: super::DeployRequest) -> Result<super::DeploymentInfo> {
        self.inner.deploy(request).await
    }

    async fn current(&self) -> Option<super::DeploymentInfo> {
        self.inner.current().await
    }

    async fn predict(&self, request: super::ScoreRequest) -> Result<super::ScoreResponse> {
        self.inner.predict(request).await
    }

    async fn undeploy(&self) -> Result<()> {
        self.inner.undeploy().await
    }
}
