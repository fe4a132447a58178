//! The fast path of JSON scoring requests: the body is read once, straight into the
//! encoded feature matrix (no `serde_json::Value` tree; numbers parsed with `fast-float2`,
//! strings borrowed from the body).
//!
//! It only ever *accepts*: anything it does not handle (other request shapes, `params`,
//! duplicate keys, a column given as something else than a string, …) and anything wrong
//! with the request (bad JSON, missing columns, a value of the wrong type, too many rows,
//! …) makes it return `None`, and the caller runs the general path over a
//! `serde_json::Value`, which answers exactly as before — so error messages and protocol
//! behaviour do not depend on this module. When it returns a matrix, it is the one the
//! general path would have built.

use super::state::Served;
use super::tabular::{Cell, Encoding, encode_cell, resolve_columns};
use crate::collect::{JsonRows, JsonRowsBuilder};
use crate::kernels::number::scan_number;
use std::borrow::Cow;

/// Deepest nesting skipped (serde_json refuses beyond 128).
const MAX_DEPTH: usize = 100;

/// Any reason to leave the fast path.
struct Fallback;

type Parse<T> = Result<T, Fallback>;

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(b: &'a [u8]) -> Self {
        Parser { b, i: 0 }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-space byte (not consumed).
    fn peek(&mut self) -> Parse<u8> {
        self.ws();
        self.b.get(self.i).copied().ok_or(Fallback)
    }

    fn eat(&mut self, c: u8) -> Parse<()> {
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// After an element of an array or object: `true` at `,`, `false` at `close`.
    fn next_or_end(&mut self, close: u8) -> Parse<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Ok(true)
            }
            c if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Fallback),
        }
    }

    /// A string (the opening quote not yet consumed).
    fn string(&mut self) -> Parse<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = &self.b[start..];
        let end = memchr::memchr2(b'"', b'\\', rest).ok_or(Fallback)?;
        if rest[end] == b'"' {
            let raw = &rest[..end];
            if raw.iter().any(|&c| c < 0x20) {
                return Err(Fallback);
            }
            self.i = start + end + 1;
            return std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| Fallback);
        }
        // Escapes: find the closing quote, then let serde_json decode the string.
        let mut j = start + end;
        loop {
            match self.b.get(j) {
                Some(b'\\') => j += 2,
                Some(b'"') => break,
                Some(_) => j += 1,
                None => return Err(Fallback),
            }
        }
        let s: String = serde_json::from_slice(&self.b[start - 1..=j]).map_err(|_| Fallback)?;
        self.i = j + 1;
        Ok(Cow::Owned(s))
    }

    /// A number, exactly as serde_json (with `float_roundtrip`) reads it into an `f64`.
    fn number(&mut self) -> Parse<f64> {
        self.ws();
        let (v, end) = scan_number(self.b, self.i).ok_or(Fallback)?;
        self.i = end;
        Ok(v)
    }

    fn literal(&mut self, word: &[u8]) -> Parse<()> {
        self.ws();
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// Skip any value.
    fn skip(&mut self, depth: usize) -> Parse<()> {
        if depth > MAX_DEPTH {
            return Err(Fallback);
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.eat(b':')?;
                    self.skip(depth + 1)?;
                    if !self.next_or_end(b'}')? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.next_or_end(b']')? {
                        return Ok(());
                    }
                }
            }
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// One value where a scalar is expected, encoded for feature `j` (`numeric`: whether
    /// that feature is numeric, where a number is its own encoding). With the value comes
    /// the span of its number token when the value is that number as written.
    fn cell(
        &mut self,
        served: &Served,
        j: usize,
        numeric: bool,
        enc: &Encoding,
    ) -> Parse<(f64, Option<(usize, usize)>)> {
        let c = self.peek()?;
        if numeric && (c == b'-' || c.is_ascii_digit()) {
            let start = self.i;
            let v = self.number()?;
            return Ok((v, Some((start, self.i))));
        }
        let s;
        let cell = match c {
            b'"' => {
                s = self.string()?;
                Cell::Str(&s)
            }
            b't' => {
                self.literal(b"true")?;
                Cell::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Cell::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Cell::Null
            }
            b'[' | b'{' => return Err(Fallback),
            _ => Cell::Num(self.number()?),
        };
        encode_cell(served, j, cell, enc)
            .map(|v| (v, None))
            .map_err(|_| Fallback)
    }

    /// The end of the body: only white space may follow.
    fn end(&mut self) -> Parse<()> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(Fallback)
        }
    }
}

/// The encoded matrix of a request and, when asked for, its rows as JSON text for the
/// prediction log (numbers as received).
pub(super) struct FastRows {
    pub x: ndarray::Array2<f64>,
    pub text: Option<JsonRows>,
}

/// Rows `[[v, ...], ...]` into a row-major buffer: provided column `i` of a row feeds
/// feature `to_feature[i]` (or is skipped). With `keep_text`, the rows are also written
/// as JSON in feature order, each number that is its own encoding copied as received.
fn rows(
    p: &mut Parser<'_>,
    served: &Served,
    to_feature: &[Option<usize>],
    enc: &Encoding,
    keep_text: bool,
) -> Parse<FastRows> {
    let features = &served.model.signature().inputs.features;
    let nf = features.len();
    let numeric: Vec<bool> = features
        .iter()
        .map(|f| matches!(f.kind, crate::data::FeatureKind::Numeric))
        .collect();
    p.eat(b'[')?;
    if p.peek()? == b']' {
        return Err(Fallback); // no rows
    }
    let mut text = keep_text.then(|| JsonRowsBuilder::with_capacity(p.b.len() - p.i));
    // Columns in feature order, all numeric: a row written without spaces is read in one
    // call, and its text is the log's as it stands.
    let in_order = to_feature.len() == nf
        && to_feature.iter().enumerate().all(|(i, t)| *t == Some(i))
        && numeric.iter().all(|&n| n);
    // The token of each feature in the current row (`None`: write the encoded value).
    let mut tokens: Vec<Option<(usize, usize)>> = vec![None; nf];
    let mut x: Vec<f64> = Vec::new();
    let mut n = 0usize;
    loop {
        if n >= enc.max_rows {
            return Err(Fallback);
        }
        let at = x.len();
        x.resize(at + nf, 0.0);
        p.ws();
        let row_start = p.i;
        p.eat(b'[')?;
        let mut width = 0usize;
        if in_order
            && let Some(end) =
                crate::kernels::number::scan_compact_row(p.b, p.i, &mut x[at..at + nf])
        {
            if let Some(t) = &mut text {
                t.push_row(&p.b[row_start..end], nf);
            }
            p.i = end;
            n += 1;
            if !p.next_or_end(b']')? {
                break;
            }
            continue;
        }
        if p.peek()? == b']' {
            p.i += 1;
        } else {
            loop {
                match to_feature.get(width) {
                    Some(&Some(j)) => {
                        let (v, token) = p.cell(served, j, numeric[j], enc)?;
                        x[at + j] = v;
                        tokens[j] = token;
                    }
                    Some(None) => p.skip(0)?,
                    None => return Err(Fallback), // a row too long
                }
                width += 1;
                if !p.next_or_end(b']')? {
                    break;
                }
            }
        }
        if width != to_feature.len() {
            return Err(Fallback);
        }
        // (A compact row in signature order was read whole above; this one is logged
        // value by value.)
        if let Some(t) = &mut text {
            t.start_row();
            for (j, token) in tokens.iter().enumerate() {
                match token {
                    Some((from, to)) => t.push_token(&p.b[*from..*to]),
                    None => t.push_f64(x[at + j]),
                }
            }
            t.end_row();
        }
        n += 1;
        if !p.next_or_end(b']')? {
            break;
        }
    }
    let x = ndarray::Array2::from_shape_vec((n, nf), x).map_err(|_| Fallback)?;
    Ok(FastRows {
        x,
        text: text.map(JsonRowsBuilder::finish),
    })
}

fn split(p: &mut Parser<'_>, served: &Served, enc: &Encoding, keep_text: bool) -> Parse<FastRows> {
    let nf = served.model.signature().inputs.n_features();
    p.eat(b'{')?;
    let mut columns: Option<Option<Vec<Option<usize>>>> = None;
    let mut data = None;
    if p.peek()? == b'}' {
        return Err(Fallback);
    }
    loop {
        let key = p.string()?;
        p.eat(b':')?;
        match key.as_ref() {
            "columns" => {
                if columns.is_some() || data.is_some() {
                    return Err(Fallback); // repeated, or after the data
                }
                if p.peek()? == b'n' {
                    p.literal(b"null")?;
                    columns = Some(None);
                } else {
                    let mut names: Vec<Cow<'_, str>> = Vec::new();
                    p.eat(b'[')?;
                    if p.peek()? == b']' {
                        p.i += 1;
                    } else {
                        loop {
                            if p.peek()? != b'"' {
                                return Err(Fallback);
                            }
                            names.push(p.string()?);
                            if !p.next_or_end(b']')? {
                                break;
                            }
                        }
                    }
                    let at = resolve_columns(served, &names, enc).map_err(|_| Fallback)?;
                    let mut to_feature = vec![None; names.len()];
                    for (j, &i) in at.iter().enumerate() {
                        to_feature[i] = Some(j);
                    }
                    columns = Some(Some(to_feature));
                }
            }
            "data" => {
                if data.is_some() {
                    return Err(Fallback);
                }
                let to_feature = match &columns {
                    Some(Some(t)) => t.clone(),
                    _ => (0..nf).map(Some).collect(),
                };
                data = Some(rows(p, served, &to_feature, enc, keep_text)?);
            }
            _ => p.skip(0)?,
        }
        if !p.next_or_end(b'}')? {
            break;
        }
    }
    data.ok_or(Fallback)
}

/// The encoded matrix of an MLflow JSON scoring request without `params`, when the fast
/// path can read it (with the rows as JSON text for the log if `keep_text`); `None` sends
/// the caller to the general path.
pub(super) fn mlflow_rows(
    served: &Served,
    body: &[u8],
    enc: &Encoding,
    keep_text: bool,
) -> Option<FastRows> {
    let mut p = Parser::new(body);
    let parsed = (|| -> Parse<FastRows> {
        p.eat(b'{')?;
        let mut input: Option<FastRows> = None;
        if p.peek()? == b'}' {
            return Err(Fallback);
        }
        loop {
            let key = p.string()?;
            p.eat(b':')?;
            let is_input = matches!(
                key.as_ref(),
                "dataframe_split" | "dataframe_records" | "instances" | "inputs" | "params"
            );
            if is_input && input.is_some() {
                return Err(Fallback);
            }
            match key.as_ref() {
                "dataframe_split" => input = Some(split(&mut p, served, enc, keep_text)?),
                "instances" | "inputs" => {
                    let nf = served.model.signature().inputs.n_features();
                    let to_feature: Vec<Option<usize>> = (0..nf).map(Some).collect();
                    input = Some(rows(&mut p, served, &to_feature, enc, keep_text)?);
                }
                "dataframe_records" | "params" => return Err(Fallback),
                _ => p.skip(0)?,
            }
            if !p.next_or_end(b'}')? {
                break;
            }
        }
        p.end()?;
        input.ok_or(Fallback)
    })();
    parsed.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_exactly_as_serde_json_reads_them() {
        let cases = [
            "0",
            "-0",
            "1",
            "-1",
            "0.1",
            "-0.0",
            "1e10",
            "1E-7",
            "2.5e+3",
            "123456789012345678901234567890",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "0.30000000000000004",
            "2.2250738585072011e-308",
            "4.9e-324",
            "1.7976931348623157e308",
            "0.1000000000000000055511151231257827021181583404541015625",
            "9007199254740993",
            "3.141592653589793238462643383279",
            "1e-400",
        ];
        for c in cases {
            let expected = serde_json::from_str::<serde_json::Value>(c)
                .unwrap()
                .as_f64()
                .unwrap();
            let mut p = Parser::new(c.as_bytes());
            let got = p.number().ok().unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{c}");
            assert!(p.end().is_ok());
        }
        for bad in [
            "01", "1.", ".5", "+1", "-", "1e", "1e+", "--1", "1e400", "-1e400", "0x1",
        ] {
            let mut p = Parser::new(bad.as_bytes());
            let ok = p.number().is_ok() && p.end().is_ok();
            assert!(!ok, "{bad} must not be accepted");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn strings_are_decoded_or_refused_like_serde_json() {
        for s in [
            r#""plain""#,
            r#""a\"b\\c\n\u00e9\ud83d\ude00""#,
            "\"caf\u{e9}\"",
        ] {
            let expected: String = serde_json::from_str(s).unwrap();
            let mut p = Parser::new(s.as_bytes());
            assert_eq!(p.string().ok().unwrap(), expected);
            assert!(p.end().is_ok());
        }
        for bad in ["\"a\nb\"", r#""\ud800""#, r#""\x""#, r#""open"#, "\"a\\\""] {
            let mut p = Parser::new(bad.as_bytes());
            assert!(p.string().is_err(), "{bad}");
        }
        let mut p = Parser::new(b"\"\xff\"");
        assert!(p.string().is_err());
    }

    #[test]
    fn skipping_handles_nesting_and_refuses_too_deep() {
        let mut p = Parser::new(br#" {"a": [1, {"b": null, "c": [true, false, "x"]}], "d": {}} "#);
        assert!(p.skip(0).is_ok() && p.end().is_ok());
        let deep = "[".repeat(200) + &"]".repeat(200);
        let mut p = Parser::new(deep.as_bytes());
        assert!(p.skip(0).is_err());
    }
}
