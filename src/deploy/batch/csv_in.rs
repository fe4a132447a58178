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
pub(crate) fn open(path: &Path) -> Result<CsvSource> {
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(BufReader::new(open()?));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::Data(format!("{}: cannot read the header: {e}", path.display())))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let pos = rdr.position();
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
    emit: &mut dyn FnMut(Work) -> bool,
) -> std::io::Result<()> {
    let mut file = src.file;
    bytes_read.store(src.data_offset, Ordering::Relaxed);
    let mut line = src.first_line;
    let mut est = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(est + READ);
    let (mut scan, mut in_quotes, mut rows, mut lines, mut eof) =
        (0usize, false, 0usize, 0u64, false);
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
                (scan, rows, lines) = (0, 0, 0);
            }
        }
        scan = buf.len();
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
    let simd = p.complete && sse41::available();
    let avx2 = simd && sse41::has_avx2();
    while pos < bytes.len() {
        let l = &bytes[pos..];
        let indexed = if simd {
            sse41::row(plan, p, l, &mut d.values, &mut s.bounds, avx2)
        } else {
            indexed_row(plan, p, l, &mut d.values, &mut s.bounds, &mut s.seps)
        };
        let fast =
            indexed.or_else(|| fast_row(plan, p, &bytes[pos..], &mut d.values, &mut s.bounds));
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
                parse_field(l, field_start, field_end)
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
        let (mut commas, newlines, specials) = classify(block);
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

/// Bit masks of the commas, line feeds, and quotes or carriage returns in 16 bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify(block: &[u8; 16]) -> (u32, u32, u32) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads exactly the 16
    // bytes of `block` (unaligned loads allowed).
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let mask = |m| _mm_movemask_epi8(m) as u32;
        (
            mask(eq(b',')),
            mask(eq(b'\n')),
            mask(_mm_or_si128(eq(b'"'), eq(b'\r'))),
        )
    }
}

/// Bit masks of the commas, line feeds, and quotes or carriage returns in 16 bytes.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify(block: &[u8; 16]) -> (u32, u32, u32) {
    let (mut c, mut n, mut q) = (0u32, 0u32, 0u32);
    for (i, &b) in block.iter().enumerate() {
        c |= u32::from(b == b',') << i;
        n |= u32::from(b == b'\n') << i;
        q |= u32::from(b == b'"' || b == b'\r') << i;
    }
    (c, n, q)
}

/// Parse the plain decimal that is exactly `l[start..end]` (`-?d*.?d*`, at most 7 digits
/// before the point and 8 after, at least one digit), reading whole words (8 bytes from
/// `start` and from the point must be inside `l`). Exact like [`parse_plain`]: at most 15
/// digits, so the significand is below 2^53.
#[inline(always)]
fn parse_field(l: &[u8], start: usize, end: usize) -> Option<f64> {
    let neg = *l.get(start)? == b'-';
    let i = start + usize::from(neg);
    let w1 = load8(l, i)?;
    let n1 = digit_run(w1);
    if n1 == 8 {
        return None;
    }
    let (mant, frac) = if i + n1 == end {
        if n1 == 0 {
            return None;
        }
        (digits_value(w1, n1), 0)
    } else {
        if l.get(i + n1) != Some(&b'.') {
            return None;
        }
        let j = i + n1 + 1;
        let w2 = load8(l, j)?;
        let n2 = digit_run(w2);
        if j + n2 != end || n1 + n2 == 0 {
            return None;
        }
        (
            digits_value(w1, n1) * POW10_U64[n2] + digits_value(w2, n2),
            n2,
        )
    };
    // Below 2^53, so the signed conversion (one instruction) is exact.
    let v = mant as i64 as f64 / POW10[frac];
    Some(f64::from_bits(v.to_bits() | (u64::from(neg) << 63)))
}

/// The fast path where the processor has SSSE3 and SSE4.1 (detected at run time): the
/// separators found and the numbers parsed in one pass over the line. Each field's first
/// sixteen bytes are loaded once; the first comma or line feed among them ends the field,
/// and a plain decimal is parsed from the same register (a byte shuffle from a table
/// drops the sign and the point and right-aligns the digits, multiply-adds combine them,
/// one division by the exact power of ten rounds correctly). The word-wise
/// [`indexed_row`] gives the same bits elsewhere.
#[cfg(target_arch = "x86_64")]
mod sse41 {
    use super::{CsvPlan, POW10, Plan};
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_madd_epi16,
        _mm_maddubs_epi16, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi32,
        _mm_set1_epi8, _mm_setr_epi8, _mm_setr_epi16, _mm_shuffle_epi8, _mm_sub_epi8,
    };

    /// Whether this processor has what [`row`] needs.
    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("sse4.1")
    }

    /// Whether this processor runs the AVX2 build of [`row`].
    pub(super) fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
    }

    /// The fast path for the line at the start of `l`, like [`super::indexed_row`]: the
    /// features parsed into a new row of `values`, the bounds of kept fields into
    /// `bounds`; returns the bytes used including the line feed, or `None` (leaving
    /// `values` as it was) to leave the line to [`super::fast_row`] or the general path.
    /// Call only when [`available`] and `p.complete`. The same code is compiled twice:
    /// with AVX2 and BMI (VEX encoding, fewer instructions) where the processor has
    /// them (`avx2`: what [`has_avx2`] says, asked once by the caller), else with SSSE3 and
    /// SSE4.1; both give the same results.
    #[inline(never)]
    pub(super) fn row(
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        values: &mut Vec<f64>,
        bounds: &mut [(usize, usize)],
        avx2: bool,
    ) -> Option<usize> {
        if avx2 {
            // SAFETY: the processor has AVX2, BMI1 and BMI2 (`has_avx2`).
            unsafe { row_avx2(plan, p, l, values, bounds) }
        } else {
            // SAFETY: the caller checked `available()`.
            unsafe { row_sse41(plan, p, l, values, bounds) }
        }
    }

    /// [`row`] compiled for SSSE3 and SSE4.1 only (call only when [`available`]).
    #[target_feature(enable = "ssse3,sse4.1")]
    pub(super) fn row_sse41(
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        values: &mut Vec<f64>,
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        row_body(plan, p, l, values, bounds)
    }

    #[target_feature(enable = "avx2,bmi1,bmi2")]
    fn row_avx2(
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        values: &mut Vec<f64>,
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        row_body(plan, p, l, values, bounds)
    }

    #[inline(always)]
    fn row_body(
        plan: &Plan,
        p: &CsvPlan,
        l: &[u8],
        values: &mut Vec<f64>,
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        if !p.complete || l.first() == Some(&b'\n') {
            return None;
        }
        let n_feat = plan.n_feat();
        let (last, roles) = p.roles.split_last()?;
        values.reserve(n_feat);
        let base = values.len();
        let row = values.spare_capacity_mut().get_mut(..n_feat)?;
        let mut start = 0usize;
        for (j, role) in roles.iter().enumerate() {
            start = field(plan, role, j, l, start, b',', row, bounds)? + 1;
        }
        let end = field(plan, last, roles.len(), l, start, b'\n', row, bounds)?;
        // SAFETY: with `p.complete` every feature is some role's, so the fields (each of
        // which returned early on any failure) wrote all `n_feat` values of the row, in
        // reserved memory.
        unsafe { values.set_len(base + n_feat) };
        Some(end + 1)
    }

    /// Read field `j` (role `role`), which starts at `start` and must end with `sep`:
    /// its feature into `row`, its bounds into `bounds` when kept. Returns where it ends.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn field(
        plan: &Plan,
        role: &super::Role,
        j: usize,
        l: &[u8],
        start: usize,
        sep: u8,
        row: &mut [std::mem::MaybeUninit<f64>],
        bounds: &mut [(usize, usize)],
    ) -> Option<usize> {
        let window: &[u8; 16] = l.get(start..start + 16)?.try_into().ok()?;
        // SAFETY: an unaligned load of exactly the 16 bytes of `window`.
        let v = unsafe { _mm_loadu_si128(window.as_ptr().cast::<__m128i>()) };
        let seps = mask(or(eq(v, b','), eq(v, b'\n')));
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
        let clean = || mask(or(eq(v, b'"'), eq(v, b'\r'))) & in_window == 0;
        if let Some((k, numeric)) = role.feature {
            let parsed = if numeric && seps != 0 {
                // SAFETY: compiled only into callers that have SSSE3 and SSE4.1.
                unsafe { parse16(v, end - start, in_window) }
            } else {
                None
            };
            let x = match parsed {
                Some(x) => x,
                None if clean() => encode(plan, k, &l[start..end])?,
                None => return None,
            };
            row.get_mut(k)?.write(x);
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

    /// The bytes of `v` equal to `c`.
    #[inline(always)]
    fn eq(v: __m128i, c: u8) -> __m128i {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8)) }
    }

    /// The bitwise or of `a` and `b`.
    #[inline(always)]
    fn or(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_or_si128(a, b) }
    }

    /// The top bits of the 16 bytes of `m`.
    #[inline(always)]
    fn mask(m: __m128i) -> u32 {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_movemask_epi8(m) as u32 }
    }

    /// Shuffle indices for `_mm_shuffle_epi8`, entry `(neg * 16 + len) * 16 + point` for a
    /// field of `len` (< 16) bytes with a minus sign first when `neg` is 1 and its point at
    /// byte `point` (`len` when it has none): the digits' byte offsets, in order,
    /// right-aligned; the other entries have their top bit set (the shuffle writes zeros).
    static SHUFFLE: [[u8; 16]; 512] = shuffle_table();

    const fn shuffle_table() -> [[u8; 16]; 512] {
        let mut t = [[0x80u8; 16]; 512];
        let mut neg = 0usize;
        while neg < 2 {
            let mut len = neg;
            while len < 16 {
                let mut point = neg;
                while point <= len {
                    let n_digits = len - neg - if point < len { 1 } else { 0 };
                    let entry = &mut t[(neg * 16 + len) * 16 + point];
                    let (mut i, mut c) = (neg, 0usize);
                    while i < len {
                        if i != point {
                            entry[16 - n_digits + c] = i as u8;
                            c += 1;
                        }
                        i += 1;
                    }
                    point += 1;
                }
                len += 1;
            }
            neg += 1;
        }
        t
    }

    /// Parse the plain decimal that is exactly the first `len` (< 16) bytes of `v`
    /// (`-?d*.?d*`, at least one digit). At most 15 digits, so the significand is an exact
    /// double, and one division by the exact power of ten rounds correctly: the same
    /// bits as any correct parser. `None` for anything else.
    #[inline]
    #[target_feature(enable = "ssse3,sse4.1")]
    pub(super) fn parse16(v: __m128i, len: usize, in_field: u32) -> Option<f64> {
        debug_assert!(len < 16 && in_field == (1 << len) - 1);
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        // Digits are the bytes whose value less '0' is at most 9 (unsigned).
        let digits = mask(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
        let points = mask(eq(v, b'.')) & in_field;
        let neg = mask(eq(v, b'-')) & 1;
        let has_point = u32::from(points != 0);
        // Every byte a digit but a leading minus and at most one point, and some digit.
        if (digits | points | neg) & in_field != in_field
            || points & points.wrapping_sub(1) != 0
            || len as u32 <= neg + has_point
        {
            return None;
        }
        let point = (points | (1 << len)).trailing_zeros() as usize;
        let frac = len - point - has_point as usize;
        // In bounds: `len` and `point` are below 16.
        let index = &SHUFFLE[((neg as usize * 16 + len) * 16 + point) & 511];
        // SAFETY: an unaligned load of exactly the 16 bytes of `index`.
        let index = unsafe { _mm_loadu_si128(index.as_ptr().cast::<__m128i>()) };
        let run = _mm_shuffle_epi8(d, index);
        // Pairs, quads, then two 8-digit halves (the first in the low lane).
        let pairs = _mm_maddubs_epi16(
            run,
            _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1),
        );
        let quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
        let quads = _mm_packus_epi32(quads, quads);
        let halves = _mm_madd_epi16(
            quads,
            _mm_setr_epi16(10_000, 1, 10_000, 1, 10_000, 1, 10_000, 1),
        );
        let w = _mm_cvtsi128_si64(halves) as u64;
        // At most 15 digits: below 2^53, so the signed conversion (one instruction) is
        // exact.
        let mant = (w & 0xFFFF_FFFF) * 100_000_000 + (w >> 32);
        let x = mant as i64 as f64 / POW10[frac & 15];
        Some(f64::from_bits(x.to_bits() | (u64::from(neg) << 63)))
    }

    /// [`parse16`] on the first `len` bytes of `window` (tests only; call only when
    /// [`available`]).
    #[cfg(test)]
    pub(super) fn parse_window(window: &[u8; 16], len: usize) -> Option<f64> {
        // SAFETY: the caller checked `available()`; the load reads exactly `window`.
        unsafe {
            parse16(
                _mm_loadu_si128(window.as_ptr().cast::<__m128i>()),
                len,
                (1 << len) - 1,
            )
        }
    }
}

/// Elsewhere: the word-wise parser only.
#[cfg(not(target_arch = "x86_64"))]
mod sse41 {
    use super::{CsvPlan, Plan};

    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn has_avx2() -> bool {
        false
    }

    /// Never called (`available` is false).
    pub(super) fn row(
        _plan: &Plan,
        _p: &CsvPlan,
        _l: &[u8],
        _values: &mut Vec<f64>,
        _bounds: &mut [(usize, usize)],
        _avx2: bool,
    ) -> Option<usize> {
        None
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
            Some((k, true)) => match parse_plain(&l[pos..]) {
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
    Ok(())
}

/// Powers of ten exactly representable as f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten as integers, up to 10^8 (one word of digits).
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Parse a plain decimal (`-12.345`: optional minus, digits, optional fraction; at most 19
/// digits, no exponent) at the start of `b`. Returns the value and the bytes used, or
/// `None` when the text needs the general parser. Exact: the significand (≤ 2^53) and the
/// power of ten (≤ 10^22) are both exact doubles, so one IEEE division rounds correctly,
/// giving the same bits as any correct parser.
///
/// Reads the digits eight bytes at a time while eight bytes are there (the common case
/// inside a chunk), else one at a time.
#[inline]
pub(crate) fn parse_plain(b: &[u8]) -> Option<(f64, usize)> {
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    // Digits before the point, then after it.
    let (mut mant, mut nd) = (0u64, 0usize);
    match read_digits(b, &mut i, &mut mant, &mut nd) {
        Digits::Read(_) => {}
        Digits::TooMany => return None,
        Digits::NearEnd => return parse_plain_bytewise(b),
    }
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        match read_digits(b, &mut i, &mut mant, &mut nd) {
            Digits::Read(n) => frac = n,
            Digits::TooMany => return None,
            Digits::NearEnd => return parse_plain_bytewise(b),
        }
    }
    if nd == 0 || mant > (1u64 << 53) {
        return None;
    }
    // Below 2^53, so the signed conversion (one instruction) is exact.
    let v = mant as i64 as f64 / POW10[frac];
    Some((if neg { -v } else { v }, i))
}

/// What [`read_digits`] found.
enum Digits {
    /// A run of this many digits, ended inside the input.
    Read(usize),
    /// More than 19 significant digits in all: not a plain decimal for the fast path.
    TooMany,
    /// Fewer than eight bytes left before the run ended: read the field byte by byte.
    NearEnd,
}

/// Reads the run of ASCII digits at `*i` eight bytes at a time, appending them to
/// `mant` and counting them in `nd`; `*i` ends after the run.
#[inline(always)]
fn read_digits(b: &[u8], i: &mut usize, mant: &mut u64, nd: &mut usize) -> Digits {
    let start = *i;
    loop {
        let Some(w) = load8(b, *i) else {
            return Digits::NearEnd;
        };
        let n = digit_run(w);
        if *nd + n > 19 {
            return Digits::TooMany;
        }
        if n > 0 {
            *mant = *mant * POW10_U64[n] + digits_value(w, n);
        }
        *nd += n;
        *i += n;
        if n < 8 {
            return Digits::Read(*i - start);
        }
    }
}

/// The eight bytes at `i` as a little-endian word (first byte lowest), if there are eight.
#[inline(always)]
fn load8(b: &[u8], i: usize) -> Option<u64> {
    let w: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// How many of the word's bytes, from the first, are ASCII digits (0..=8).
#[inline(always)]
fn digit_run(w: u64) -> usize {
    const LO: u64 = 0x3030_3030_3030_3030;
    const ADD: u64 = 0x4646_4646_4646_4646;
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte's top bit is set when it is below '0' (the subtraction wraps) or above '9'
    // (the addition reaches 0x80). Borrows and carries only move towards later bytes,
    // so every byte up to the first non-digit is flagged exactly.
    let flags = (w.wrapping_sub(LO) | w.wrapping_add(ADD)) & HI;
    (flags.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (0..=8) bytes of `w`, all ASCII digits.
#[inline(always)]
fn digits_value(w: u64, n: usize) -> u64 {
    // Shift the digits to the top of the word (dropping the bytes after them): the
    // emptied low bytes become leading zeros (all of them when `n` is 0).
    let d = (u128::from(w.wrapping_sub(0x3030_3030_3030_3030)) << (8 * (8 - n))) as u64;
    // Combine pairs, then pairs of pairs, then the two halves.
    let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_FFFF_0000_FFFF;
    d.wrapping_mul(10_000).wrapping_add(d >> 32) & 0xFFFF_FFFF
}

/// [`parse_plain`] one byte at a time (near the end of a chunk).
fn parse_plain_bytewise(b: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0usize;
    let neg = b.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let mut mant: u64 = 0;
    let mut nd = read_digits_bytewise(b, &mut i, &mut mant);
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = read_digits_bytewise(b, &mut i, &mut mant);
        nd += frac;
    }
    if nd == 0 || nd > 19 || mant > (1u64 << 53) {
        return None;
    }
    // Below 2^53, so the signed conversion (one instruction) is exact.
    let v = mant as i64 as f64 / POW10[frac];
    Some((if neg { -v } else { v }, i))
}

/// Reads the run of ASCII digits at `*i` one byte at a time into `mant` (wrapping; the
/// caller rejects more than 19 digits); returns how many there were.
fn read_digits_bytewise(b: &[u8], i: &mut usize, mant: &mut u64) -> usize {
    let start = *i;
    while let Some(&c) = b.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        *i += 1;
    }
    *i - start
}

#[cfg(test)]
mod tests {
    use super::parse_plain;
    use rand::{Rng, SeedableRng};

    #[test]
    fn plain_decimals_parse_to_the_correctly_rounded_double() {
        for s in [
            "0",
            "-0",
            "1",
            "-1.5",
            "0.1",
            "0.3",
            "-1.234567",
            "123456.123456789",
            "9007199254740992",
            "1.",
            ".5",
            "-.25",
            "0.000001",
            "1999999.999999",
        ] {
            let (v, n) = parse_plain(s.as_bytes()).unwrap();
            assert_eq!(n, s.len(), "{s}");
            let want: f64 = s.parse().unwrap();
            assert_eq!(v.to_bits(), want.to_bits(), "{s}");
        }
        assert_eq!(parse_plain(b"1.5,2").map(|p| p.1), Some(3));
        for s in [
            "",
            "-",
            ".",
            "+1",
            "9007199254740993",
            "123456789.123456789",
            "12345678901234567890",
            "x1",
        ] {
            assert!(parse_plain(s.as_bytes()).is_none(), "{s}");
        }
        // An exponent stops the plain parse; the caller then sees a non-separator.
        assert_eq!(parse_plain(b"1e5").map(|p| p.1), Some(1));
        // The same with room for word-wide reads after the number.
        assert_eq!(parse_plain(b"1e5,1,2,3,4,5,6,7,8").map(|p| p.1), Some(1));
        assert_eq!(parse_plain(b"9007199254740993,00000000").map(|p| p.1), None);
        assert_eq!(parse_plain(b"12345678901234567890,0000").map(|p| p.1), None);
    }

    #[test]
    fn word_digit_helpers_agree_with_a_byte_loop() {
        use super::{digit_run, digits_value};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200_000 {
            let mut b = [0u8; 8];
            for x in &mut b {
                *x = match rng.random_range(0..4) {
                    0 => rng.random::<u8>(),
                    _ => b'0' + rng.random_range(0..10u8),
                };
            }
            let w = u64::from_le_bytes(b);
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            assert_eq!(digit_run(w), n, "{b:?}");
            if n > 0 {
                let want = b[..n]
                    .iter()
                    .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
                assert_eq!(digits_value(w, n), want, "{b:?}");
            }
        }
    }

    /// The sixteen-byte parser on `l[..len]` (`None` when the field is longer than it
    /// takes), or `None` where the processor lacks it.
    fn simd_field(l: &[u8], len: usize) -> Option<Option<f64>> {
        #[cfg(target_arch = "x86_64")]
        if super::sse41::available() {
            let window: &[u8; 16] = l[..16].try_into().unwrap();
            return Some(if len < 16 {
                super::sse41::parse_window(window, len)
            } else {
                None
            });
        }
        let _ = (l, len);
        None
    }

    /// Random plain decimals of every shape, followed by a separator and more text (the
    /// word-wide path) or alone (the byte path): the same bits as `str::parse`, or `None`
    /// only where the fast path does not apply (more than 19 digits or a significand
    /// above 2^53).
    #[test]
    fn random_plain_decimals_match_the_standard_parser() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let digits = |rng: &mut rand_chacha::ChaCha8Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        };
        let (mut fast, mut field_fast, mut simd_fast) = (0usize, 0usize, 0usize);
        for case in 0..300_000 {
            let int_len = rng.random_range(0..=20usize);
            let frac_len = rng.random_range(0..=20usize);
            let mut s = String::new();
            if rng.random::<bool>() {
                s.push('-');
            }
            s.push_str(&digits(&mut rng, int_len));
            let point = frac_len > 0 || rng.random::<bool>();
            if point {
                s.push('.');
                s.push_str(&digits(&mut rng, frac_len));
            }
            let n_digits = int_len + frac_len;
            let want = if n_digits > 0 {
                Some(s.parse::<f64>().unwrap())
            } else {
                None
            };
            let sig: u128 = s.bytes().filter(u8::is_ascii_digit).fold(0u128, |a, c| {
                a.saturating_mul(10).saturating_add(u128::from(c - b'0'))
            });
            let applies = n_digits > 0 && n_digits <= 19 && sig <= 1u128 << 53;
            let tail = if case % 2 == 0 { ",1.5,2,3\n" } else { "" };
            let text = format!("{s}{tail}");
            let padded = format!("{s},000000000000000");
            if let Some(v) = super::parse_field(padded.as_bytes(), 0, s.len()) {
                assert!(applies, "{s}");
                assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
                field_fast += 1;
            }
            // The sixteen-byte parser takes every plain decimal of at most fifteen bytes
            // (sign included).
            if let Some(got) = simd_field(padded.as_bytes(), s.len()) {
                let short = s.len() <= 15;
                match got {
                    Some(v) => {
                        assert!(applies, "{s}");
                        assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
                        simd_fast += 1;
                    }
                    None => assert!(!(applies && short), "{s} should parse on the SIMD path"),
                }
            }
            match parse_plain(text.as_bytes()) {
                Some((v, n)) => {
                    assert!(applies, "{s} should need the general parser");
                    assert_eq!(n, s.len(), "{s}");
                    assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
                    fast += 1;
                }
                None => assert!(!applies, "{s} should parse on the fast path"),
            }
        }
        assert!(fast > 50_000, "too few cases took the fast path: {fast}");
        assert!(
            field_fast > 5_000,
            "too few took the indexed path: {field_fast}"
        );
        assert!(
            simd_field(b"1.5,000000000000000", 3).is_none() || simd_fast > 20_000,
            "too few took the SIMD path: {simd_fast}"
        );
    }

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
    fn sixteen_byte_rows_agree_with_the_one_pass_path() {
        if !super::sse41::available() {
            return;
        }
        let avx2 = super::sse41::has_avx2();
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
            let used = super::sse41::row(&plan, &p, l, &mut got, &mut got_bounds, avx2);
            // The SSE4.1-only build of the same code (`row` may have taken AVX2).
            let mut sse = Vec::new();
            let mut sse_bounds = vec![(0, 0); 6];
            // SAFETY: `available()` was checked at the start.
            let sse_used =
                unsafe { super::sse41::row_sse41(&plan, &p, l, &mut sse, &mut sse_bounds) };
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

    /// Six-decimal values like the benchmark's, near powers of ten and halfway cases.
    #[test]
    fn typical_and_edge_values_round_trip() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut cases: Vec<String> = (0..100_000)
            .map(|_| {
                let v = (rng.random::<f64>() * 4.0 - 2.0) * 1e6;
                format!("{}", v.round() / 1e6)
            })
            .collect();
        cases.extend(
            [
                "4503599627370495.5",
                "9007199254740991",
                "9007199254740992",
                "0.1000000000000000",
                "999999999999999999",
                "0.000000000000000001",
                "1.7976931348623157",
                "2.2250738585072014",
                "00000000000000000001",
                "-0.0",
                "12345678.12345678",
                "1234567812345678",
                "0.123456789012345678",
            ]
            .map(String::from),
        );
        for (i, s) in cases.into_iter().enumerate() {
            let text = format!("{s},0,0,0,0\n");
            let got = parse_plain(text.as_bytes());
            assert!(
                i >= 100_000 || got.is_some(),
                "{s} should parse on the fast path"
            );
            let padded = format!("{text}000000000000000");
            let field = super::parse_field(padded.as_bytes(), 0, s.len());
            assert!(
                i >= 100_000 || field.is_some(),
                "{s} should parse on the indexed path"
            );
            if let Some(v) = field {
                assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
            }
            if let Some(simd) = simd_field(padded.as_bytes(), s.len()) {
                assert!(
                    i >= 100_000 || simd.is_some(),
                    "{s} should parse on the SIMD path"
                );
                if let Some(v) = simd {
                    assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
                }
            }
            if let Some((v, n)) = got {
                assert_eq!(n, s.len(), "{s}");
                assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
            }
        }
    }
}
