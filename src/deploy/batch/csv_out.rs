//! CSV output: rows formatted straight into one buffer per chunk (floats with `ryu`), and
//! the rejects file's records.

use super::{Decoded, Kept, Plan};
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

/// Format the scored rows of a chunk: kept fields, prediction, class probabilities.
pub(crate) fn format_rows(
    plan: &Plan,
    d: &Decoded,
    pred: &Prediction,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n_keep = plan.keep.len();
    let mut fmt = ryu::Buffer::new();
    // Class labels as CSV fields, formatted once per chunk.
    let labels: Vec<Vec<u8>> = plan.classes.as_ref().map_or_else(Vec::new, |classes| {
        classes
            .iter()
            .map(|c| {
                let mut f = Vec::new();
                write_field(&mut f, c.as_bytes());
                f
            })
            .collect()
    });
    #[cfg(feature = "parquet")]
    let mut cell = Vec::new();
    for r in 0..d.n_good {
        match &d.kept {
            Kept::Text { arena, ranges } => {
                for &(a, b) in &ranges[r * n_keep..(r + 1) * n_keep] {
                    write_field(out, &arena[a..b]);
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
            Some(_) => out.extend_from_slice(labels.get(v as usize).map_or(&[][..], Vec::as_slice)),
            None => out.extend_from_slice(fmt.format(v).as_bytes()),
        }
        if let Some(p) = &pred.probabilities {
            for c in 0..p.ncols() {
                out.push(b',');
                out.extend_from_slice(fmt.format(p[[r, c]]).as_bytes());
            }
        }
        out.push(b'\n');
    }
    Ok(())
}
