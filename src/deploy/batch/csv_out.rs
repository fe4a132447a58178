//! CSV output: rows formatted straight into one buffer per chunk (floats with `ryu`), and
//! the rejects file's records.

use super::{Decoded, Kept, Plan};
use crate::kernels;
use crate::model::Prediction;
use crate::{Error, Result};

/// The output's header line.
pub(crate) fn header(cols: &[String]) -> Result<Vec<u8>> {
    let mut h = csv::WriterBuilder::new().from_writer(Vec::new());
    h.write_record(cols)
        .map_err(|e| Error::Data(format!("cannot format the output header: {e}")))?;
    h.into_inner()
        .map_err(|e| Error::Data(format!("output header: {e}")))
}

/// Append one CSV field, quoted when it holds a separator, a quote or a line break (the
/// `csv` crate's "necessary" rule).
#[inline]
pub(crate) fn write_field(out: &mut Vec<u8>, f: &[u8]) {
    let needs_quotes = f.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        out.extend_from_slice(f);
        return;
    }
    out.push(b'"');
    for &b in f {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Append a rejects record: the line (or row) number, the reason, the raw record.
pub(crate) fn push_reject(out: &mut Vec<u8>, number: u64, reason: &str, record: &[u8]) {
    out.extend_from_slice(number.to_string().as_bytes());
    out.push(b',');
    write_field(out, reason.as_bytes());
    out.push(b',');
    write_field(out, record);
    out.push(b'\n');
}

/// Bytes a kept text field's buffer must hold after its last field, so that any field can
/// be read sixteen bytes at a time (see [`put_short`]).
pub(crate) const PAD: usize = 16;

/// Format the scored rows of a chunk: kept fields, prediction, class probabilities.
///
/// Short fields (kept values, class labels) are copied sixteen bytes at a time from
/// buffers padded by [`PAD`] bytes, and numbers are formatted by `ryu` straight into the
/// output, so a row takes no call to `memcpy`; the bytes are the same as field by field.
pub(crate) fn format_rows(
    plan: &Plan,
    d: &Decoded,
    pred: &Prediction,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n_keep = plan.keep.len();
    let mut fmt = ryu::Buffer::new();
    // Class labels as CSV fields, formatted once per chunk, each followed by PAD bytes.
    let labels: Vec<(Vec<u8>, usize)> = plan.classes.as_ref().map_or_else(Vec::new, |classes| {
        classes
            .iter()
            .map(|c| {
                let mut f = Vec::new();
                write_field(&mut f, c.as_bytes());
                let n = f.len();
                f.resize(n + PAD, 0);
                (f, n)
            })
            .collect()
    });
    let n_probs = pred.probabilities.as_ref().map_or(0, |p| p.ncols());
    // Room for a row's short writes: kept fields of up to PAD bytes (longer ones reserve
    // their own), a label or a number, the probabilities, separators.
    let room = n_keep * (PAD + 1) + PAD + NUMBER + n_probs * (NUMBER + 1) + 1;
    #[cfg(feature = "parquet")]
    let mut cell = Vec::new();
    for r in 0..d.n_good {
        out.reserve(room);
        match &d.kept {
            Kept::Text { arena, ranges } => {
                for &(a, b) in &ranges[r * n_keep..(r + 1) * n_keep] {
                    match arena.get(a..a + PAD) {
                        Some(w) if b - a <= PAD && plain(w, b - a) => put_short(out, w, b - a),
                        _ => write_field(out, &arena[a..b]),
                    }
                    out.push(b',');
                }
            }
            #[cfg(feature = "parquet")]
            Kept::Arrow(cols) => {
                for c in cols {
                    cell.clear();
                    super::arrow_io::format_cell(c.as_ref(), r, &mut cell);
                    write_field(out, &cell);
                    out.push(b',');
                }
            }
        }
        let v = pred.values[r];
        match &plan.classes {
            Some(_) => match labels.get(v as usize) {
                Some((f, n)) if *n <= PAD => put_short(out, &f[..PAD], *n),
                Some((f, n)) => out.extend_from_slice(&f[..*n]),
                None => {}
            },
            None => put_number(out, v, &mut fmt),
        }
        if let Some(p) = &pred.probabilities {
            for c in 0..p.ncols() {
                out.push(b',');
                put_number(out, p[[r, c]], &mut fmt);
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The most bytes `ryu` writes for an `f64`.
const NUMBER: usize = 24;

/// Append `v` as `ryu` formats it.
#[inline(always)]
fn put_number(out: &mut Vec<u8>, v: f64, fmt: &mut ryu::Buffer) {
    kernels::bytes::append_f64(out, v, fmt);
}

/// Append the first `n` (at most [`PAD`]) bytes of `w` (all sixteen are copied, a
/// fixed-size copy, and the length then set to keep `n`).
#[inline(always)]
pub(crate) fn put_short(out: &mut Vec<u8>, w: &[u8], n: usize) {
    match <&[u8; PAD]>::try_from(w) {
        Ok(w) => kernels::bytes::append_prefix16(out, w, n),
        Err(_) => out.extend_from_slice(&w[..n]),
    }
}

/// Whether the first `n` bytes of the sixteen in `w` make a field that needs no quotes
/// (no separator, quote or line break).
#[inline(always)]
fn plain(w: &[u8], n: usize) -> bool {
    if let Ok(w) = <&[u8; PAD]>::try_from(w) {
        return kernels::simd::csv_specials16(w) & ((1u32 << n.min(PAD)) - 1) == 0;
    }
    !w[..n.min(w.len())]
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}
