//! CSV input: the reader thread cuts the file into chunks of whole records at line
//! boundaries; the workers tokenise and parse them.
//!
//! Workers take a fast path for the common line — no quote, no carriage return inside,
//! the expected number of fields, every feature encodable. Most lines go through it in two
//! passes: the separators are found sixteen bytes at a time, then each field is parsed on
//! its own (plain decimals exactly: from one 16-byte load, a shuffle and multiply-adds
//! where the processor has SSSE3 and SSE4.1, else from two 8-byte words) straight into the
//! chunk's feature matrix. CRLF lines and the last line or so of a chunk take the one-pass
//! version of the same path. Any other line (quoted fields, wrong field count, a bad value)
//! goes through `csv-core` and the general cell encoder, which decides whether it is scored
//! or rejected, with the same reasons as ever.

use super::{Decoded, Kept, Plan, Work, csv_out};
use crate::kernels::{self, number};
use crate::{Error, Result};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opened CSV input, positioned after its header.
pub(crate) struct CsvSource {
    /// Column names (trimmed).
    pub(crate) header: Vec<String>,
    file: std::fs::File,
    data_offset: u64,
    /// File line number of the first data line.
    first_line: u64,
}

impl CsvSource {
    /// Bytes before the first data record (the header).
    pub(crate) fn data_offset(&self) -> u64 {
        self.data_offset
    }
}

/// Open `path` and read its header.
pub(crate) fn open(path: &Path, max_line: usize) -> Result<CsvSource> {
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    // The header is read from at most `max_line` bytes: an endless first line (a device
    // such as /dev/zero, a file without line breaks) stops there.
    let limit = max_line as u64;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(BufReader::new(open()?.take(limit)));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::Data(format!("{}: cannot read the header: {e}", path.display())))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let pos = rdr.position();
    if pos.byte() >= limit {
        return Err(Error::invalid(
            format!("input {}", path.display()),
            format!(
                "its header line is longer than the line limit of {max_line} bytes; raise it with --max-line-bytes if the file is right"
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(Error::invalid(
            format!("input {}", path.display()),
            format!(
                "its header names the column `{}` twice; rename one of them",
                crate::data::truncate_for_message(dup)
            ),
        ));
    }
    let (data_offset, header_lines) = (pos.byte(), pos.line().saturating_sub(1));
    let mut file = open()?;
    file.seek(SeekFrom::Start(data_offset))
        .map_err(|e| Error::io(path, e))?;
    Ok(CsvSource {
        header,
        file,
        data_offset,
        first_line: header_lines + 1,
    })
}

/// What the workers need to know about the CSV columns.
pub(crate) struct CsvPlan {
    n_fields: usize,
    /// Column of each feature.
    feature_cols: Vec<usize>,
    /// Column of each kept value.
    keep_cols: Vec<usize>,
    /// Per column: the feature it feeds (index, numeric?), whether it is kept.
    roles: Vec<Role>,
    /// Whether every feature is some column's (so a line whose every column was read
    /// set every feature).
    complete: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Role {
    feature: Option<(usize, bool)>,
    kept: bool,
}

impl CsvPlan {
    /// Columns already checked to be in `header`.
    pub(crate) fn new(
        header: &[String],
        names: &[String],
        numeric: &[bool],
        keep: &[String],
    ) -> Self {
        let find = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
        let feature_cols: Vec<usize> = names.iter().map(|n| find(n)).collect();
        let keep_cols: Vec<usize> = keep.iter().map(|k| find(k)).collect();
        let mut roles = vec![Role::default(); header.len()];
        for (k, &j) in feature_cols.iter().enumerate() {
            roles[j].feature = Some((k, numeric[k]));
        }
        for &j in &keep_cols {
            roles[j].kept = true;
        }
        let mut fed = vec![false; names.len()];
        for (k, _) in roles.iter().filter_map(|r| r.feature) {
            fed[k] = true;
        }
        CsvPlan {
            n_fields: header.len(),
            complete: fed.iter().all(|&f| f),
            feature_cols,
            keep_cols,
            roles,
        }
    }
}

const READ: usize = 1 << 18;

/// Cut the input into chunks of whole records (`chunk_rows` records, or what is left), by
/// scanning for newlines outside quoted fields. Reads go straight into the chunk's buffer;
/// only the partial record at a chunk's end is copied.
pub(crate) fn read_chunks(
    src: CsvSource,
    bytes_read: &AtomicU64,
    chunk_rows: usize,
    max_line: usize,
    emit: &mut dyn FnMut(Work) -> bool,
) -> std::io::Result<()> {
    let mut file = src.file;
    bytes_read.store(src.data_offset, Ordering::Relaxed);
    let mut line = src.first_line;
    let mut est = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(est + READ);
    let (mut scan, mut in_quotes, mut rows, mut lines, mut eof) =
        (0usize, false, 0usize, 0u64, false);
    // Where the record being scanned starts in `buf`.
    let mut record_start = 0usize;
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
            if p - record_start > max_line {
                return Err(too_long(line + lines - 1, max_line));
            }
            rows += 1;
            record_start = scan;
            if rows == chunk_rows {
                est = scan + scan / 8;
                let mut next = Vec::with_capacity(est.max(buf.len() - scan) + READ);
                next.extend_from_slice(&buf[scan..]);
                buf.truncate(scan);
                let chunk = std::mem::replace(&mut buf, next);
                if !emit(Work::Csv {
                    bytes: chunk,
                    first_line: line,
                    rows,
                }) {
                    return Ok(());
                }
                line += lines;
                (scan, rows, lines, record_start) = (0, 0, 0, 0);
            }
        }
        scan = buf.len();
        if buf.len() - record_start > max_line {
            return Err(too_long(line + lines, max_line));
        }
        if eof {
            if !buf.is_empty() {
                emit(Work::Csv {
                    bytes: std::mem::take(&mut buf),
                    first_line: line,
                    rows: rows + 1,
                });
            }
            return Ok(());
        }
        buf.reserve(READ);
        let n = (&mut file).take(READ as u64).read_to_end(&mut buf)?;
        if n == 0 {
            eof = true;
        } else {
            bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// The error of a record longer than the line limit.
fn too_long(line: u64, max_line: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the record at line {line} is longer than the line limit of {max_line} bytes (an unterminated line or quote?); raise the limit with --max-line-bytes if the file is right"
        ),
    )
}

/// Per-worker buffers, reused across chunks.
pub(crate) struct Scratch {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    bounds: Vec<(usize, usize)>,
    /// Separator offsets of the current line (the indexed fast path).
    seps: Vec<u32>,
    /// The feature matrix, kept field arena and ranges of the previous chunk, handed back
    /// by [`Scratch::recycle`] so the next chunk decodes into the same memory.
    values: Vec<f64>,
    arena: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            core: csv_core::Reader::new(),
            out: vec![0; 1 << 12],
            ends: vec![0; 64],
            bounds: Vec::new(),
            seps: Vec::new(),
            values: Vec::new(),
            arena: Vec::new(),
            ranges: Vec::new(),
        }
    }
}

impl Scratch {
    /// Take back the buffers of a decoded chunk that is no longer needed.
    pub(crate) fn recycle(&mut self, d: Decoded) {
        self.values = d.values;
        if let Kept::Text { arena, ranges } = d.kept {
            self.arena = arena;
            self.ranges = ranges;
        }
    }
}

/// Decode a chunk of whole CSV records into the feature matrix of its good rows, their
/// kept fields and its rejects.
pub(crate) fn decode(
    plan: &Plan,
    p: &CsvPlan,
    bytes: &[u8],
    first_line: u64,
    rows_hint: usize,
    s: &mut Scratch,
) -> Decoded {
    let n_feat = plan.n_feat();
    let n_keep = p.keep_cols.len();
    let mut values = std::mem::take(&mut s.values);
    values.clear();
    values.reserve(rows_hint * n_feat);
    let mut d = Decoded {
        rows: 0,
        rejected: 0,
        n_good: 0,
        values,
        kept: Kept::Text {
            arena: Vec::new(),
            ranges: Vec::new(),
        },
        rejects: Vec::new(),
    };
    let mut arena = std::mem::take(&mut s.arena);
    arena.clear();
    let mut ranges = std::mem::take(&mut s.ranges);
    ranges.clear();
    ranges.reserve(rows_hint * n_keep);
    s.bounds.clear();
    s.bounds.resize(p.n_fields, (0, 0));
    let (mut pos, mut line) = (0usize, first_line);
    let level = if p.complete { sse41::detect() } else { None };
    while pos < bytes.len() {
        let l = &bytes[pos..];
        let indexed = if let Some(level) = level {
            sse41::row(level, plan, p, l, &mut d.values, &mut s.bounds)
        } else {
            indexed_row(plan, p, l, &mut d.values, &mut s.bounds, &mut s.seps)
        };
        let mut fast =
            indexed.or_else(|| fast_row(plan, p, &bytes[pos..], &mut d.values, &mut s.bounds));
        // A row with no usable value (every feature empty or missing) is left to the
        // general path, which rejects it with its reason.
        let n_feat = plan.n_feat();
        if fast.is_some()
            && n_feat > 0
            && d.values.len() >= n_feat
            && d.values[d.values.len() - n_feat..]
                .iter()
                .all(|v| v.is_nan())
        {
            d.values.truncate(d.values.len() - n_feat);
            fast = None;
        }
        if let Some(used) = fast {
            for &j in &p.keep_cols {
                let (a, b) = s.bounds[j];
                let start = arena.len();
                match bytes.get(pos + a..pos + a + csv_out::PAD) {
                    Some(w) if b - a <= csv_out::PAD => csv_out::put_short(&mut arena, w, b - a),
                    _ => arena.extend_from_slice(&bytes[pos + a..pos + b]),
                }
                ranges.push((start, arena.len()));
            }
            d.rows += 1;
            d.n_good += 1;
            pos += used;
            line += 1;
            continue;
        }
        let nl = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let mut end = nl;
        if end > pos && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        if end == pos {
            // A blank line is no record (as in csv-core).
            pos = nl + 1;
            line += 1;
            continue;
        }
        // Anything else: csv-core reads one record (it may span lines) and the general
        // encoder decides.
        let (consumed, n) = read_record(s, &bytes[pos..]);
        let fields: Vec<&[u8]> = (0..n)
            .map(|i| &s.out[if i == 0 { 0 } else { s.ends[i - 1] }..s.ends[i]])
            .collect();
        d.rows += 1;
        match slow_row(plan, p, &fields, &mut d.values) {
            Ok(()) => {
                for &j in &p.keep_cols {
                    let start = arena.len();
                    arena.extend_from_slice(fields[j]);
                    ranges.push((start, arena.len()));
                }
                d.n_good += 1;
            }
            Err(reason) => {
                d.rejected += 1;
                csv_out::push_reject(&mut d.rejects, line, &reason, &fields.join(&b","[..]));
            }
        }
        line += memchr::memchr_iter(b'\n', &bytes[pos..pos + consumed]).count() as u64;
        pos += consumed.max(1);
    }
    // Room to read the last field sixteen bytes at a time (see `csv_out::format_rows`).
    arena.resize(arena.len() + csv_out::PAD, 0);
    d.kept = Kept::Text { arena, ranges };
    d
}

/// Read one record at the start of `input` with csv-core: returns the bytes consumed and
/// the number of fields (in `s.out`, ending at `s.ends`).
fn read_record(s: &mut Scratch, input: &[u8]) -> (usize, usize) {
    s.core.reset();
    let (mut consumed, mut nout, mut nend) = (0usize, 0usize, 0usize);
    loop {
        let (res, nin, no, ne) =
            s.core
                .read_record(&input[consumed..], &mut s.out[nout..], &mut s.ends[nend..]);
        consumed += nin;
        nout += no;
        nend += ne;
        match res {
            csv_core::ReadRecordResult::InputEmpty => {}
            csv_core::ReadRecordResult::OutputFull => {
                let n = s.out.len() * 2;
                s.out.resize(n, 0);
            }
            csv_core::ReadRecordResult::OutputEndsFull => {
                let n = s.ends.len() * 2;
                s.ends.resize(n, 0);
            }
            csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => {
                return (consumed, nend);
            }
        }
    }
}

/// The fast path for the line at the start of `l`: no quote and no carriage return
/// (but a CRLF ending), the expected number of fields, every feature encodable. Finds the
/// separators and parses the features straight into a new row of `values` in one pass over
/// the bytes, recording the bounds of kept fields (relative to `l`) in `bounds`. Returns
/// the bytes used including the line ending, or `None` (leaving `values` as it was) when
/// the line needs the general path (blank lines, quotes, a wrong field count, a bad value).
#[inline]
fn fast_row(
    plan: &Plan,
    p: &CsvPlan,
    l: &[u8],
    values: &mut Vec<f64>,
    bounds: &mut [(usize, usize)],
) -> Option<usize> {
    match l.first() {
        None | Some(b'\n' | b'\r') => return None,
        _ => {}
    }
    let n_feat = plan.n_feat();
    let start = values.len();
    values.resize(start + n_feat, 0.0);
    let used = fast_fields(plan, p, l, &mut values[start..], bounds);
    if used.is_none() {
        values.truncate(start);
    }
    used
}

/// The fast path in two passes, for a line ending in a plain line feed with at least 16
/// bytes after it in the chunk (all but the last line or so): first the offsets of its
/// separators, found sixteen bytes at a time, then each field parsed on its own (the
/// fields do not wait on each other, so the processor overlaps them). Returns what
/// [`fast_row`] would, or `None` to leave the line to it (or to the general path).
///
/// Where the processor has SSSE3 and SSE4.1, [`sse41::row`] takes the place of this.
#[inline]
fn indexed_row(
    plan: &Plan,
    p: &CsvPlan,
    l: &[u8],
    values: &mut Vec<f64>,
    bounds: &mut [(usize, usize)],
    seps: &mut Vec<u32>,
) -> Option<usize> {
    if seps.len() < p.n_fields + 16 {
        seps.resize(p.n_fields + 16, 0);
    }
    let (end, n_seps) = separators(l, p.n_fields, seps)?;
    if n_seps + 1 != p.n_fields || end == 0 {
        return None;
    }
    let n_feat = plan.n_feat();
    let start = values.len();
    values.resize(start + n_feat, 0.0);
    let row = &mut values[start..];
    let mut ok = true;
    let mut field_start = 0usize;
    for (j, role) in p.roles.iter().enumerate() {
        let field_end = if j < n_seps { seps[j] as usize } else { end };
        if let Some((k, numeric)) = role.feature {
            let field = &l[field_start..field_end];
            let v = if numeric {
                number::parse_field(l, field_start, field_end)
            } else {
                None
            };
            match v.map_or_else(|| plan.encoder.encode_bytes(k, field).ok(), Some) {
                Some(v) => row[k] = v,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if role.kept {
            bounds[j] = (field_start, field_end);
        }
        field_start = field_end + 1;
    }
    if !ok {
        values.truncate(start);
        return None;
    }
    Some(end + 1)
}

/// The offsets of the commas of the line at the start of `l` (into `seps`, which must hold
/// at least `n_fields + 16` entries) and of its line feed, scanning sixteen bytes at a time.
/// Returns the line feed's offset and the number of commas; `None` when the line has a
/// quote or a carriage return, more than `n_fields` fields, is not followed by sixteen
/// bytes, or is longer than offsets in 32 bits can say.
///
/// The offsets of a block's first two commas are written unconditionally (past the count
/// when there are fewer; later writes or the caller ignore them) and only a third comma
/// in sixteen bytes takes a loop, so the common block has no branch whose outcome depends
/// on where its commas fall.
#[inline]
fn separators(l: &[u8], n_fields: usize, seps: &mut [u32]) -> Option<(usize, usize)> {
    let (mut n, mut base) = (0usize, 0usize);
    loop {
        let block: &[u8; 16] = l.get(base..base + 16)?.try_into().ok()?;
        let at = u32::try_from(base).ok()?;
        let (mut commas, newlines, specials) = kernels::simd::classify16(block);
        // Everything before the line feed (all sixteen bytes when there is none).
        let stop = newlines.trailing_zeros();
        let below = ((1u64 << stop) - 1) as u32;
        commas &= below;
        if specials & below != 0 {
            return None;
        }
        let count = commas.count_ones() as usize;
        let first = seps.get_mut(n..n + 2)?;
        first[0] = at + commas.trailing_zeros();
        commas &= commas.wrapping_sub(1);
        first[1] = at + commas.trailing_zeros();
        if count > 2 {
            commas &= commas - 1;
            for slot in seps.get_mut(n + 2..n + count)? {
                *slot = at + commas.trailing_zeros();
                commas &= commas - 1;
            }
        }
        n += count;
        if n >= n_fields {
            return None;
        }
        if newlines != 0 {
            let end = base + stop as usize;
            // Room for the word-wide number reads of the last field.
            return (l.len() >= end + 16).then_some((end, n));
        }
        base += 16;
    }
}

/// The fast path where the processor has SSSE3 and SSE4.1 (detected at run time): the
/// separators found and the numbers parsed in one pass over the line. Each field's first
/// sixteen bytes are loaded once; the first comma or line feed among them ends the field,
/// and a plain decimal is parsed from the same register
/// (`kernels::simd::Sse41::parse_decimal16`: a byte shuffle from a table drops the sign and
/// the point and right-aligns the digits, multiply-adds combine them, one division by the
/// exact power of ten rounds correctly). The word-wise [`indexed_row`] gives the same bits
/// elsewhere.
#[cfg(target_arch = "x86_64")]
mod sse41 {
    use super::{CsvPlan, Plan};
    use crate::kernels::simd::{Avx2Bmi, Block16, Sse41, Task};

    /// Which build of [`row`] this processor runs: the same code is compiled twice, with
    /// AVX2 and BMI (VEX encoding, fewer instructions) where the processor has them, else
    /// with SSSE3 and SSE4.1; both give the same results.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Level {
        Sse41(Sse41),
        Avx2(Avx2Bmi),
    }

    /// The build this processor runs, or `None` when it lacks SSSE3 or SSE4.1.
    pub(super) fn detect() -> Option<Level> {
        let sse41 = Sse41::detect()?;
        Some(match sse41.avx2_bmi() {
            Some(avx2) => Level::Avx2(avx2),
            None => Level::Sse41(sse41),
        })
    }

    /// The fast path for the line at the start of `l`, like [`super::indexed_row`]: the
    /// features parsed into a new row of `values`, the bounds of kept fields into
    /// `bounds`; returns the bytes used including the line feed, or `None` (leaving
    /// `values` as it was) to leave the line to [`super::fast_row`] or the general path.
    /// Takes lines only when `p.complete`.
    #[inline(never)]
    pub(super) fn row(
        level: Level,
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        values: &mut Vec<f64>,
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        match level {
            Level::Avx2(avx2) => avx2.run(Row {
                t: avx2.sse41(),
                plan,
                p,
                l,
                values,
                bounds,
            }),
            Level::Sse41(t) => t.run(Row {
                t,
                plan,
                p,
                l,
                values,
                bounds,
            }),
        }
    }

    /// The arguments of [`row`], run as a task compiled for the processor's features.
    struct Row<'a> {
        t: Sse41,
        plan: &'a Plan,
        p: &'a CsvPlan,
        l: &'a [u8],
        values: &'a mut Vec<f64>,
        bounds: &'a mut [(usize, usize)],
    }

    impl Task for Row<'_> {
        type Output = Option<usize>;

        #[inline(always)]
        fn run(self) -> Option<usize> {
            let Row {
                t,
                plan,
                p,
                l,
                values,
                bounds,
            } = self;
            if !p.complete || l.first() == Some(&b'\n') {
                return None;
            }
            let n_feat = plan.n_feat();
            let base = values.len();
            values.resize(base + n_feat, 0.0);
            let used = fields(t, plan, p, l, &mut values[base..], bounds);
            if used.is_none() {
                values.truncate(base);
            }
            used
        }
    }

    /// Every field of the line into `row` (and `bounds`); where the line ends.
    #[inline(always)]
    fn fields(
        t: Sse41,
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        row: &mut [f64],
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        let (last, roles) = p.roles.split_last()?;
        let mut start = 0usize;
        for (j, role) in roles.iter().enumerate() {
            start = field(t, plan, role, j, l, start, b',', row, bounds)? + 1;
        }
        let end = field(t, plan, last, roles.len(), l, start, b'\n', row, bounds)?;
        Some(end + 1)
    }

    /// Read field `j` (role `role`), which starts at `start` and must end with `sep`:
    /// its feature into `row`, its bounds into `bounds` when kept. Returns where it ends.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn field(
        t: Sse41,
        plan: &Plan,
        role: &super::Role,
        j: usize,
        l: &[u8],
        start: usize,
        sep: u8,
        row: &mut [f64],
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        let window: &[u8; 16] = l.get(start..start + 16)?.try_into().ok()?;
        let v = Block16::load(window);
        let seps = v.eq2(b',', b'\n');
        // The field's bytes among the sixteen (all of them when it is longer).
        let (end, in_window) = if seps != 0 {
            let len = seps.trailing_zeros() as usize & 15;
            if window[len] != sep {
                return None;
            }
            (start + len, (1u32 << len) - 1)
        } else {
            let end = long_field_end(l, start + 16)?;
            if l[end] != sep {
                return None;
            }
            (end, 0xFFFF)
        };
        let clean = || v.eq2(b'"', b'\r') & in_window == 0;
        if let Some((k, numeric)) = role.feature {
            let parsed = if numeric && seps != 0 {
                t.parse_decimal16(v, end - start, in_window)
            } else {
                None
            };
            let x = match parsed {
                Some(x) => x,
                None if clean() => encode(plan, k, &l[start..end])?,
                None => return None,
            };
            *row.get_mut(k)? = x;
        }
        if role.kept {
            if !clean() {
                return None;
            }
            *bounds.get_mut(j)? = (start, end);
        }
        Some(end)
    }

    /// A feature the sixteen-byte parser does not take, through the cell encoder.
    #[cold]
    #[inline(never)]
    fn encode(plan: &Plan, k: usize, field: &[u8]) -> Option<f64> {
        plan.encoder.encode_bytes(k, field).ok()
    }

    /// Where a field longer than sixteen bytes ends (a comma or line feed at or after
    /// `from`); `None` at a quote, a carriage return or the end of the chunk.
    #[cold]
    fn long_field_end(l: &[u8], from: usize) -> Option<usize> {
        for (i, &c) in l.get(from..)?.iter().enumerate() {
            match c {
                b',' | b'\n' => return Some(from + i),
                b'"' | b'\r' => return None,
                _ => {}
            }
        }
        None
    }
}

/// Elsewhere: the word-wise parser only.
#[cfg(not(target_arch = "x86_64"))]
mod sse41 {
    use super::{CsvPlan, Plan};

    /// No build of `row` here.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Level {}

    pub(super) fn detect() -> Option<Level> {
        None
    }

    pub(super) fn row(
        level: Level,
        _plan: &Plan,
        _p: &CsvPlan,
        _l: &[u8],
        _values: &mut Vec<f64>,
        _bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        match level {}
    }
}

/// The separator scan and parse of [`fast_row`], into `row`.
#[inline(always)]
fn fast_fields(
    plan: &Plan,
    p: &CsvPlan,
    l: &[u8],
    row: &mut [f64],
    bounds: &mut [(usize, usize)],
) -> Option<usize> {
    let last = p.roles.len() - 1;
    let mut pos = 0usize;
    for (j, role) in p.roles.iter().enumerate() {
        let field_start = pos;
        let parsed = match role.feature {
            Some((k, true)) => match number::parse_plain(&l[pos..]) {
                Some((v, n)) if matches!(l.get(pos + n), None | Some(b',' | b'\n' | b'\r')) => {
                    row[k] = v;
                    pos += n;
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !parsed {
            pos = field_end(l, pos)?;
            if let Some((k, _)) = role.feature {
                row[k] = plan.encoder.encode_bytes(k, &l[field_start..pos]).ok()?;
            }
        }
        if role.kept {
            bounds[j] = (field_start, pos);
        }
        // `pos` is at a separator, a line ending or the end of the chunk.
        if j < last {
            if l.get(pos) != Some(&b',') {
                return None;
            }
            pos += 1;
        }
    }
    match l.get(pos) {
        None => Some(pos),
        Some(b'\n') => Some(pos + 1),
        Some(b'\r') => match l.get(pos + 1) {
            None => Some(pos + 1),
            Some(b'\n') => Some(pos + 2),
            _ => None,
        },
        _ => None,
    }
}

/// Where the unquoted field starting at `from` ends (a comma, a line ending, or the end of
/// the chunk); `None` when a quote or a lone carriage return comes first.
#[inline]
fn field_end(l: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(&c) = l.get(i) {
        match c {
            b',' | b'\n' => return Some(i),
            b'\r' => return matches!(l.get(i + 1), None | Some(b'\n')).then_some(i),
            b'"' => return None,
            _ => i += 1,
        }
    }
    Some(i)
}

/// The general path for one record: Ok (features appended to `values`) or the reason to
/// reject it.
fn slow_row(
    plan: &Plan,
    p: &CsvPlan,
    fields: &[&[u8]],
    values: &mut Vec<f64>,
) -> std::result::Result<(), String> {
    if fields.len() != p.n_fields {
        return Err(format!(
            "expected {} fields, found {}",
            p.n_fields,
            fields.len()
        ));
    }
    let start = values.len();
    for (k, &j) in p.feature_cols.iter().enumerate() {
        match plan.encoder.encode_bytes(k, fields[j]) {
            Ok(v) => values.push(v),
            Err(e) => {
                values.truncate(start);
                return Err(format!("column `{}`: {e}", plan.names[k]));
            }
        }
    }
    if values.len() > start && values[start..].iter().all(|v| v.is_nan()) {
        values.truncate(start);
        return Err(EMPTY_ROW_REASON.to_string());
    }
    Ok(())
}

/// Why a row with no usable value is rejected.
const EMPTY_ROW_REASON: &str = "the row has no usable value: every feature is empty or missing, so a prediction would say nothing about it";

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    /// The separator scan against a byte loop: lines with sparse and dense commas (up to
    /// sixteen in a block), quotes, carriage returns, too many fields, and too few bytes
    /// after the line.
    #[test]
    fn separator_scan_agrees_with_a_byte_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut checked = 0usize;
        for _ in 0..100_000 {
            let n_fields = rng.random_range(1..=40usize);
            let len = rng.random_range(0..=200usize);
            let dense = rng.random_range(1..=10u32);
            let mut line: Vec<u8> = (0..len)
                .map(|_| match rng.random_range(0..100u32) {
                    x if x < dense * 5 => b',',
                    0 if rng.random_range(0..20u32) == 0 => b'"',
                    1 if rng.random_range(0..20u32) == 0 => b'\r',
                    _ => b'0' + rng.random_range(0..10u8),
                })
                .collect();
            line.push(b'\n');
            let tail = rng.random_range(0..=24usize);
            line.extend(std::iter::repeat_n(b'7', tail));
            let mut seps = vec![0u32; n_fields + 16];
            let got = super::separators(&line, n_fields, &mut seps);
            let want = {
                let end = len;
                let body = &line[..end];
                let commas: Vec<u32> = (0..end as u32)
                    .filter(|&i| body[i as usize] == b',')
                    .collect();
                let special = body.iter().any(|&c| c == b'"' || c == b'\r');
                if special || commas.len() >= n_fields || line.len() < end + 16 {
                    None
                } else {
                    Some((end, commas))
                }
            };
            match (got, want) {
                (None, None) => {}
                (Some((end, n)), Some((want_end, commas))) => {
                    assert_eq!(end, want_end);
                    assert_eq!(&seps[..n], &commas[..]);
                    checked += 1;
                }
                (got, want) => panic!("{:?}: {got:?} vs {want:?}", String::from_utf8_lossy(&line)),
            }
        }
        assert!(checked > 10_000, "too few lines were indexed: {checked}");
    }

    /// The one-pass sixteen-byte row parser against the general one-pass fast path on
    /// random lines (features in another order than their columns, a kept text column and
    /// a kept feature; plain, long, signed, padded, exponent, empty and bad numbers,
    /// quotes, carriage returns, CRLF endings, missing and extra fields, short tails):
    /// whenever it takes a line it reads the same values, bit for bit, the same kept
    /// fields and the same length, and it takes every plain line.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn sixteen_byte_rows_agree_with_the_one_pass_path() {
        let Some(level) = super::sse41::detect() else {
            return;
        };
        let sse41 = crate::kernels::simd::Sse41::detect().map(super::sse41::Level::Sse41);
        use super::{CsvPlan, Plan};
        use crate::data::{CellEncoder, Feature, Schema, UnknownLevel};
        use crate::deploy::batch::{BatchFormat, InputPlan};
        let header: Vec<String> = ["id", "a", "b", "c", "d", "e"].map(String::from).to_vec();
        let names: Vec<String> = ["c", "a", "e", "b", "d"].map(String::from).to_vec();
        let numeric = vec![true; names.len()];
        let keep: Vec<String> = ["id", "b"].map(String::from).to_vec();
        let schema = Schema::new(names.iter().map(Feature::numeric).collect(), None).unwrap();
        let plan = Plan {
            encoder: CellEncoder::new(&schema, UnknownLevel::Error, true),
            names: names.clone(),
            numeric: numeric.clone(),
            keep: keep.clone(),
            classes: None,
            input: InputPlan::Csv(CsvPlan::new(&header, &names, &numeric, &keep)),
            output: BatchFormat::Csv,
            #[cfg(feature = "parquet")]
            out_schema: None,
        };
        let p = CsvPlan::new(&header, &names, &numeric, &keep);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let digits = |rng: &mut rand_chacha::ChaCha8Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        };
        let (mut taken, mut plain_lines) = (0usize, 0usize);
        for _ in 0..200_000 {
            let odd = rng.random_range(0..4u32) == 0;
            let mut n = header.len();
            if odd && rng.random_range(0..8u32) == 0 {
                n = rng.random_range(1..=8usize);
            }
            let mut plain = !odd;
            let fields: Vec<String> = (0..n)
                .map(|j| {
                    let kind = if odd { rng.random_range(0..14u32) } else { 0 };
                    if kind > 1 {
                        plain = false;
                    }
                    let sign = if rng.random::<bool>() { "-" } else { "" };
                    let number = |rng: &mut rand_chacha::ChaCha8Rng, a: usize, b: usize| {
                        let int = digits(rng, a);
                        let frac = digits(rng, b);
                        if frac.is_empty() && rng.random::<bool>() {
                            int
                        } else {
                            format!("{int}.{frac}")
                        }
                    };
                    match kind {
                        _ if j == 0 && kind < 2 => format!("r{}", digits(&mut rng, 6)),
                        0 => {
                            let a = rng.random_range(0..=7usize);
                            let b = rng.random_range(usize::from(a == 0)..=7usize);
                            format!("{sign}{}", number(&mut rng, a, b))
                        }
                        1 => format!("{sign}{}", number(&mut rng, 1, 6)),
                        2 => {
                            let (a, b) = (rng.random_range(0..=20usize), rng.random_range(0..=20));
                            format!("{sign}{}", number(&mut rng, a, b))
                        }
                        3 => format!("{}e{}", digits(&mut rng, 2), rng.random_range(-9..9)),
                        4 => format!(" {}", digits(&mut rng, 3)),
                        5 => String::new(),
                        6 => "1.2.3".into(),
                        7 => "--1".into(),
                        8 => "\"1.5\"".into(),
                        9 => "1\r5".into(),
                        10 => "x".repeat(rng.random_range(0..40usize)),
                        11 => "-".into(),
                        12 => ".".into(),
                        _ => format!("{}{}", digits(&mut rng, 16), sign),
                    }
                })
                .collect();
            let ending = if odd && rng.random_range(0..6u32) == 0 {
                "\r\n"
            } else {
                "\n"
            };
            let mut line = format!("{}{ending}", fields.join(","));
            let tail = rng.random_range(0..=40usize);
            line.push_str(&"7".repeat(tail));
            let l = line.as_bytes();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let (mut got_bounds, mut want_bounds) = (vec![(0, 0); 6], vec![(0, 0); 6]);
            let used = super::sse41::row(level, &plan, &p, l, &mut got, &mut got_bounds);
            // The SSE4.1-only build of the same code (`row` may have taken AVX2).
            let mut sse = Vec::new();
            let mut sse_bounds = vec![(0, 0); 6];
            let sse_used =
                sse41.and_then(|t| super::sse41::row(t, &plan, &p, l, &mut sse, &mut sse_bounds));
            assert_eq!(sse_used, used, "{line:?}");
            assert_eq!(
                sse.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{line:?}"
            );
            let want_used = super::fast_row(&plan, &p, l, &mut want, &mut want_bounds);
            let plain_line = plain && n == header.len() && tail >= 16;
            plain_lines += usize::from(plain_line);
            match used {
                Some(u) => {
                    assert_eq!(Some(u), want_used, "{line:?}");
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{line:?}");
                    for &j in &p.keep_cols {
                        assert_eq!(got_bounds[j], want_bounds[j], "{line:?}");
                    }
                    taken += 1;
                }
                None => {
                    assert!(got.is_empty(), "{line:?}");
                    assert!(!plain_line, "{line:?} should take the fast path");
                }
            }
        }
        assert!(plain_lines > 60_000, "too few plain lines: {plain_lines}");
        assert!(taken > plain_lines, "too few odd lines taken: {taken}");
    }
}
