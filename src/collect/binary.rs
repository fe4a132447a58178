//! The binary record format of the prediction log (`HH.predlog` files; see the module docs of
//! [`crate::collect`] for the layout): encoding into frames and reading frames back, skipping
//! torn or damaged ones.

use super::{PredictionRecord, RecordInputs, RequestRecord};
use crate::{Error, Result};
use chrono::DateTime;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// The first four bytes of a frame without class probabilities (the only kind written
/// before probabilities were kept).
pub(super) const MAGIC: [u8; 4] = *b"MLP\x01";
/// The first four bytes of a frame whose payload ends with class probabilities.
pub(super) const MAGIC_V2: [u8; 4] = *b"MLP\x02";

/// The frame version its first four bytes announce (1 or 2), or `None`.
fn frame_version(magic: &[u8]) -> Option<u8> {
    match magic {
        m if m == MAGIC => Some(1),
        m if m == MAGIC_V2 => Some(2),
        _ => None,
    }
}

/// Offset in `b` of the first frame start (either version), if any.
fn find_magic(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = memchr::memmem::find(&b[from..], &MAGIC[..3]) {
        let at = from + k;
        match b.get(at + 3) {
            Some(1 | 2) => return Some(at),
            Some(_) => from = at + 1,
            // A possible start cut by the end of `b`.
            None => return None,
        }
    }
    None
}
/// Magic, payload length, CRC-32 of the payload.
const FRAME_HEADER: usize = 12;
/// The fixed-size part at the start of a payload.
const FIXED: usize = 48;
/// `n_cols` of inputs whose rows differ in length (a table of row lengths follows).
const RAGGED: u32 = u32::MAX;
/// The error length of a record without an error.
const NO_ERROR: u32 = u32::MAX;
/// Frames announcing a longer payload are taken for damage (a writer never makes one).
const MAX_PAYLOAD: usize = 1 << 30;

/// Whether `r` needs a frame of version 2 (class probabilities or notes).
fn is_extended(r: &RequestRecord) -> bool {
    !r.probabilities.is_empty() || !r.notes.is_empty()
}

/// The bytes of a record's inputs that a frame takes from the record itself instead of
/// copying them into the writer's buffer: a matrix in standard layout, on a little-endian
/// machine. `None` when the values must be written into the buffer.
pub(super) fn borrowed_values(inputs: &RecordInputs) -> Option<&[u8]> {
    match inputs {
        #[cfg(target_endian = "little")]
        RecordInputs::Matrix(m) => m.as_slice().map(bytemuck::cast_slice::<f64, u8>),
        _ => None,
    }
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_values(buf: &mut Vec<u8>, values: impl IntoIterator<Item = f64>) {
    for v in values {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn len_u32(what: &str, n: usize) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n != u32::MAX)
        .ok_or_else(|| {
            Error::invalid(
                "prediction record",
                format!("its {what} ({n}) is too large for the binary log; split the request"),
            )
        })
}

/// Encodes frames: [`FrameEncoder::begin`] writes a record's frame up to its input values
/// into the buffer, the caller then adds the values (from the record, see
/// [`borrowed_values`], or written by `begin` itself), and [`FrameEncoder::end`] writes the
/// outputs and completes the header.
#[derive(Debug, Default)]
pub(super) struct FrameEncoder {
    /// Where the open frame starts in the buffer.
    start: usize,
    crc: crc32fast::Hasher,
    /// Payload bytes so far, including values not in the buffer.
    len: usize,
}

impl FrameEncoder {
    /// Start the frame of `r` at the end of `buf`: header, fixed fields, strings, row
    /// lengths (ragged inputs) and, unless `borrowed` holds them, the input values. A
    /// record too large for a frame is refused before anything is written.
    pub(super) fn begin(
        &mut self,
        buf: &mut Vec<u8>,
        r: &RequestRecord,
        borrowed: Option<&[u8]>,
    ) -> Result<()> {
        let rows: Cow<'_, [Vec<f64>]> = match &r.inputs {
            RecordInputs::Matrix(_) => Cow::Borrowed(&[]),
            RecordInputs::Rows(rows) => Cow::Borrowed(rows),
            RecordInputs::Json(j) => Cow::Owned(j.to_rows()),
        };
        let (n_rows, n_cols, n_values) = match &r.inputs {
            RecordInputs::Matrix(m) => (m.nrows(), len_u32("row width", m.ncols())?, m.len()),
            _ => {
                let width = rows.first().map_or(0, Vec::len);
                let cols = if rows.iter().all(|row| row.len() == width) {
                    len_u32("row width", width)?
                } else {
                    RAGGED
                };
                (rows.len(), cols, rows.iter().map(Vec::len).sum())
            }
        };
        let error = r.error.as_deref();
        let classes = r.probabilities.first().map_or(0, Vec::len);
        if r.probabilities.iter().any(|p| p.len() != classes) {
            return Err(Error::invalid(
                "prediction record",
                "its rows of class probabilities differ in length; give every row one probability per class",
            ));
        }
        let extended = if is_extended(r) {
            len_u32("number of probability rows", r.probabilities.len())?;
            len_u32("number of classes", classes)?;
            len_u32("number of notes", r.notes.len())?;
            let mut notes = 0;
            for n in &r.notes {
                notes += 4 + len_u32("note", n.len())? as usize;
            }
            12 + 8 * r.probabilities.len() * classes + notes
        } else {
            0
        };
        // Every count is checked before anything is written.
        let counts = [
            len_u32("number of rows", n_rows)?,
            n_cols,
            len_u32("number of outputs", r.outputs.len())?,
            len_u32("request id", r.request_id.len())?,
            len_u32("model name", r.model_name.len())?,
            error.map_or(Ok(NO_ERROR), |e| len_u32("error", e.len()))?,
        ];
        let ragged_table = if n_cols == RAGGED { 4 * n_rows } else { 0 };
        let size = FIXED
            + r.request_id.len()
            + r.model_name.len()
            + error.map_or(0, str::len)
            + ragged_table
            + 8 * (n_values + r.outputs.len())
            + extended;
        if size > MAX_PAYLOAD {
            return Err(Error::invalid(
                "prediction record",
                format!(
                    "it takes {size} bytes, more than the binary log's frame limit of {MAX_PAYLOAD}; split the request"
                ),
            ));
        }
        self.start = buf.len();
        buf.extend_from_slice(if is_extended(r) { &MAGIC_V2 } else { &MAGIC });
        buf.extend_from_slice(&[0; 8]);
        let payload = buf.len();
        buf.extend_from_slice(&r.at.timestamp().to_le_bytes());
        put_u32(buf, r.at.timestamp_subsec_nanos());
        put_u32(buf, r.model_version);
        buf.extend_from_slice(&r.latency_us.to_le_bytes());
        for c in counts {
            put_u32(buf, c);
        }
        buf.extend_from_slice(r.request_id.as_bytes());
        buf.extend_from_slice(r.model_name.as_bytes());
        buf.extend_from_slice(error.unwrap_or("").as_bytes());
        match &r.inputs {
            RecordInputs::Matrix(m) => {
                if borrowed.is_none() {
                    put_values(buf, m.iter().copied());
                }
            }
            _ => {
                if n_cols == RAGGED {
                    for row in rows.iter() {
                        // Below MAX_PAYLOAD / 8 values (checked above).
                        put_u32(buf, row.len() as u32);
                    }
                }
                for row in rows.iter() {
                    put_values(buf, row.iter().copied());
                }
            }
        }
        self.crc = crc32fast::Hasher::new();
        self.crc.update(&buf[payload..]);
        self.len = buf.len() - payload;
        if let Some(values) = borrowed {
            self.crc.update(values);
            self.len += values.len();
        }
        Ok(())
    }

    /// Write the outputs of `r` at the end of `buf` (after the input values), its class
    /// probabilities if it has any, and complete the frame's header.
    pub(super) fn end(&mut self, buf: &mut Vec<u8>, r: &RequestRecord) {
        let from = buf.len();
        put_values(buf, r.outputs.iter().copied());
        if is_extended(r) {
            // `begin` checked every count and that every row has as many values as the first.
            put_u32(buf, r.probabilities.len() as u32);
            put_u32(buf, r.probabilities.first().map_or(0, Vec::len) as u32);
            for row in &r.probabilities {
                put_values(buf, row.iter().copied());
            }
            put_u32(buf, r.notes.len() as u32);
            for n in &r.notes {
                put_u32(buf, n.len() as u32);
                buf.extend_from_slice(n.as_bytes());
            }
        }
        self.crc.update(&buf[from..]);
        self.len += buf.len() - from;
        let crc = std::mem::take(&mut self.crc).finalize();
        // `begin` checked the size against MAX_PAYLOAD (< u32::MAX).
        let header = &mut buf[self.start + 4..self.start + FRAME_HEADER];
        header[..4].copy_from_slice(&(self.len as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// A little-endian reader over a payload whose lengths were checked.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self, n: usize) -> Option<&'a str> {
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn values(&mut self, n: usize) -> Option<Vec<f64>> {
        let b = self.take(n.checked_mul(8)?)?;
        Some(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        )
    }
}

/// The fields a reader looks at before deciding to decode the whole record.
pub(super) struct Head<'a> {
    pub(super) at: DateTime<chrono::Utc>,
    pub(super) request_id: &'a str,
}

/// The time and request id of a payload, or `None` if it is malformed.
pub(super) fn head(payload: &[u8]) -> Option<Head<'_>> {
    let mut c = Cursor { b: payload, at: 0 };
    let secs = c.u64()? as i64;
    let nanos = c.u32()?;
    let at = DateTime::from_timestamp(secs, nanos)?;
    c.at = 36;
    let id_len = c.u32()? as usize;
    c.at = FIXED;
    Some(Head {
        at,
        request_id: c.str(id_len)?,
    })
}

/// The record of a payload of a frame of `version` (1 or 2), or `None` if it is malformed.
pub(super) fn decode(version: u8, payload: &[u8]) -> Option<PredictionRecord> {
    let mut c = Cursor { b: payload, at: 0 };
    let secs = c.u64()? as i64;
    let nanos = c.u32()?;
    let model_version = c.u32()?;
    let latency_us = c.u64()?;
    let n_rows = c.u32()? as usize;
    let n_cols = c.u32()?;
    let n_outputs = c.u32()? as usize;
    let id_len = c.u32()? as usize;
    let name_len = c.u32()? as usize;
    let error_len = c.u32()?;
    let request_id = c.str(id_len)?.to_string();
    let model_name = c.str(name_len)?.to_string();
    let error = match error_len {
        NO_ERROR => None,
        n => Some(c.str(n as usize)?.to_string()),
    };
    // Every count is bounded by the bytes the payload still holds before anything is
    // allocated for it: a crafted frame (valid checksum, absurd counts) is taken for damage.
    let rest = payload.len() - c.at;
    let fits = |n: usize, each: usize| n.checked_mul(each).is_some_and(|b| b <= rest);
    let rows_fit = if n_cols == RAGGED {
        fits(n_rows, 4)
    } else if n_cols == 0 {
        // Rows of no values take no bytes; a writer never makes more of them than this.
        n_rows <= rest.max(1 << 16)
    } else {
        n_rows
            .checked_mul(n_cols as usize)
            .is_some_and(|n| fits(n, 8))
    };
    (rows_fit && fits(n_outputs, 8)).then_some(())?;
    let widths: Vec<usize> = if n_cols == RAGGED {
        (0..n_rows)
            .map(|_| c.u32().map(|w| w as usize))
            .collect::<Option<_>>()?
    } else {
        vec![n_cols as usize; n_rows]
    };
    let inputs = widths
        .into_iter()
        .map(|w| c.values(w))
        .collect::<Option<Vec<_>>>()?;
    let outputs = c.values(n_outputs)?;
    let (probabilities, notes) = if version == 2 {
        let n = c.u32()? as usize;
        let classes = c.u32()? as usize;
        let rest = payload.len() - c.at;
        let fits = n
            .checked_mul(classes)
            .and_then(|v| v.checked_mul(8))
            .is_some_and(|b| b <= rest);
        // Rows of no classes take no bytes: bounded like rows of no inputs.
        (fits && (classes > 0 || n <= payload.len().max(1 << 16))).then_some(())?;
        let probabilities = (0..n)
            .map(|_| c.values(classes))
            .collect::<Option<Vec<_>>>()?;
        let n_notes = c.u32()? as usize;
        // Each note takes at least its 4-byte length.
        (n_notes.checked_mul(4)? <= payload.len() - c.at).then_some(())?;
        let notes = (0..n_notes)
            .map(|_| {
                let len = c.u32()? as usize;
                c.str(len).map(str::to_string)
            })
            .collect::<Option<Vec<_>>>()?;
        (probabilities, notes)
    } else {
        (Vec::new(), Vec::new())
    };
    (c.at == payload.len()).then_some(())?;
    Some(PredictionRecord {
        request_id,
        at: DateTime::from_timestamp(secs, nanos)?,
        model_name,
        model_version,
        inputs,
        outputs,
        probabilities,
        latency_us,
        error,
        notes,
    })
}

/// Hand every intact frame's version and payload in the file at `path` to `each`, in file
/// order.
///
/// A frame cut short at the end of the file (a crash mid-write) is skipped; so is a frame
/// whose checksum fails or whose header is damaged: the reader moves on to the next frame
/// start it finds.
pub(super) fn read_frames(
    path: &Path,
    mut each: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut start = 0usize;
    let mut eof = false;
    // Bytes from `start` to the end of `buf` are unread; read until `n` of them are there
    // (or the file ends). Whether they are.
    let mut fill =
        |buf: &mut Vec<u8>, start: &mut usize, n: usize, eof: &mut bool| -> Result<bool> {
            if buf.len() - *start >= n {
                return Ok(true);
            }
            if *start > 0 {
                buf.drain(..*start);
                *start = 0;
            }
            while buf.len() < n && !*eof {
                let have = buf.len();
                // At most 1 MiB more per read: a damaged length must not allocate what the file
                // does not hold.
                let want = (n - have).clamp(64 << 10, 1 << 20);
                buf.resize(have + want, 0);
                let got = loop {
                    match f.read(&mut buf[have..]) {
                        Ok(k) => break k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io(path, e)),
                    }
                };
                buf.truncate(have + got);
                *eof = got == 0;
            }
            Ok(buf.len() >= n)
        };
    loop {
        if !fill(&mut buf, &mut start, FRAME_HEADER, &mut eof)? {
            return Ok(());
        }
        let h = &buf[start..start + FRAME_HEADER];
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let crc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        let version = frame_version(&h[..4]);
        let Some(version) = version.filter(|_| (FIXED..=MAX_PAYLOAD).contains(&len)) else {
            start += resync(&buf[start + 1..]) + 1;
            continue;
        };
        if !fill(&mut buf, &mut start, FRAME_HEADER + len, &mut eof)? {
            // Cut short by the end of the file: a torn last frame, or a damaged length.
            // Look for a later frame inside what is there.
            let rest = &buf[start + 1..];
            match find_magic(rest) {
                Some(k) => {
                    start += k + 1;
                    continue;
                }
                None => return Ok(()),
            }
        }
        let payload = &buf[start + FRAME_HEADER..start + FRAME_HEADER + len];
        if crc32fast::hash(payload) != crc {
            start += resync(&buf[start + 1..]) + 1;
            continue;
        }
        each(version, payload)?;
        start += FRAME_HEADER + len;
    }
}

/// Offset in `rest` of the next possible frame start (or of its last bytes, which may be
/// the beginning of one).
fn resync(rest: &[u8]) -> usize {
    find_magic(rest).unwrap_or(rest.len().saturating_sub(MAGIC.len() - 1))
}
