use super::binary::{self, FrameEncoder};
use super::jsonl::{write_line, write_line_head, write_line_tail};
use super::{BatchWriter, PredictionLog, PredictionRecord, RecordInputs, RequestRecord};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Timelike, Utc};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a [`FilePredictionLog`] writes records (it reads both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Length-prefixed, checksummed binary frames with the values as 8-byte floats, in
    /// `HH.predlog` files: about 2.4× less to write than JSON for full-precision inputs, and
    /// nothing to format. The default.
    #[default]
    Binary,
    /// One JSON object per line, in `HH.jsonl` files: readable by any JSON tool.
    JsonLines,
}

impl LogFormat {
    /// Both formats, in the order a reader visits an hour's files.
    pub const ALL: [LogFormat; 2] = [LogFormat::JsonLines, LogFormat::Binary];

    /// The extension of this format's hour files (`predlog` or `jsonl`).
    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Binary => "predlog",
            LogFormat::JsonLines => "jsonl",
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Binary => "binary",
            LogFormat::JsonLines => "jsonl",
        })
    }
}

impl std::str::FromStr for LogFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "binary" => Ok(LogFormat::Binary),
            "jsonl" => Ok(LogFormat::JsonLines),
            other => Err(Error::invalid(
                "prediction log format",
                format!("`{other}` is not one; use `binary` or `jsonl`"),
            )),
        }
    }
}

/// A prediction log on disk, partitioned by hour (see the module docs for both formats).
///
/// ```
/// use mlcycle::collect::{FilePredictionLog, LogFormat, PredictionLog, PredictionRecord};
/// use chrono::{TimeZone, Utc, Duration};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 0).unwrap();
/// let record = |id: &str| PredictionRecord {
///     request_id: id.into(), at: t, model_name: "credit".into(), model_version: 3,
///     inputs: vec![vec![41.0, f64::NAN]], outputs: vec![1.0], probabilities: vec![], latency_us: 40, error: None, notes: vec![],
/// };
/// // Written in binary (the default), then as JSON lines into the same directory:
/// FilePredictionLog::open(dir.path()).unwrap().append(vec![record("a")]).await.unwrap();
/// let log = FilePredictionLog::open_with_format(dir.path(), LogFormat::JsonLines).unwrap();
/// log.append(vec![record("b")]).await.unwrap();
/// assert!(dir.path().join("2026/03/01/12.predlog").exists());
/// assert!(dir.path().join("2026/03/01/12.jsonl").exists());
/// // Either handle reads both.
/// let back = log.read_window(t, t + Duration::hours(1)).await.unwrap();
/// assert_eq!(back.len(), 2);
/// assert!(back.iter().all(|r| r.inputs[0][0] == 41.0 && r.inputs[0][1].is_nan()));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct FilePredictionLog {
    dir: PathBuf,
    format: LogFormat,
    /// Damaged records readers skipped (shared by clones).
    skipped: Arc<AtomicU64>,
    retention: Retention,
}

/// How much of a [`FilePredictionLog`] is kept: hour partitions older than `max_age`, and the
/// oldest partitions while the log holds more than `max_bytes`, are deleted — never the
/// partition of the hour being written. Nothing is deleted by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep hours that ended at most this long ago.
    pub max_age: Option<TimeDelta>,
    /// Keep at most this many bytes of partition files.
    pub max_bytes: Option<u64>,
}

/// What [`FilePredictionLog::enforce_retention`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Partition files deleted.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl FilePredictionLog {
    /// A log rooted at `dir` (created if missing) that writes [`LogFormat::Binary`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with_format(dir, LogFormat::default())
    }

    /// A log rooted at `dir` (created if missing) that writes `format`.
    pub fn open_with_format(dir: impl Into<PathBuf>, format: LogFormat) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(FilePredictionLog {
            dir,
            format,
            skipped: Arc::default(),
            retention: Retention::default(),
        })
    }

    /// Keep only what `retention` allows; the log's writer enforces it each time it starts
    /// a new hour's partition (see [`FilePredictionLog::enforce_retention`]).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The retention this log enforces.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Delete the partitions the retention does not keep, as of `now`: hours that ended more
    /// than `max_age` before `now`, then the oldest hours while the files add up to more than
    /// `max_bytes`. The hour containing `now` (the one being written) is never deleted.
    /// Emptied day, month and year folders are removed too.
    pub fn enforce_retention(&self, now: DateTime<Utc>) -> Result<Pruned> {
        let r = self.retention;
        let mut pruned = Pruned::default();
        if r.max_age.is_none() && r.max_bytes.is_none() {
            return Ok(pruned);
        }
        let current = now
            .duration_trunc(TimeDelta::hours(1))
            .map_err(|e| Error::invalid("retention time", e.to_string()))?;
        // Each hour with its partition files and their sizes, oldest first.
        type Files = Vec<(PathBuf, u64)>;
        let mut hours: Vec<(DateTime<Utc>, Files)> = Vec::new();
        for h in self.hours()? {
            let mut files = Vec::new();
            for f in LogFormat::ALL {
                let p = self.partition_in(h, f);
                match std::fs::metadata(&p) {
                    Ok(m) => files.push((p, m.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&p, e)),
                }
            }
            hours.push((h, files));
        }
        let mut total: u64 = hours.iter().flat_map(|(_, f)| f.iter().map(|x| x.1)).sum();
        for (h, files) in &hours {
            if *h >= current {
                break;
            }
            let too_old = r
                .max_age
                .is_some_and(|age| *h + TimeDelta::hours(1) + age <= now);
            let too_big = r.max_bytes.is_some_and(|max| total > max);
            if !(too_old || too_big) {
                // Hours are oldest first: once one is kept by both rules, the rest are too.
                break;
            }
            for (p, len) in files {
                match std::fs::remove_file(p) {
                    Ok(()) => {
                        pruned.files += 1;
                        pruned.bytes += len;
                        total -= len;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(p, e)),
                }
                // Empty day, month and year folders go too (a folder that is not empty stays).
                let mut dir = p.parent();
                while let Some(d) = dir {
                    if d == self.dir || std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
        Ok(pruned)
    }

    /// How many damaged records the reads of this log (and its clones) have skipped so far:
    /// JSON lines that do not parse as a record, and binary frames whose checksum holds but
    /// whose contents do not decode. Torn last lines or frames (a crash mid-write) and frames
    /// whose checksum fails are skipped without being counted here.
    pub fn skipped_records(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The format this log writes.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// The file this log writes records of the hour containing `t` to.
    pub fn partition(&self, t: DateTime<Utc>) -> PathBuf {
        self.partition_in(t, self.format)
    }

    /// The file holding records of the hour containing `t` in `format`.
    pub fn partition_in(&self, t: DateTime<Utc>, format: LogFormat) -> PathBuf {
        self.dir
            .join(format!("{:04}", t.year()))
            .join(format!("{:02}", t.month()))
            .join(format!("{:02}", t.day()))
            .join(format!("{:02}.{}", t.hour(), format.extension()))
    }

    /// Hand every record with `from <= at < to` to `each`, hour by hour, each hour's
    /// records in the order they were written (JSON lines first, then binary). Reads one
    /// record at a time: suits windows too large to hold in memory.
    pub fn scan_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(PredictionRecord) -> Result<()>,
    ) -> Result<()> {
        let hour = TimeDelta::hours(1);
        let start = from.duration_trunc(hour).unwrap_or(from);
        // Short windows probe their hours' files; long ones list the partitions present.
        let hours: Vec<DateTime<Utc>> = if to - start <= TimeDelta::days(31) {
            std::iter::successors(Some(start), |t| Some(*t + hour))
                .take_while(|t| *t < to)
                .collect()
        } else {
            let mut present = self.hours()?;
            present.retain(|t| *t >= start && *t < to);
            present
        };
        for t in hours {
            for format in LogFormat::ALL {
                let path = self.partition_in(t, format);
                if path.exists() {
                    read_file(
                        &path,
                        format,
                        &self.skipped,
                        &mut |head| head.at >= from && head.at < to,
                        &mut each,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The hours that have a partition file (either format), oldest first.
    pub fn hours(&self) -> Result<Vec<DateTime<Utc>>> {
        let mut out = Vec::new();
        let number = |p: &Path| -> Option<u32> {
            let name = p.file_name()?.to_str()?;
            name.split('.').next()?.parse().ok()
        };
        for year in Self::entries_desc(&self.dir, false)? {
            for month in Self::entries_desc(&year, false)? {
                for day in Self::entries_desc(&month, false)? {
                    for file in Self::entries_desc(&day, true)? {
                        let t = (|| {
                            let date = chrono::NaiveDate::from_ymd_opt(
                                number(&year)? as i32,
                                number(&month)?,
                                number(&day)?,
                            )?;
                            Some(date.and_hms_opt(number(&file)?, 0, 0)?.and_utc())
                        })();
                        // Names that are not a valid date and hour are not partitions.
                        if let Some(t) = t
                            && out.last() != Some(&t)
                        {
                            out.push(t);
                        }
                    }
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    fn read_blocking(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>> {
        let mut out = Vec::new();
        self.scan_window(from, to, |r| {
            out.push(r);
            Ok(())
        })?;
        out.sort_by_key(|r| r.at);
        Ok(out)
    }

    /// Entries of `dir` that are partition levels (all digits) or hour files of either
    /// format, newest first.
    fn entries_desc(dir: &Path, files: bool) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stem = if files {
                LogFormat::ALL
                    .iter()
                    .find_map(|f| name.strip_suffix(&format!(".{}", f.extension())))
            } else {
                Some(name.as_ref())
            };
            if stem.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
                out.push(entry.path());
            }
        }
        out.sort();
        out.reverse();
        Ok(out)
    }

    fn find_blocking(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        for year in Self::entries_desc(&self.dir, false)? {
            for month in Self::entries_desc(&year, false)? {
                for day in Self::entries_desc(&month, false)? {
                    // Both formats of an hour are searched before an earlier hour; the
                    // latest record wins.
                    let files = Self::entries_desc(&day, true)?;
                    let mut found: Option<PredictionRecord> = None;
                    let mut hour = None;
                    for path in files {
                        let stem = path.file_stem().map(|s| s.to_os_string());
                        if found.is_some() && stem != hour {
                            break;
                        }
                        hour = stem;
                        let format = if path.extension().is_some_and(|e| e == "jsonl") {
                            LogFormat::JsonLines
                        } else {
                            LogFormat::Binary
                        };
                        read_file(
                            &path,
                            format,
                            &self.skipped,
                            &mut |head| head.request_id == request_id,
                            |r| {
                                if found.as_ref().is_none_or(|f| r.at >= f.at) {
                                    found = Some(r);
                                }
                                Ok(())
                            },
                        )?;
                    }
                    if found.is_some() {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(None)
    }
}

/// What a reader sees of a record before it decodes it all (for JSON lines: after).
struct RecordHead<'a> {
    at: DateTime<Utc>,
    request_id: &'a str,
}

/// Read the records of one hour file, handing those `wanted` to `each`, in file order.
/// A torn last line or frame (crash mid-write) is skipped; a damaged binary frame too. A
/// damaged record (a JSON line that is not a record, a binary frame with a valid checksum
/// that does not decode) is skipped and counted in `skipped`: one bad record never stops a
/// read.
fn read_file(
    path: &Path,
    format: LogFormat,
    skipped: &AtomicU64,
    wanted: &mut dyn FnMut(&RecordHead<'_>) -> bool,
    mut each: impl FnMut(PredictionRecord) -> Result<()>,
) -> Result<()> {
    match format {
        LogFormat::Binary => binary::read_frames(path, |version, payload| {
            let Some(h) = binary::head(payload) else {
                skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            };
            if !wanted(&RecordHead {
                at: h.at,
                request_id: h.request_id,
            }) {
                return Ok(());
            }
            match binary::decode(version, payload) {
                Some(r) => each(r),
                None => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            }
        }),
        LogFormat::JsonLines => {
            let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let mut reader = std::io::BufReader::new(f);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| Error::io(path, e))?;
                if n == 0 {
                    return Ok(());
                }
                let complete = line.last() == Some(&b'\n');
                let text = line.trim_ascii();
                if text.is_empty() {
                    continue;
                }
                match serde_json::from_slice::<PredictionRecord>(text) {
                    Ok(r) => {
                        if wanted(&RecordHead {
                            at: r.at,
                            request_id: &r.request_id,
                        }) {
                            each(r)?;
                        }
                    }
                    // A torn last line (crash mid-write) is skipped, not counted.
                    Err(_) if !complete && !text.ends_with(b"}") => {}
                    Err(_) => {
                        skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

#[async_trait]
impl PredictionLog for FilePredictionLog {
    async fn append(&self, records: Vec<PredictionRecord>) -> Result<()> {
        let mut writer = PartitionWriter::new(self.clone());
        tokio::task::spawn_blocking(move || {
            let records: Vec<RequestRecord> =
                records.into_iter().map(RequestRecord::from).collect();
            writer.write(&records)
        })
        .await
        .map_err(|e| Error::task("prediction log append", e))?
    }

    async fn read_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking(from, to))
            .await
            .map_err(|e| Error::task("prediction log read", e))?
    }

    async fn find_request(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        let this = self.clone();
        let id = request_id.to_string();
        tokio::task::spawn_blocking(move || this.find_blocking(&id))
            .await
            .map_err(|e| Error::task("prediction log read", e))?
    }

    fn batch_writer(&self) -> Option<Box<dyn BatchWriter>> {
        Some(Box::new(PartitionWriter::new(self.clone())))
    }
}

/// Serialised records are written once this many bytes are pending.
pub(super) const WRITE_CHUNK: usize = 1 << 20;

/// The batch writer of both formats: one reusable buffer, the current hour's file kept
/// open, one vectored `write` per file per chunk of a batch; input values a record already
/// holds in the written form (JSON text, or a matrix's bytes) are written from where they
/// are, not copied.
struct PartitionWriter {
    log: FilePredictionLog,
    buf: Vec<u8>,
    /// The open partition: its hour (seconds since the epoch / 3600) and file.
    current: Option<(i64, PathBuf, std::fs::File)>,
    frame: FrameEncoder,
}

/// A piece of the output: bytes of the writer's buffer, or the inputs a record already
/// holds in the written form.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Buf(usize, usize),
    /// Index of the record whose inputs go here (see [`PartitionWriter::held_inputs`]).
    Inputs(usize),
}

/// Most slices handed to one `writev` (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 1024;

/// Write every byte of `slices` to `out`, resuming after partial writes.
fn write_all_slices(
    out: &mut impl Write,
    mut slices: &mut [std::io::IoSlice<'_>],
) -> std::io::Result<()> {
    while !slices.is_empty() {
        let n = slices.len().min(MAX_SLICES);
        match out.write_vectored(&slices[..n]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "failed to write the whole batch",
                ));
            }
            Ok(written) => std::io::IoSlice::advance_slices(&mut slices, written),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl PartitionWriter {
    fn new(log: FilePredictionLog) -> Self {
        PartitionWriter {
            log,
            buf: Vec::new(),
            current: None,
            frame: FrameEncoder::default(),
        }
    }

    /// The bytes of `inputs` this format writes verbatim from the record, if any: the
    /// received JSON text (JSON lines), a matrix's values (binary).
    fn held_inputs(format: LogFormat, inputs: &RecordInputs) -> Option<&[u8]> {
        match (format, inputs) {
            (LogFormat::JsonLines, RecordInputs::Json(j)) => Some(j.as_bytes()),
            (LogFormat::Binary, inputs) => binary::borrowed_values(inputs),
            _ => None,
        }
    }

    fn open(&mut self, hour: i64, at: DateTime<Utc>) -> Result<()> {
        // A new hour: the moment to let go of what the retention does not keep. A failure
        // here must not lose the records being written: it is logged, and tried next hour.
        match self.log.enforce_retention(at) {
            Ok(p) if p.files > 0 => tracing::info!(
                files = p.files,
                bytes = p.bytes,
                "prediction log: deleted partitions past the retention"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "prediction log: retention not enforced"),
        }
        let path = self.log.partition(at);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        self.current = Some((hour, path, f));
        Ok(())
    }

    /// Write `pieces` (of `records`, in order) and then the buffer from `open` on to the
    /// open file, and clear both.
    fn write_out(
        &mut self,
        records: &[RequestRecord],
        pieces: &mut Vec<Piece>,
        open: usize,
    ) -> Result<()> {
        pieces.push(Piece::Buf(open, self.buf.len()));
        let format = self.log.format;
        let result = match &mut self.current {
            Some((_, path, f)) => {
                let mut slices: Vec<std::io::IoSlice<'_>> = pieces
                    .iter()
                    .map(|p| match *p {
                        Piece::Buf(from, to) => std::io::IoSlice::new(&self.buf[from..to]),
                        Piece::Inputs(i) => std::io::IoSlice::new(
                            Self::held_inputs(format, &records[i].inputs).unwrap_or_default(),
                        ),
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                write_all_slices(f, &mut slices).map_err(|e| Error::io(&*path, e))
            }
            None => Ok(()),
        };
        self.buf.clear();
        pieces.clear();
        if result.is_err() {
            self.current = None;
        }
        result
    }

    fn write_records(&mut self, records: &[RequestRecord]) -> Result<()> {
        let format = self.log.format;
        let mut pieces: Vec<Piece> = Vec::new();
        // Bytes of the pieces not yet written (buffer and held inputs).
        let mut pending = 0usize;
        // Start of the buffer bytes not yet in a piece.
        let mut open = 0usize;
        // The first record refused (the rest of the batch is written regardless).
        let mut refused = None;
        for (i, r) in records.iter().enumerate() {
            let hour = r.at.timestamp().div_euclid(3600);
            if self.current.as_ref().is_none_or(|(h, _, _)| *h != hour) {
                self.write_out(records, &mut pieces, open)?;
                (pending, open) = (0, 0);
                self.open(hour, r.at)?;
            }
            let before = self.buf.len();
            let held = Self::held_inputs(format, &r.inputs);
            // The record up to its inputs, the inputs held by the record, the rest; or the
            // whole record in the buffer.
            match format {
                LogFormat::Binary => {
                    if let Err(e) = self.frame.begin(&mut self.buf, r, held) {
                        // Refused before anything was written: the others are still stored.
                        refused.get_or_insert(e);
                        continue;
                    }
                }
                LogFormat::JsonLines if held.is_some() => write_line_head(&mut self.buf, r),
                LogFormat::JsonLines => write_line(&mut self.buf, r),
            }
            if let Some(bytes) = held {
                pieces.push(Piece::Buf(open, self.buf.len()));
                pieces.push(Piece::Inputs(i));
                open = self.buf.len();
                pending += bytes.len();
            }
            match format {
                LogFormat::Binary => self.frame.end(&mut self.buf, r),
                LogFormat::JsonLines if held.is_some() => write_line_tail(&mut self.buf, r),
                LogFormat::JsonLines => {}
            }
            pending += self.buf.len() - before;
            if pending >= WRITE_CHUNK {
                self.write_out(records, &mut pieces, open)?;
                (pending, open) = (0, 0);
            }
        }
        self.write_out(records, &mut pieces, open)?;
        refused.map_or(Ok(()), Err)
    }
}

impl BatchWriter for PartitionWriter {
    fn write(&mut self, records: &[RequestRecord]) -> Result<()> {
        let result = self.write_records(records);
        if result.is_err() {
            self.buf.clear();
            self.current = None;
        }
        if self.buf.capacity() > 4 * WRITE_CHUNK {
            self.buf = Vec::new();
        }
        result
    }

    fn wants_json_text(&self) -> bool {
        self.log.format == LogFormat::JsonLines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::JsonRowsBuilder;
    use crate::collect::test_record as record;
    use chrono::TimeZone;
    use ndarray::{Array2, array};
    use std::sync::Arc;

    /// Records equal field by field, values bit for bit (binary keeps every bit).
    fn assert_same(got: &PredictionRecord, want: &PredictionRecord) {
        let bits = |rows: &[Vec<f64>]| -> Vec<Vec<u64>> {
            rows.iter()
                .map(|r| r.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(got.request_id, want.request_id);
        assert_eq!(got.at, want.at, "{}", want.request_id);
        assert_eq!(got.model_name, want.model_name);
        assert_eq!(got.model_version, want.model_version);
        assert_eq!(bits(&got.inputs), bits(&want.inputs), "{}", want.request_id);
        assert_eq!(
            bits(std::slice::from_ref(&got.outputs)),
            bits(std::slice::from_ref(&want.outputs))
        );
        assert_eq!(
            bits(&got.probabilities),
            bits(&want.probabilities),
            "{}",
            want.request_id
        );
        assert_eq!(got.latency_us, want.latency_us);
        assert_eq!(got.error, want.error);
        assert_eq!(got.notes, want.notes);
    }

    /// Records of every shape: a matrix in standard layout (written from the matrix), one
    /// that is not (a transposed view), rows of equal and of different lengths, no rows,
    /// received JSON text; specials, errors, sub-second times across two hours.
    fn assorted(t: DateTime<Utc>, n: usize) -> Vec<RequestRecord> {
        (0..n)
            .map(|i| {
                let at = t + TimeDelta::microseconds(i as i64 * 7_919);
                let error = (i % 11 == 5).then_some("bad \"input\"\n");
                let mut r = RequestRecord::from(record(at, &format!("r{i}-ü"), vec![], error));
                let v = |k: usize| (i * 31 + k) as f64 * 0.1 - 3.0;
                r.inputs = match i % 6 {
                    0 => RecordInputs::Matrix(Arc::new(Array2::from_shape_fn(
                        (1 + i % 120, 30),
                        |(a, b)| v(a * 30 + b),
                    ))),
                    1 => {
                        let m = Array2::from_shape_fn((3, 4), |(a, b)| v(a + b));
                        RecordInputs::Matrix(Arc::new(m.reversed_axes()))
                    }
                    2 => RecordInputs::Rows(vec![
                        vec![v(0), f64::NAN, f64::INFINITY],
                        vec![f64::NEG_INFINITY, -0.0, 5e-324],
                    ]),
                    3 => RecordInputs::Rows(vec![vec![v(1)], vec![], vec![v(2), v(3)]]),
                    4 => RecordInputs::Rows(vec![]),
                    _ => {
                        let mut b = JsonRowsBuilder::with_capacity(64);
                        b.push_row(format!("[{},1.50,-2e3]", v(4)).as_bytes(), 3);
                        b.start_row();
                        b.push_f64(f64::NAN);
                        b.push_token(b"7");
                        b.push_f64(2.0);
                        b.end_row();
                        RecordInputs::Json(Arc::new(b.finish()))
                    }
                };
                // Class probabilities on every third record (with specials), one row per
                // input row.
                if i % 5 == 2 {
                    r.notes = vec![
                        format!("column `c{i}`: unknown category `ü`"),
                        String::new(),
                    ];
                }
                if i % 3 == 0 && error.is_none() {
                    let n = r.inputs.n_rows();
                    r.probabilities = (0..n)
                        .map(|k| match k % 3 {
                            0 => vec![0.25, 0.75],
                            1 => vec![f64::NAN, -0.0],
                            _ => vec![v(k) / 100.0, 5e-324],
                        })
                        .collect();
                }
                r
            })
            .collect()
    }

    fn frames(log: &FilePredictionLog, t: DateTime<Utc>) -> Vec<u8> {
        std::fs::read(log.partition_in(t, LogFormat::Binary)).unwrap()
    }

    #[test]
    fn binary_records_read_back_bit_for_bit_across_hours_and_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        assert_eq!(log.format(), LogFormat::Binary);
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 59, 58).unwrap();
        let records = assorted(t, 1_200);
        let mut w = log.batch_writer().unwrap();
        assert!(!w.wants_json_text());
        // Batches of several 1 MiB chunks and an hour boundary inside a batch.
        w.write(&records[..500]).unwrap();
        w.write(&records[500..]).unwrap();
        assert!(frames(&log, t + TimeDelta::hours(1)).len() > 2 * WRITE_CHUNK);
        let back = log.read_blocking(t, t + TimeDelta::hours(2)).unwrap();
        assert_eq!(back.len(), records.len());
        for (got, want) in back.iter().zip(&records) {
            assert_same(got, &want.to_record());
        }
        // A window reads only its records.
        let from = records[300].at;
        let to = records[900].at;
        let some = log.read_blocking(from, to).unwrap();
        assert_eq!(some.len(), 600);
        assert_eq!(some[0].request_id, records[300].request_id);
        assert_eq!(
            log.hours().unwrap(),
            vec![t - TimeDelta::seconds(3598), t + TimeDelta::seconds(2)]
        );
    }

    /// One small record in each of `hours` consecutive hours from `t0`, written by the log's
    /// writer; the partitions' sizes.
    fn hourly(log: &FilePredictionLog, t0: DateTime<Utc>, hours: i64) -> Vec<u64> {
        let mut w = log.batch_writer().unwrap();
        (0..hours)
            .map(|h| {
                let at = t0 + TimeDelta::hours(h);
                w.write(&[RequestRecord::from(record(
                    at,
                    &format!("h{h}"),
                    vec![],
                    None,
                ))])
                .unwrap();
                std::fs::metadata(log.partition(at)).unwrap().len()
            })
            .collect()
    }

    #[test]
    fn retention_by_age_deletes_old_hours_and_their_empty_folders_never_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 30, 0).unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        // Without a retention nothing goes.
        hourly(&log, t0, 3);
        assert_eq!(
            log.enforce_retention(t0 + TimeDelta::days(30)).unwrap(),
            Pruned::default()
        );
        // 50 hours over three days; keep hours that ended within the last 24 h.
        let log = log.with_retention(Retention {
            max_age: Some(TimeDelta::hours(24)),
            max_bytes: None,
        });
        hourly(&log, t0, 50);
        // The writer enforced it as each hour opened: at 2026-03-03 01:30 (the last hour),
        // hours up to 2026-03-02 00:00 had ended at least 24 h before.
        let now = t0 + TimeDelta::hours(49);
        let hours = log.hours().unwrap();
        assert_eq!(hours.len(), 25);
        assert_eq!(hours[0], Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap());
        // Two hours later, two more hours are past it (nothing new was written).
        let pruned = log.enforce_retention(now + TimeDelta::hours(2)).unwrap();
        assert_eq!(pruned.files, 2);
        assert_eq!(log.hours().unwrap().len(), 23);
        // The first day's folder is gone; the current hour stays even with a zero age.
        assert!(!dir.path().join("2026/03/01").exists());
        let strict = log.clone().with_retention(Retention {
            max_age: Some(TimeDelta::zero()),
            max_bytes: None,
        });
        strict.enforce_retention(now).unwrap();
        assert_eq!(
            strict.hours().unwrap(),
            vec![Utc.with_ymd_and_hms(2026, 3, 3, 1, 0, 0).unwrap()]
        );
        assert_eq!(
            strict
                .read_blocking(t0, now + TimeDelta::hours(1))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn retention_by_size_deletes_the_oldest_hours_first_and_the_writer_enforces_it() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let probe = FilePredictionLog::open(dir.path().join("probe")).unwrap();
        let one = hourly(&probe, t0, 1)[0];
        // Room for three hours: each new hour the writer opens lets go of the oldest.
        let log = FilePredictionLog::open(dir.path().join("log"))
            .unwrap()
            .with_retention(Retention {
                max_age: None,
                max_bytes: Some(3 * one),
            });
        hourly(&log, t0, 10);
        let hours = log.hours().unwrap();
        // Enforced when hour 9 opened (hours 0..=8 on disk, 9 × one > 3 × one): 6, 7, 8 kept,
        // then hour 9 written.
        assert_eq!(hours.len(), 4, "{hours:?}");
        assert_eq!(hours[0], t0 + TimeDelta::hours(6));
        let pruned = log.enforce_retention(t0 + TimeDelta::hours(9)).unwrap();
        assert_eq!(pruned.files, 1);
        assert_eq!(log.hours().unwrap()[0], t0 + TimeDelta::hours(7));
    }

    #[test]
    fn binary_matrix_values_are_written_from_the_matrix_in_memory_order() {
        // The frame of a standard-layout matrix ends with its bytes and then the outputs.
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let m = array![[1.5, f64::NAN], [-0.0, 4e300]];
        let mut r = RequestRecord::from(record(t, "m", vec![], None));
        r.inputs = RecordInputs::Matrix(Arc::new(m.clone()));
        log.batch_writer()
            .unwrap()
            .write(std::slice::from_ref(&r))
            .unwrap();
        let bytes = frames(&log, t);
        let values: Vec<u8> = m
            .iter()
            .chain(&r.outputs)
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert!(bytes.ends_with(&values));
        assert_eq!(&bytes[..4], b"MLP\x01");
        assert_eq!(
            u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize,
            bytes.len() - 12
        );
        assert_eq!(
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
            crc32fast::hash(&bytes[12..])
        );
    }

    /// A frame with a valid checksum whose fixed fields announce `n_rows` rows of `n_cols`
    /// values and `n_outputs` outputs, with no values at all after them.
    fn crafted_frame(
        t: DateTime<Utc>,
        id: &str,
        n_rows: u32,
        n_cols: u32,
        n_outputs: u32,
    ) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&t.timestamp().to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&5u64.to_le_bytes());
        for v in [n_rows, n_cols, n_outputs, id.len() as u32, 1, u32::MAX] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(id.as_bytes());
        p.push(b'm');
        let mut frame = binary::MAGIC.to_vec();
        frame.extend_from_slice(&(p.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        frame.extend_from_slice(&p);
        frame
    }

    #[test]
    fn crafted_frames_with_valid_checksums_and_huge_counts_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let records = assorted(t, 2);
        log.batch_writer().unwrap().write(&records[..1]).unwrap();
        let path = log.partition(t);
        let mut bytes = std::fs::read(&path).unwrap();
        // u32::MAX - 1 rows of one value (34 GB of row widths before the fix), 50 M rows of
        // no values, 50 M ragged rows, and u32::MAX - 1 outputs: none is in the file.
        for (i, (rows, cols, outs)) in [
            (u32::MAX - 1, 1, 0),
            (50_000_000, 0, 0),
            (50_000_000, u32::MAX, 0),
            (0, 1, u32::MAX - 1),
        ]
        .into_iter()
        .enumerate()
        {
            bytes.extend(crafted_frame(t, &format!("evil{i}"), rows, cols, outs));
        }
        std::fs::write(&path, &bytes).unwrap();
        log.batch_writer().unwrap().write(&records[1..]).unwrap();
        let back = log.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
        let ids: Vec<_> = back.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                records[0].request_id.as_str(),
                records[1].request_id.as_str()
            ]
        );
        assert_eq!(log.skipped_records(), 4);
        // A search by id skips them too (and counts them again).
        assert!(log.find_blocking("evil0").unwrap().is_none());
        assert_eq!(
            log.find_blocking(&records[1].request_id)
                .unwrap()
                .unwrap()
                .request_id,
            records[1].request_id
        );
        assert_eq!(log.skipped_records(), 4 + 1);
    }

    #[test]
    fn a_bad_json_line_is_skipped_and_counted_and_the_rest_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open_with_format(dir.path(), LogFormat::JsonLines).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let records = assorted(t, 3);
        log.batch_writer().unwrap().write(&records[..1]).unwrap();
        let path = log.partition(t);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"request_id\": 7}\n\xff\xfe not utf-8 }\n")
            .unwrap();
        drop(f);
        log.batch_writer().unwrap().write(&records[1..2]).unwrap();
        // A binary record of the same hour is found too.
        FilePredictionLog::open(dir.path())
            .unwrap()
            .batch_writer()
            .unwrap()
            .write(&records[2..])
            .unwrap();
        let back = log.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(log.skipped_records(), 2);
        let found = log.find_blocking(&records[2].request_id).unwrap().unwrap();
        assert_eq!(found.request_id, records[2].request_id);
        let found = log.find_blocking(&records[1].request_id).unwrap().unwrap();
        assert_eq!(found.request_id, records[1].request_id);
    }

    #[test]
    fn torn_and_damaged_frames_are_skipped_and_later_ones_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let records = assorted(t, 12);
        let path = log.partition(t);
        let write = |rs: &[RequestRecord]| log.batch_writer().unwrap().write(rs).unwrap();
        let ids = || -> Vec<String> {
            log.read_blocking(t, t + TimeDelta::hours(1))
                .unwrap()
                .into_iter()
                .map(|r| r.request_id)
                .collect()
        };
        let id = |i: usize| records[i].request_id.clone();
        write(&records[..3]);
        let three = std::fs::metadata(&path).unwrap().len();
        write(&records[3..4]);
        // A crash in the middle of the fourth frame: it is skipped...
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(three + 30).unwrap();
        assert_eq!(ids(), vec![id(0), id(1), id(2)]);
        // ...and records appended after the restart are read.
        write(&records[4..6]);
        assert_eq!(ids(), vec![id(0), id(1), id(2), id(4), id(5)]);
        // A flipped byte inside the second frame's payload: its checksum fails.
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes[1..]
            .windows(4)
            .position(|w| w == binary::MAGIC)
            .unwrap()
            + 1;
        bytes[second + 40] ^= 0x10;
        // Garbage between frames (a foreign write) is passed over too.
        bytes.extend_from_slice(b"MLP\x01 not a frame at all \x00\x01");
        std::fs::write(&path, &bytes).unwrap();
        write(&records[6..7]);
        assert_eq!(ids(), vec![id(0), id(2), id(4), id(5), id(6)]);
    }

    #[test]
    fn randomly_damaged_binary_files_read_as_an_ordered_subset_of_the_records() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open(dir.path()).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let records = assorted(t, 60);
        log.batch_writer().unwrap().write(&records).unwrap();
        let path = log.partition(t);
        let clean = std::fs::read(&path).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for round in 0..300 {
            let mut bytes = clean.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..4) {
                    0 => bytes[at] ^= 1 << rng.random_range(0..8),
                    1 => bytes.truncate(at),
                    2 => {
                        let junk: Vec<u8> =
                            (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                        bytes.splice(at..at, junk);
                    }
                    _ => {
                        // A stray frame start, as a torn write leaves behind.
                        bytes.splice(at..at, binary::MAGIC);
                    }
                }
                if bytes.is_empty() {
                    break;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            let back = log.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
            // Every record read is one that was written, intact, in the written order.
            let mut next = 0;
            for r in &back {
                let k = records[next..]
                    .iter()
                    .position(|w| w.request_id == r.request_id)
                    .unwrap_or_else(|| {
                        panic!(
                            "round {round}: {} not written or out of order",
                            r.request_id
                        )
                    });
                assert_same(r, &records[next + k].to_record());
                next += k + 1;
            }
        }
    }

    #[test]
    fn both_formats_in_one_directory_are_read_and_searched() {
        let dir = tempfile::tempdir().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let binary = FilePredictionLog::open(dir.path()).unwrap();
        let jsonl = FilePredictionLog::open_with_format(dir.path(), LogFormat::JsonLines).unwrap();
        assert!(jsonl.batch_writer().unwrap().wants_json_text());
        let mut a = RequestRecord::from(record(t, "same-id", vec![vec![1.0]], None));
        a.outputs = vec![0.0];
        let mut b = a.clone();
        b.at = t + TimeDelta::minutes(5);
        b.outputs = vec![1.0];
        let mut c = a.clone();
        c.request_id = "other".into();
        c.at = t + TimeDelta::hours(3);
        binary.batch_writer().unwrap().write(&[b.clone()]).unwrap();
        jsonl
            .batch_writer()
            .unwrap()
            .write(&[a.clone(), c.clone()])
            .unwrap();
        assert!(binary.partition(t).exists() && jsonl.partition(t).exists());
        assert_ne!(binary.partition(t), jsonl.partition(t));
        for log in [&binary, &jsonl] {
            let all = log.read_blocking(t, t + TimeDelta::days(1)).unwrap();
            let ids: Vec<_> = all.iter().map(|r| (r.request_id.as_str(), r.at)).collect();
            assert_eq!(
                ids,
                vec![("same-id", a.at), ("same-id", b.at), ("other", c.at)]
            );
            // A long window lists the partitions present instead of probing every hour.
            let keys = |rs: Vec<PredictionRecord>| -> Vec<(String, DateTime<Utc>)> {
                rs.into_iter().map(|r| (r.request_id, r.at)).collect()
            };
            let long = log
                .read_blocking(t - TimeDelta::days(400), t + TimeDelta::days(400))
                .unwrap();
            assert_eq!(keys(long), keys(all.clone()));
            let late = log
                .read_blocking(t + TimeDelta::minutes(1), t + TimeDelta::days(90))
                .unwrap();
            assert_eq!(keys(late), keys(all[1..].to_vec()));
            // The latest record of a reused id, whichever file holds it.
            let found = log.find_blocking("same-id").unwrap().unwrap();
            assert_eq!((found.at, found.outputs.clone()), (b.at, vec![1.0]));
            assert_eq!(log.find_blocking("other").unwrap().unwrap().at, c.at);
            assert!(log.find_blocking("missing").unwrap().is_none());
            assert_eq!(log.hours().unwrap(), vec![t, t + TimeDelta::hours(3)]);
        }
    }

    #[test]
    fn logs_written_before_probabilities_were_kept_read_unchanged_beside_new_records() {
        // tests/fixtures/predlog: frames `MLP\x01` and lines without `probabilities`, made
        // from the documented layout by scripts/predlog_v1_fixture.py.
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/predlog");
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2026/03/01");
        std::fs::create_dir_all(&day).unwrap();
        for f in ["12.predlog", "13.jsonl"] {
            std::fs::copy(fixture.join("2026/03/01").join(f), day.join(f)).unwrap();
        }
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let expect = |suffix: &str, hour: i64| -> Vec<PredictionRecord> {
            let rec = |id: &str, s: i64, latency_us, inputs, outputs, error: Option<&str>| {
                PredictionRecord {
                    request_id: format!("{id}{suffix}"),
                    at: t + TimeDelta::hours(hour) + TimeDelta::seconds(s),
                    model_name: "churn".into(),
                    model_version: 3,
                    inputs,
                    outputs,
                    probabilities: vec![],
                    latency_us,
                    error: error.map(Into::into),
                    notes: vec![],
                }
            };
            vec![
                rec("old-1", 1, 120, vec![vec![1.5, f64::NAN]], vec![1.0], None),
                rec(
                    "old-2",
                    2,
                    95,
                    vec![vec![0.25], vec![2.0, -3.0]],
                    vec![0.0, 1.0],
                    None,
                ),
                rec(
                    "old-3",
                    3,
                    40,
                    vec![vec![4.0, 5.0]],
                    vec![],
                    Some("unknown level `x` in column `plan`"),
                ),
            ]
        };
        let mut want = expect("", 0);
        want.extend(expect("-json", 1));
        // A record with probabilities appended to the old binary hour, in the new frame.
        let mut new = record(
            t + TimeDelta::seconds(30),
            "new",
            vec![vec![1.0, 2.0]],
            None,
        );
        new.outputs = vec![1.0];
        new.probabilities = vec![vec![0.125, 0.875]];
        for format in LogFormat::ALL {
            let log = FilePredictionLog::open_with_format(dir.path(), format).unwrap();
            let got = log.read_blocking(t, t + TimeDelta::hours(2)).unwrap();
            assert_eq!(got.len(), want.len(), "{format}");
            for (g, w) in got.iter().zip(&want) {
                assert_same(g, w);
            }
            assert_eq!(log.skipped_records(), 0);
        }
        let log = FilePredictionLog::open(dir.path()).unwrap();
        log.batch_writer()
            .unwrap()
            .write(&[RequestRecord::from(new.clone())])
            .unwrap();
        let got = log.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
        assert_eq!(got.len(), 4);
        assert_same(&got[3], &new);
        for (g, w) in got.iter().zip(&want[..3]) {
            assert_same(g, w);
        }
        let bytes = std::fs::read(day.join("12.predlog")).unwrap();
        assert_eq!(bytes[..4], binary::MAGIC);
        assert_eq!(
            bytes.windows(4).filter(|w| *w == binary::MAGIC_V2).count(),
            1
        );
        assert_eq!(log.skipped_records(), 0);
    }

    #[test]
    fn probabilities_round_trip_in_both_formats_and_ragged_ones_are_refused_by_binary() {
        let dir = tempfile::tempdir().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut good = record(t, "good", vec![vec![1.0], vec![2.0]], None);
        good.outputs = vec![2.0, 0.0];
        good.probabilities = vec![vec![0.1, 0.2, 0.7], vec![0.6, f64::NAN, 0.4]];
        let mut ragged = good.clone();
        ragged.request_id = "ragged".into();
        ragged.at = t + TimeDelta::seconds(1);
        ragged.probabilities = vec![vec![0.5, 0.5], vec![1.0]];
        let mut after = good.clone();
        after.request_id = "after".into();
        after.at = t + TimeDelta::seconds(2);
        let batch: Vec<RequestRecord> = [&good, &ragged, &after]
            .into_iter()
            .map(|r| RequestRecord::from(r.clone()))
            .collect();
        let binary = FilePredictionLog::open(dir.path().join("b")).unwrap();
        let e = binary
            .batch_writer()
            .unwrap()
            .write(&batch)
            .unwrap_err()
            .to_string();
        assert!(e.contains("probabilities differ in length"), "{e}");
        let back = binary.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
        assert_eq!(back.len(), 2);
        assert_same(&back[0], &good);
        assert_same(&back[1], &after);
        let jsonl = FilePredictionLog::open_with_format(dir.path().join("j"), LogFormat::JsonLines)
            .unwrap();
        jsonl.batch_writer().unwrap().write(&batch).unwrap();
        let text = std::fs::read_to_string(jsonl.partition(t)).unwrap();
        assert!(text.contains(r#""probabilities":[[0.1,0.2,0.7],[0.6,null,0.4]]"#));
        let back = jsonl.read_blocking(t, t + TimeDelta::hours(1)).unwrap();
        assert_eq!(back.len(), 3);
        assert_same(&back[0], &good);
        assert_same(&back[1], &ragged);
        // A record without probabilities has no such member.
        let mut plain = RequestRecord::from(good.clone());
        plain.probabilities.clear();
        let mut line = Vec::new();
        write_line(&mut line, &plain);
        assert!(!String::from_utf8(line).unwrap().contains("probabilities"));
    }

    #[test]
    fn format_names_parse_and_print() {
        for f in LogFormat::ALL {
            assert_eq!(f.to_string().parse::<LogFormat>().unwrap(), f);
        }
        let e = "parquet".parse::<LogFormat>().unwrap_err().to_string();
        assert!(
            e.contains("parquet") && e.contains("binary") && e.contains("jsonl"),
            "{e}"
        );
    }

    #[test]
    fn batch_writer_output_is_the_lines_whatever_the_inputs_and_chunking() {
        // Records with inputs as received text (written from the record) and as matrices
        // (formatted into the buffer), across an hour boundary and several 1 MiB chunks:
        // each file holds exactly the records' lines, in order.
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open_with_format(dir.path(), LogFormat::JsonLines).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 59, 58).unwrap();
        let records: Vec<RequestRecord> = (0..400)
            .map(|i| {
                let at = t + TimeDelta::milliseconds(i * 10);
                let mut r = RequestRecord::from(record(at, &format!("r{i}"), vec![], None));
                r.inputs = if i % 3 == 0 {
                    RecordInputs::Matrix(Arc::new(array![[i as f64, 0.5]]))
                } else {
                    let mut b = JsonRowsBuilder::with_capacity(64);
                    for row in 0..(i as usize % 7) * 400 + 1 {
                        let text = format!("[{row}.{i},-0.25e{}]", i % 5);
                        b.push_row(text.as_bytes(), 2);
                    }
                    RecordInputs::Json(Arc::new(b.finish()))
                };
                r
            })
            .collect();
        let mut w = log.batch_writer().unwrap();
        w.write(&records[..150]).unwrap();
        w.write(&records[150..]).unwrap();
        let mut expected: std::collections::BTreeMap<PathBuf, Vec<u8>> = Default::default();
        for r in &records {
            write_line(expected.entry(log.partition(r.at)).or_default(), r);
        }
        assert_eq!(expected.len(), 2);
        for (path, want) in &expected {
            assert!(want.len() > 2 * WRITE_CHUNK || path == &log.partition(t));
            assert_eq!(&std::fs::read(path).unwrap(), want, "{}", path.display());
        }
    }

    #[test]
    fn batch_writer_partitions_by_hour_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = FilePredictionLog::open_with_format(dir.path(), LogFormat::JsonLines).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 59, 59).unwrap();
        let records: Vec<RequestRecord> = (0..5)
            .map(|i| {
                let mut r = RequestRecord::from(record(
                    t + TimeDelta::seconds(i),
                    &format!("r{i}"),
                    vec![vec![i as f64]],
                    None,
                ));
                r.inputs = RecordInputs::Matrix(Arc::new(array![[i as f64, 2.0]]));
                // Outputs are read back as plain numbers (a NaN output is not).
                r.outputs = vec![1.0];
                r
            })
            .collect();
        let mut w = log.batch_writer().unwrap();
        w.write(&records[..3]).unwrap();
        w.write(&records[3..]).unwrap();
        assert_eq!(
            std::fs::read_to_string(log.partition(t))
                .unwrap()
                .lines()
                .count(),
            1
        );
        assert_eq!(
            std::fs::read_to_string(log.partition(t + TimeDelta::seconds(1)))
                .unwrap()
                .lines()
                .count(),
            4
        );
        let back = log.read_blocking(t, t + TimeDelta::hours(2)).unwrap();
        let expected: Vec<PredictionRecord> =
            records.iter().map(RequestRecord::to_record).collect();
        assert_eq!(back.len(), 5);
        for (b, e) in back.iter().zip(&expected) {
            assert_eq!(b.request_id, e.request_id);
            assert_eq!(b.inputs, e.inputs);
            assert_eq!(b.at, e.at);
        }
    }
}
