//! The JSON-lines record format of the prediction log (`HH.jsonl` files): one record per
//! line, byte for byte what `serde_json` writes for a [`super::PredictionRecord`], except inputs
//! kept as the text a client sent ([`JsonRows`]).

use super::{RecordInputs, RequestRecord};
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
/// Append `s` as a JSON string (escaped exactly as `serde_json` does).
fn write_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    } else {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    }
}

/// Append a number as `serde_json` writes an `f64` (NaN and infinities as `null`).
fn write_f64(buf: &mut Vec<u8>, v: f64) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, &v);
}

fn write_values(buf: &mut Vec<u8>, values: impl IntoIterator<Item = f64>) {
    buf.push(b'[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_f64(buf, v);
    }
    buf.push(b']');
}

/// Input rows kept as JSON text: an array of rows, each an array of JSON numbers or
/// `null` — exactly what the `inputs` field of a JSON-lines record holds. A server builds
/// it while it reads a request, keeping every number as the client wrote it (`1.50`
/// stays `1.50`), so the log stores the text verbatim instead of formatting the parsed
/// values again; the values it reads back are the ones the model scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonRows {
    text: Vec<u8>,
    n_rows: usize,
    n_values: usize,
}

impl JsonRows {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of values (all rows).
    pub fn n_values(&self) -> usize {
        self.n_values
    }

    /// The JSON text, e.g. `[[1.50,2,null],[0.1,-3e2,7]]`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The rows as numbers (`null` as NaN), as a reader of the log gets them.
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        // The text is valid by construction (see `JsonRowsBuilder`).
        serde_json::from_slice::<Vec<Vec<Option<f64>>>>(&self.text)
            .map(|rows| {
                rows.into_iter()
                    .map(|r| r.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Builds a [`JsonRows`] row by row.
#[derive(Debug)]
pub(crate) struct JsonRowsBuilder {
    text: Vec<u8>,
    n_rows: usize,
    n_values: usize,
    /// Values in the open row.
    in_row: usize,
}

impl JsonRowsBuilder {
    /// An empty builder with room for about `bytes` of text.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        let mut text = Vec::with_capacity(bytes.max(16));
        text.push(b'[');
        JsonRowsBuilder {
            text,
            n_rows: 0,
            n_values: 0,
            in_row: 0,
        }
    }

    /// Open a row.
    pub(crate) fn start_row(&mut self) {
        if self.n_rows > 0 {
            self.text.push(b',');
        }
        self.text.push(b'[');
        self.in_row = 0;
    }

    fn separate(&mut self) {
        if self.in_row > 0 {
            self.text.push(b',');
        }
        self.in_row += 1;
        self.n_values += 1;
    }

    /// Append a number token as received. The caller guarantees `token` is one JSON
    /// number (`-`? int frac? exp?) whose value is finite.
    pub(crate) fn push_token(&mut self, token: &[u8]) {
        self.separate();
        self.text.extend_from_slice(token);
    }

    /// Append a whole row as text. The caller guarantees `row` is `[` + `values` JSON
    /// number tokens (each finite) separated by single commas + `]`.
    pub(crate) fn push_row(&mut self, row: &[u8], values: usize) {
        if self.n_rows > 0 {
            self.text.push(b',');
        }
        self.text.extend_from_slice(row);
        self.n_rows += 1;
        self.n_values += values;
        self.in_row = 0;
    }

    /// Append a value as `serde_json` writes an `f64` (NaN and infinities as `null`).
    pub(crate) fn push_f64(&mut self, v: f64) {
        self.separate();
        write_f64(&mut self.text, v);
    }

    /// Close the open row.
    pub(crate) fn end_row(&mut self) {
        self.text.push(b']');
        self.n_rows += 1;
    }

    /// The rows built.
    pub(crate) fn finish(mut self) -> JsonRows {
        self.text.push(b']');
        JsonRows {
            text: self.text,
            n_rows: self.n_rows,
            n_values: self.n_values,
        }
    }
}

/// Append one record as a JSON line: byte for byte what `serde_json` writes for the
/// equivalent [`PredictionRecord`], except that inputs kept as [`JsonRows`] are written
/// as they were received (same values, possibly other number spellings).
pub(super) fn write_line(buf: &mut Vec<u8>, r: &RequestRecord) {
    write_line_head(buf, r);
    match &r.inputs {
        RecordInputs::Matrix(m) => {
            buf.push(b'[');
            for (i, row) in m.outer_iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_values(buf, row.iter().copied());
            }
            buf.push(b']');
        }
        RecordInputs::Rows(rows) => {
            buf.push(b'[');
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_values(buf, row.iter().copied());
            }
            buf.push(b']');
        }
        RecordInputs::Json(j) => buf.extend_from_slice(j.as_bytes()),
    }
    write_line_tail(buf, r);
}

/// A record's line up to its `inputs` value.
pub(super) fn write_line_head(buf: &mut Vec<u8>, r: &RequestRecord) {
    buf.extend_from_slice(b"{\"request_id\":");
    write_str(buf, &r.request_id);
    buf.extend_from_slice(b",\"at\":\"");
    write_timestamp(buf, r.at);
    buf.extend_from_slice(b"\",\"model_name\":");
    write_str(buf, &r.model_name);
    buf.extend_from_slice(b",\"model_version\":");
    write_u64(buf, u64::from(r.model_version));
    buf.extend_from_slice(b",\"inputs\":");
}

/// A record's line after its `inputs` value.
pub(super) fn write_line_tail(buf: &mut Vec<u8>, r: &RequestRecord) {
    buf.extend_from_slice(b",\"outputs\":");
    write_values(buf, r.outputs.iter().copied());
    if !r.probabilities.is_empty() {
        buf.extend_from_slice(b",\"probabilities\":[");
        for (i, row) in r.probabilities.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_values(buf, row.iter().copied());
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b",\"latency_us\":");
    write_u64(buf, r.latency_us);
    buf.extend_from_slice(b",\"error\":");
    match &r.error {
        Some(e) => write_str(buf, e),
        None => buf.extend_from_slice(b"null"),
    }
    if !r.notes.is_empty() {
        buf.extend_from_slice(b",\"notes\":[");
        for (i, n) in r.notes.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_str(buf, n);
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"}\n");
}

/// Append an unsigned integer in decimal.
fn write_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

/// Append `n` with exactly `width` digits (leading zeros).
fn write_fixed(buf: &mut Vec<u8>, mut n: u32, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for k in (start..start + width).rev() {
        buf[k] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Append `t` as chrono's `to_rfc3339_opts(SecondsFormat::AutoSi, true)` writes it (what
/// `serde` writes for a `DateTime<Utc>`), without an allocation in the common case.
fn write_timestamp(buf: &mut Vec<u8>, t: DateTime<Utc>) {
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
        // Signed or five-digit years, leap seconds: let chrono write them.
        buf.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        return;
    }
    write_fixed(buf, t.year() as u32, 4);
    buf.push(b'-');
    write_fixed(buf, t.month(), 2);
    buf.push(b'-');
    write_fixed(buf, t.day(), 2);
    buf.push(b'T');
    write_fixed(buf, t.hour(), 2);
    buf.push(b':');
    write_fixed(buf, t.minute(), 2);
    buf.push(b':');
    write_fixed(buf, t.second(), 2);
    if nanos != 0 {
        buf.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            write_fixed(buf, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            write_fixed(buf, nanos / 1_000, 6);
        } else {
            write_fixed(buf, nanos, 9);
        }
    }
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::PredictionRecord;
    use crate::collect::test_record as record;
    use chrono::{TimeDelta, TimeZone};
    use ndarray::array;
    use std::sync::Arc;

    #[test]
    fn lines_are_byte_for_byte_what_serde_json_writes() {
        let times = [
            Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + TimeDelta::milliseconds(120),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap() + TimeDelta::microseconds(5),
            Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap() + TimeDelta::nanoseconds(7),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap()
                + TimeDelta::nanoseconds(123_456_789),
            Utc.with_ymd_and_hms(12_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        let rows = vec![
            vec![
                41.0,
                52_000.0,
                0.31,
                f64::NAN,
                f64::INFINITY,
                -2.5e-8,
                0.1 + 0.2,
            ],
            vec![],
            vec![1.0, 123_456_789_012_345_680.0],
        ];
        let probabilities = vec![vec![0.25, 0.75], vec![f64::NAN, 1.0], vec![1e-300, 0.5]];
        for (i, at) in times.into_iter().enumerate() {
            for error in [None, Some("bad \"input\"\n\ttab\\ \u{7f}")] {
                let mut r = record(at, &format!("req-{i}\u{0}"), rows.clone(), error);
                if error.is_none() && i % 2 == 0 {
                    r.probabilities = probabilities.clone();
                }
                if i % 3 == 1 {
                    r.notes = vec!["column `c`: \"x\"\n scored as missing".into(), "ü".into()];
                }
                let mut line = Vec::new();
                write_line(&mut line, &RequestRecord::from(r.clone()));
                let expected = serde_json::to_string(&r).unwrap() + "\n";
                assert_eq!(String::from_utf8(line).unwrap(), expected);
            }
        }
        // The matrix form writes the same line as the row form.
        let m = array![[1.5, f64::NAN, -3.0], [0.25, 1e21, 7.0]];
        let r = record(
            times[0],
            "m",
            m.outer_iter().map(|r| r.to_vec()).collect(),
            None,
        );
        let mut compact = RequestRecord::from(r.clone());
        compact.inputs = RecordInputs::Matrix(Arc::new(m));
        let mut line = Vec::new();
        write_line(&mut line, &compact);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            serde_json::to_string(&r).unwrap() + "\n"
        );
    }

    #[test]
    fn inputs_kept_as_received_text_read_back_as_the_scored_values() {
        // Number tokens as a client may write them, and the values the server scored.
        let tokens = [
            "1.50",
            "-0",
            "1E5",
            "0.30000000000000004",
            "2.5e-8",
            "123456789012345678901234567890",
            "52000.000",
            "7",
        ];
        let mut b = JsonRowsBuilder::with_capacity(8);
        let mut scored = Vec::new();
        for row in tokens.chunks(4) {
            b.start_row();
            let mut values = Vec::new();
            for t in row {
                b.push_token(t.as_bytes());
                values.push(t.parse::<f64>().unwrap());
            }
            // Cells that were not plain numbers (missing, categorical codes) are formatted.
            b.push_f64(f64::NAN);
            b.push_f64(2.0);
            values.extend([f64::NAN, 2.0]);
            b.end_row();
            scored.push(values);
        }
        let rows = b.finish();
        assert_eq!((rows.n_rows(), rows.n_values()), (2, 12));
        assert_eq!(
            std::str::from_utf8(rows.as_bytes()).unwrap(),
            "[[1.50,-0,1E5,0.30000000000000004,null,2.0],\
             [2.5e-8,123456789012345678901234567890,52000.000,7,null,2.0]]"
        );
        let same = |a: &[Vec<f64>], b: &[Vec<f64>]| {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    x.len() == y.len()
                        && x.iter()
                            .zip(y)
                            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()))
                })
        };
        assert!(same(&rows.to_rows(), &scored));
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut r = RequestRecord::from(record(t, "text", Vec::new(), None));
        r.inputs = RecordInputs::Json(Arc::new(rows));
        // Outputs are read back as plain numbers (a NaN output is not).
        r.outputs = vec![1.0, 0.0];
        let mut line = Vec::new();
        write_line(&mut line, &r);
        assert!(line.ends_with(b"}\n"));
        // The line parses into the same record as one written from the parsed values,
        // and compares equal value by value.
        let back: PredictionRecord = serde_json::from_slice(&line).unwrap();
        assert!(same(&back.inputs, &scored));
        let mut from_values = r.to_record();
        from_values.inputs = scored.clone();
        let expected: PredictionRecord =
            serde_json::from_str(&serde_json::to_string(&from_values).unwrap()).unwrap();
        assert_eq!(back.request_id, expected.request_id);
        assert_eq!(back.at, expected.at);
        assert_eq!(back.model_name, expected.model_name);
        assert_eq!(back.model_version, expected.model_version);
        assert!(same(&back.inputs, &expected.inputs));
        assert!(same(&[back.outputs], &[expected.outputs]));
        assert_eq!(back.latency_us, expected.latency_us);
        assert_eq!(back.error, expected.error);
    }
}
