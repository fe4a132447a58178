//! Batch scoring of large CSV files: streaming, parallel, bounded memory, every row
//! accounted for.
//!
//! The input is read in chunks by one thread, chunks are parsed and scored by a pool of
//! workers, and one writer puts the results back **in input order**. At most a fixed number
//! of chunks are in flight (a token ring between reader and writer), so memory does not
//! grow with the file. Rows that cannot be scored are never dropped silently: each goes to
//! the rejects file with its line number and the reason. The output is written under a
//! temporary name and renamed only when the job succeeds, so an interrupted job never
//! leaves a complete-looking `OUT.csv`.

use crate::clock::Clock;
use crate::collect::PredictionRecord;
use crate::data::{CellEncoder, UnknownLevel};
use crate::model::{Model, OutputKind};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

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
    /// sha256 of the input file's bytes.
    pub input_sha256: String,
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
    /// Input CSV (header row required).
    pub input: &'a Path,
    /// Output CSV.
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

struct Chunk {
    seq: u64,
    /// Whole CSV records (never a partial one), as raw bytes.
    bytes: Vec<u8>,
    /// The file line number of the chunk's first line.
    first_line: u64,
}

struct Scored {
    seq: u64,
    rows: u64,
    out: Vec<u8>,
    rejects: Vec<u8>,
    rejected: u64,
    record: Option<PredictionRecord>,
}

struct Plan {
    feature_cols: Vec<usize>,
    keep_cols: Vec<usize>,
    n_fields: usize,
    encoder: CellEncoder,
    classes: Option<Vec<String>>,
}

/// Run a batch-scoring job (blocking; run it on a blocking thread from async code).
pub fn score_csv(job: &BatchJob<'_>) -> Result<BatchSummary> {
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
    let started_at = job.clock.now();
    let open = || std::fs::File::open(job.input).map_err(|e| Error::io(job.input, e));
    let (header, data_offset, header_lines) = {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(BufReader::new(open()?));
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| {
                Error::Data(format!(
                    "{}: cannot read the header: {e}",
                    job.input.display()
                ))
            })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let pos = rdr.position();
        (header, pos.byte(), pos.line().saturating_sub(1))
    };
    let mut file = open()?;
    let bytes_total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let mut hasher = Sha256::new();
    {
        let mut head = vec![0u8; data_offset as usize];
        file.read_exact(&mut head)
            .map_err(|e| Error::io(job.input, e))?;
        hasher.update(&head);
        bytes_read.store(data_offset, Ordering::Relaxed);
    }
    let plan = plan(job, &header)?;

    let out_dir = parent_dir(job.output);
    let rejects_path = opts
        .rejects
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.rejects.csv", job.output.display())));
    let out_tmp = tempfile::Builder::new()
        .prefix(".mlcycle-score-")
        .tempfile_in(&out_dir)
        .map_err(|e| Error::io(&out_dir, e))?;
    let rej_dir = parent_dir(&rejects_path);
    let rej_tmp = tempfile::Builder::new()
        .prefix(".mlcycle-rejects-")
        .tempfile_in(&rej_dir)
        .map_err(|e| Error::io(&rej_dir, e))?;

    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let in_flight = threads * 2 + 2;
    let run_id = format!("batch-{}", started_at.format("%Y%m%dT%H%M%S%.6fZ"));

    let (counts, read_result) = std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<Chunk>(in_flight);
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
            let bytes_read = bytes_read.clone();
            let plan = &plan;
            s.spawn(move || {
                write_in_order(
                    job,
                    plan,
                    out,
                    rej,
                    done_rx,
                    token_tx,
                    &bytes_read,
                    bytes_total,
                )
            })
        };
        let read_result = read_chunks(
            &mut file,
            &mut hasher,
            &bytes_read,
            header_lines + 1,
            opts.chunk_rows,
            &work_tx,
            &token_rx,
        );
        drop(work_tx);
        let counts = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Numerical("the batch writer thread panicked".into())));
        (counts, read_result)
    });
    read_result.map_err(|e| Error::io(job.input, e))?;
    let (rows_read, rows_scored, rows_rejected) = counts?;
    let input_sha256 = hex::encode(hasher.finalize());

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
            .map_err(|e| Error::io(job.output, e))?;
        out_tmp
            .persist(job.output)
            .map_err(|e| Error::io(job.output, e.error))?;
        BatchOutcome::Published
    };
    Ok(BatchSummary {
        model_name: job.model_name.to_string(),
        model_version: job.model_version,
        input: job.input.display().to_string(),
        input_sha256,
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

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn plan(job: &BatchJob<'_>, header: &[String]) -> Result<Plan> {
    let sig = job.model.signature();
    let missing: Vec<&str> = sig
        .inputs
        .features
        .iter()
        .filter(|f| !header.contains(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::SchemaMismatch(format!(
            "{} lacks column(s) the model needs: {}",
            job.input.display(),
            missing.join(", ")
        )));
    }
    let find = |name: &str| header.iter().position(|h| h == name);
    let feature_cols = sig
        .inputs
        .features
        .iter()
        .filter_map(|f| find(&f.name))
        .collect();
    let keep_cols = job
        .options
        .keep
        .iter()
        .map(|k| {
            find(k).ok_or_else(|| {
                Error::not_found(
                    "column",
                    k,
                    format!(
                        "--keep names a column that {} does not have",
                        job.input.display()
                    ),
                )
            })
        })
        .collect::<Result<_>>()?;
    let classes = match sig.output() {
        OutputKind::Classes { classes } => Some(classes),
        OutputKind::Value => None,
    };
    Ok(Plan {
        feature_cols,
        keep_cols,
        n_fields: header.len(),
        encoder: CellEncoder::new(&sig.inputs, job.options.unknown, job.options.allow_missing),
        classes,
    })
}

/// Cut the input into chunks of whole records (`chunk_rows` records, or what is left), by
/// scanning for newlines outside quoted fields; the CSV parsing itself happens in the
/// workers, in parallel.
#[allow(clippy::too_many_arguments)]
fn read_chunks(
    file: &mut std::fs::File,
    hasher: &mut Sha256,
    bytes_read: &AtomicU64,
    mut line: u64,
    chunk_rows: usize,
    work_tx: &SyncSender<Chunk>,
    tokens: &Receiver<()>,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 21);
    let mut block = vec![0u8; 1 << 20];
    let (mut scan, mut in_quotes, mut rows, mut lines, mut eof, mut seq) =
        (0usize, false, 0usize, 0u64, false, 0u64);
    let mut emit = |bytes: Vec<u8>, first_line: u64| -> bool {
        // Wait for a free slot: bounds the chunks in flight. A closed ring means the writer
        // stopped (it reports its own error).
        let ok = tokens.recv().is_ok()
            && work_tx
                .send(Chunk {
                    seq,
                    bytes,
                    first_line,
                })
                .is_ok();
        seq += 1;
        ok
    };
    loop {
        while let Some(i) = memchr::memchr2(b'"', b'\n', &buf[scan..]) {
            let p = scan + i;
            scan = p + 1;
            if buf[p] == b'"' {
                in_quotes = !in_quotes;
                continue;
            }
            lines += 1;
            if in_quotes {
                continue;
            }
            rows += 1;
            if rows == chunk_rows {
                let rest = buf.split_off(scan);
                let chunk = std::mem::replace(&mut buf, rest);
                if !emit(chunk, line) {
                    return Ok(());
                }
                line += lines;
                (scan, rows, lines) = (0, 0, 0);
            }
        }
        scan = buf.len();
        if eof {
            if !buf.is_empty() {
                emit(std::mem::take(&mut buf), line);
            }
            return Ok(());
        }
        let n = file.read(&mut block)?;
        if n == 0 {
            eof = true;
        } else {
            hasher.update(&block[..n]);
            bytes_read.fetch_add(n as u64, Ordering::Relaxed);
            buf.extend_from_slice(&block[..n]);
        }
    }
}

fn worker(
    job: &BatchJob<'_>,
    plan: &Plan,
    run_id: &str,
    rx: Arc<Mutex<Receiver<Chunk>>>,
    tx: SyncSender<Result<Scored>>,
) {
    loop {
        let chunk = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(c) => c,
            Err(_) => return,
        };
        if tx.send(score_chunk(job, plan, run_id, chunk)).is_err() {
            return;
        }
    }
}

fn reject(
    w: &mut csv::Writer<Vec<u8>>,
    line: u64,
    rec: &csv::ByteRecord,
    reason: &str,
) -> Result<()> {
    let raw: Vec<&[u8]> = rec.iter().collect();
    let joined = raw.join(&b","[..]);
    w.write_record([line.to_string().as_bytes(), reason.as_bytes(), &joined])
        .map_err(|e| Error::Data(format!("cannot write a reject: {e}")))
}

fn score_chunk(job: &BatchJob<'_>, plan: &Plan, run_id: &str, chunk: Chunk) -> Result<Scored> {
    let n_feat = plan.feature_cols.len();
    let names = &job.model.signature().inputs.features;
    let mut rejects = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(chunk.bytes.as_slice());
    let mut rec = csv::ByteRecord::new();
    let (mut rows, mut rejected) = (0u64, 0u64);
    let mut values = Vec::with_capacity(job.options.chunk_rows.min(1 << 16) * n_feat);
    // Kept passthrough fields of the good rows: bytes in an arena, one range per field.
    let mut kept = Vec::new();
    let mut kept_ranges: Vec<(usize, usize)> = Vec::new();
    'rows: loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = chunk.first_line + e.position().map_or(1, |p| p.line()) - 1;
                rejects
                    .write_record([
                        line.to_string().as_bytes(),
                        format!("unreadable CSV: {e}").as_bytes(),
                        b"",
                    ])
                    .map_err(write_err)?;
                rows += 1;
                rejected += 1;
                continue;
            }
        }
        rows += 1;
        let line = chunk.first_line + rec.position().map_or(1, |p| p.line()) - 1;
        if rec.len() != plan.n_fields {
            reject(
                &mut rejects,
                line,
                &rec,
                &format!("expected {} fields, found {}", plan.n_fields, rec.len()),
            )?;
            rejected += 1;
            continue;
        }
        let start = values.len();
        for (k, &j) in plan.feature_cols.iter().enumerate() {
            match plan.encoder.encode_bytes(k, &rec[j]) {
                Ok(v) => values.push(v),
                Err(e) => {
                    values.truncate(start);
                    reject(
                        &mut rejects,
                        line,
                        &rec,
                        &format!("column `{}`: {e}", names[k].name),
                    )?;
                    rejected += 1;
                    continue 'rows;
                }
            }
        }
        for &j in &plan.keep_cols {
            let s = kept.len();
            kept.extend_from_slice(&rec[j]);
            kept_ranges.push((s, kept.len()));
        }
    }
    let n_good = values.len() / n_feat.max(1);
    let x = Array2::from_shape_vec((n_good, n_feat), values)
        .map_err(|e| Error::Numerical(format!("batch chunk shape: {e}")))?;
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(n_good * 64));
    let mut fmt = ryu::Buffer::new();
    let mut outputs = Vec::with_capacity(n_good);
    if n_good > 0 {
        let pred = job.model.predict(x.view())?;
        let n_keep = plan.keep_cols.len();
        for r in 0..n_good {
            for &(a, b) in &kept_ranges[r * n_keep..(r + 1) * n_keep] {
                out.write_field(&kept[a..b]).map_err(write_err)?;
            }
            let v = pred.values[r];
            outputs.push(v);
            match &plan.classes {
                Some(classes) => out
                    .write_field(classes.get(v as usize).map_or("", String::as_str))
                    .map_err(write_err)?,
                None => out.write_field(fmt.format(v)).map_err(write_err)?,
            }
            if let Some(p) = &pred.probabilities {
                for c in 0..p.ncols() {
                    out.write_field(fmt.format(p[[r, c]])).map_err(write_err)?;
                }
            }
            out.write_record(None::<&[u8]>).map_err(write_err)?;
        }
    }
    let record = job.collect.map(|_| PredictionRecord {
        request_id: format!("{run_id}-{}", chunk.seq),
        at: job.clock.now(),
        model_name: job.model_name.to_string(),
        model_version: job.model_version,
        inputs: x.outer_iter().map(|r| r.to_vec()).collect(),
        outputs,
        latency_us: 0,
        error: None,
    });
    Ok(Scored {
        seq: chunk.seq,
        rows,
        out: out
            .into_inner()
            .map_err(|e| Error::Data(format!("output buffer: {e}")))?,
        rejects: rejects
            .into_inner()
            .map_err(|e| Error::Data(format!("rejects buffer: {e}")))?,
        rejected,
        record,
    })
}

fn write_err(e: csv::Error) -> Error {
    Error::Data(format!("cannot format an output row: {e}"))
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
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut rej = BufWriter::new(rej);
    let io = |e| Error::io(out_path, e);
    // Headers.
    let mut h = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut cols: Vec<String> = job.options.keep.clone();
    cols.push("prediction".into());
    if let Some(classes) = &plan.classes {
        cols.extend(classes.iter().map(|c| format!("proba_{c}")));
    }
    h.write_record(&cols).map_err(write_err)?;
    out.write_all(&h.into_inner().map_err(|e| Error::Data(e.to_string()))?)
        .map_err(io)?;
    rej.write_all(b"line,reason,record\n").map_err(io)?;

    let (mut read, mut scored, mut rejected) = (0u64, 0u64, 0u64);
    let mut next = 0u64;
    let mut pending: BTreeMap<u64, Scored> = BTreeMap::new();
    for msg in done {
        let s = msg?;
        pending.insert(s.seq, s);
        while let Some(s) = pending.remove(&next) {
            out.write_all(&s.out).map_err(io)?;
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
    out.flush().map_err(io)?;
    rej.flush().map_err(io)?;
    Ok((read, scored, rejected))
}

/// The batch deployment: holds the version to score with, scores files with
/// [`BatchDeployer::score_file`] (streaming, on a blocking thread) and, through the
/// [`super::Deployer`] trait, in-memory batches. With a collector, every scored chunk is
/// appended to the prediction log (nothing dropped: batch producers wait for room).
#[derive(Debug)]
pub struct BatchDeployer {
    slot: arc_swap::ArcSwapOption<(super::DeploymentInfo, Arc<dyn Model>)>,
    clock: Arc<dyn Clock>,
    collector: Option<crate::collect::Collector>,
}

impl BatchDeployer {
    /// A batch deployer; `collector` feeds the prediction log (optional).
    pub fn new(clock: Arc<dyn Clock>, collector: Option<crate::collect::Collector>) -> Self {
        BatchDeployer {
            slot: arc_swap::ArcSwapOption::empty(),
            clock,
            collector,
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
        let serving = self.slot.load_full().ok_or_else(|| {
            Error::Conflict("no model is deployed for batch scoring; deploy a version first".into())
        })?;
        let (input, output, options) = (input.to_path_buf(), output.to_path_buf(), options.clone());
        let clock = self.clock.clone();
        let collector = self.collector.clone();
        let summary = tokio::task::spawn_blocking(move || {
            let (info, model) = serving.as_ref();
            let collect = |r| match &collector {
                Some(c) => c.record_blocking(r),
                None => Ok(()),
            };
            score_csv(&BatchJob {
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
                collect: collector
                    .as_ref()
                    .map(|_| &collect as &(dyn Fn(PredictionRecord) -> Result<()> + Sync)),
            })
        })
        .await
        .map_err(|e| Error::Numerical(format!("batch job failed: {e}")))??;
        if let Some(c) = &self.collector {
            c.flush().await?;
        }
        Ok(summary)
    }
}

#[async_trait::async_trait]
impl super::Deployer for BatchDeployer {
    fn kind(&self) -> &str {
        "batch"
    }

    async fn deploy(&self, request: super::DeployRequest) -> Result<super::DeploymentInfo> {
        let info = super::DeploymentInfo {
            deployer: self.kind().into(),
            endpoint: "batch".into(),
            model_name: request.model_name,
            version: request.version,
            since: self.clock.now(),
        };
        self.slot
            .store(Some(Arc::new((info.clone(), request.model))));
        Ok(info)
    }

    async fn current(&self) -> Option<super::DeploymentInfo> {
        self.slot.load().as_ref().map(|s| s.0.clone())
    }

    async fn predict(&self, request: super::ScoreRequest) -> Result<super::ScoreResponse> {
        let serving = self.slot.load_full().ok_or_else(|| {
            Error::Conflict("no model is deployed for batch scoring; deploy a version first".into())
        })?;
        let (info, model) = serving.as_ref();
        let request_id = request
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let prediction = model.predict(request.rows.view())?;
        if let Some(c) = &self.collector {
            c.record(PredictionRecord {
                request_id: request_id.clone(),
                at: self.clock.now(),
                model_name: info.model_name.clone(),
                model_version: info.version,
                inputs: request.rows.outer_iter().map(|r| r.to_vec()).collect(),
                outputs: prediction.values.to_vec(),
                latency_us: 0,
                error: None,
            });
        }
        Ok(super::ScoreResponse {
            request_id,
            model_name: info.model_name.clone(),
            model_version: info.version,
            prediction,
        })
    }

    async fn undeploy(&self) -> Result<()> {
        self.slot.store(None);
        if let Some(c) = &self.collector {
            c.flush().await?;
        }
        Ok(())
    }
}
