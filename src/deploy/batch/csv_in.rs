//! CSV input: the reader thread cuts the file into chunks of whole records at line
//! boundaries; the workers tokenise and parse them.
//!
//! Workers take a fast path for the common line — no quote, no carriage return inside,
//! the expected number of fields, every numeric feature a plain decimal — which finds the
//! separators and parses the numbers straight into the chunk's feature matrix in one pass
//! over the bytes. Any other line (quoted fields, odd numbers, wrong field count, a bad
//! value) goes through `csv-core` and the general cell encoder, which decides whether it is
//! scored or rejected, with the same reasons as ever.

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
        CsvPlan {
            n_fields: header.len(),
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
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            core: csv_core::Reader::new(),
            out: vec![0; 1 << 12],
            ends: vec![0; 64],
            bounds: Vec::new(),
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
    let mut d = Decoded {
        rows: 0,
        rejected: 0,
        n_good: 0,
        values: Vec::with_capacity(rows_hint * n_feat),
        kept: Kept::Text {
            arena: Vec::new(),
            ranges: Vec::new(),
        },
        rejects: Vec::new(),
    };
    let mut arena = Vec::new();
    let mut ranges = Vec::with_capacity(rows_hint * n_keep);
    s.bounds.clear();
    s.bounds.resize(p.n_fields, (0, 0));
    let (mut pos, mut line) = (0usize, first_line);
    while pos < bytes.len() {
        let nl = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let mut end = nl;
        if end > pos && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let l = &bytes[pos..end];
        if l.is_empty() {
            // A blank line is no record (as in csv-core).
            pos = nl + 1;
            line += 1;
            continue;
        }
        if memchr::memchr2(b'"', b'\r', l).is_none()
            && fast_row(plan, p, l, &mut d.values, &mut s.bounds)
        {
            for &j in &p.keep_cols {
                let (a, b) = s.bounds[j];
                let start = arena.len();
                arena.extend_from_slice(&l[a..b]);
                ranges.push((start, arena.len()));
            }
            d.rows += 1;
            d.n_good += 1;
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

/// The fast path: a line without quotes or carriage returns. Returns false (leaving
/// `values` as it was) when the line needs the general path.
#[inline]
fn fast_row(
    plan: &Plan,
    p: &CsvPlan,
    l: &[u8],
    values: &mut Vec<f64>,
    bounds: &mut [(usize, usize)],
) -> bool {
    let n_feat = plan.n_feat();
    let start = values.len();
    values.resize(start + n_feat, 0.0);
    let row = &mut values[start..];
    let mut pos = 0usize;
    let mut ok = true;
    for (j, role) in p.roles.iter().enumerate() {
        if j > 0 {
            if pos >= l.len() || l[pos] != b',' {
                ok = false;
                break;
            }
            pos += 1;
        }
        let field_start = pos;
        let rest = &l[pos..];
        match role.feature {
            Some((k, true)) => match parse_plain(rest) {
                Some((v, n)) if n == rest.len() || rest[n] == b',' => {
                    row[k] = v;
                    pos += n;
                }
                _ => {
                    pos += memchr::memchr(b',', rest).unwrap_or(rest.len());
                    match plan.encoder.encode_bytes(k, &l[field_start..pos]) {
                        Ok(v) => row[k] = v,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
            },
            Some((k, false)) => {
                pos += memchr::memchr(b',', rest).unwrap_or(rest.len());
                match plan.encoder.encode_bytes(k, &l[field_start..pos]) {
                    Ok(v) => row[k] = v,
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            None => pos += memchr::memchr(b',', rest).unwrap_or(rest.len()),
        }
        if role.kept {
            bounds[j] = (field_start, pos);
        }
    }
    if !ok || pos != l.len() {
        values.truncate(start);
        return false;
    }
    true
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

/// Parse a plain decimal (`-12.345`: optional minus, digits, optional fraction; at most 19
/// digits, no exponent) at the start of `b`. Returns the value and the bytes used, or
/// `None` when the text needs the general parser. Exact: the significand (≤ 2^53) and the
/// power of ten (≤ 10^22) are both exact doubles, so one IEEE division rounds correctly,
/// giving the same bits as any correct parser.
#[inline]
pub(crate) fn parse_plain(b: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0usize;
    let neg = b.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let mut mant: u64 = 0;
    let mut nd = 0usize;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        nd += 1;
        i += 1;
    }
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
            nd += 1;
            frac += 1;
            i += 1;
        }
    }
    if nd == 0 || nd > 19 || mant > (1u64 << 53) {
        return None;
    }
    let v = mant as f64 / POW10[frac];
    Some((if neg { -v } else { v }, i))
}

#[cfg(test)]
mod tests {
    use super::parse_plain;

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
    }
}
