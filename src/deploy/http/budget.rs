//! Counting a JSON body's rows and values before it is parsed, so that a body of millions
//! of tiny records is refused at the first value over the limit instead of after a tree
//! many times its size has been built.
//!
//! One pass over the bytes with a stack of open containers (at most [`MAX_DEPTH`] deep;
//! deeper bodies are left to the parser, which refuses them). It does not validate the
//! JSON: whatever it lets through is parsed and checked as before.

use super::error::ApiError;

/// Containers deeper than this are not followed (the JSON parser refuses them anyway).
const MAX_DEPTH: usize = 256;

/// Values allowed beyond `max_rows × (features + 1)`, for names, shapes and parameters.
pub(super) const VALUE_SLACK: usize = 4_096;

/// Which protocol's body is counted (where its rows are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// MLflow scoring: rows are the items of `dataframe_records`, `instances`, `inputs`
    /// (or of each column under them) and `dataframe_split.data`.
    Mlflow,
    /// Open Inference Protocol v2: only values are counted.
    V2,
}

/// What a container is for the row count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The body itself.
    Top,
    /// `dataframe_split`.
    Split,
    /// `instances` / `inputs` given as an object of columns.
    Columns,
    /// A list whose items are rows (or one column's values).
    Rows,
    Other,
}

/// The key just read in an object, as far as roles go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    RowField,
    Split,
    Data,
    Other,
}

#[derive(Debug)]
struct Frame {
    array: bool,
    role: Role,
    items: usize,
    key: Key,
}

/// Refuse a body with more than `max_rows` rows (400) or more than
/// `max_rows × (features + 1) + VALUE_SLACK` values (413), counting as it reads.
pub(super) fn check(
    body: &[u8],
    protocol: Protocol,
    max_rows: usize,
    features: usize,
) -> Result<(), ApiError> {
    let max_values = max_rows
        .saturating_mul(features.saturating_add(1))
        .saturating_add(VALUE_SLACK);
    let too_many_rows = || {
        ApiError::bad_request(format!(
            "the request has more than {max_rows} rows; the limit is {max_rows} rows per \
             request (max_rows; `mlcycle serve --max-rows`)"
        ))
    };
    let too_many_values = || {
        ApiError::too_large(format!(
            "the request holds more than {max_values} JSON values; the limit is \
             max_rows ({max_rows}) × ({features} features + 1) + {VALUE_SLACK} \
             (`mlcycle serve --max-rows`)"
        ))
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut values = 0usize;
    let mut i = 0usize;
    let n = body.len();
    // Whether the next string in the current object is a key.
    let mut want_key = false;
    while i < n {
        let b = body[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {
                if b == b',' && stack.last().is_some_and(|f| !f.array) {
                    want_key = true;
                }
                i += 1;
                continue;
            }
            b'}' | b']' => {
                stack.pop();
                want_key = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        if b == b'"' && want_key {
            let (end, key) = read_string(body, i);
            if let Some(top) = stack.last_mut() {
                top.key = classify_key(key);
            }
            want_key = false;
            i = end;
            continue;
        }
        // A value starts here.
        values += 1;
        if values > max_values {
            return Err(too_many_values());
        }
        let parent_role = match stack.last_mut() {
            Some(top) if top.array => {
                top.items += 1;
                if top.role == Role::Rows && top.items > max_rows {
                    return Err(too_many_rows());
                }
                Some((top.role, None))
            }
            Some(top) => Some((top.role, Some(top.key))),
            None => None,
        };
        match b {
            b'{' | b'[' => {
                if stack.len() >= MAX_DEPTH {
                    return Ok(());
                }
                let array = b == b'[';
                let role = match (protocol, parent_role) {
                    (_, None) => Role::Top,
                    (Protocol::V2, _) => Role::Other,
                    (Protocol::Mlflow, Some((Role::Top, Some(Key::RowField)))) => {
                        if array {
                            Role::Rows
                        } else {
                            Role::Columns
                        }
                    }
                    (Protocol::Mlflow, Some((Role::Top, Some(Key::Split)))) if !array => {
                        Role::Split
                    }
                    (Protocol::Mlflow, Some((Role::Split, Some(Key::Data))))
                    | (Protocol::Mlflow, Some((Role::Columns, Some(_))))
                        if array =>
                    {
                        Role::Rows
                    }
                    _ => Role::Other,
                };
                stack.push(Frame {
                    array,
                    role,
                    items: 0,
                    key: Key::Other,
                });
                want_key = !array;
                i += 1;
            }
            b'"' => i = read_string(body, i).0,
            _ => {
                // A number or a literal: up to the next delimiter.
                i += 1;
                while i < n && !matches!(body[i], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    i += 1;
                }
            }
        }
    }
    Ok(())
}

/// The end (one past the closing quote) of the string starting at `start`, and its raw
/// contents.
fn read_string(body: &[u8], start: usize) -> (usize, &[u8]) {
    let mut i = start + 1;
    while i < body.len() {
        match memchr::memchr2(b'"', b'\\', &body[i..]) {
            Some(off) if body[i + off] == b'\\' => i += off + 2,
            Some(off) => return (i + off + 1, &body[start + 1..i + off]),
            None => break,
        }
    }
    (body.len(), &body[(start + 1).min(body.len())..])
}

fn classify_key(raw: &[u8]) -> Key {
    match raw {
        b"dataframe_records" | b"instances" | b"inputs" => Key::RowField,
        b"dataframe_split" => Key::Split,
        b"data" => Key::Data,
        _ => Key::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn records(n: usize) -> String {
        let rows: Vec<String> = (0..n).map(|i| format!("{{\"a\":{i}}}")).collect();
        format!("{{\"dataframe_records\":[{}]}}", rows.join(","))
    }

    #[test]
    fn rows_up_to_the_limit_pass_and_one_more_is_refused() {
        assert!(check(records(10).as_bytes(), Protocol::Mlflow, 10, 1).is_ok());
        let e = check(records(11).as_bytes(), Protocol::Mlflow, 10, 1).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("max_rows"), "{}", e.message);
    }

    #[test]
    fn every_mlflow_row_list_is_counted() {
        let split =
            r#"{"dataframe_split":{"columns":["a","b","c"],"data":[[1,2,3],[4,5,6],[7,8,9]]}}"#;
        assert!(check(split.as_bytes(), Protocol::Mlflow, 3, 3).is_ok());
        assert!(check(split.as_bytes(), Protocol::Mlflow, 2, 3).is_err());
        let inst = r#"{"instances":[[1,2,3],[4,5,6],[7,8,9]]}"#;
        assert!(check(inst.as_bytes(), Protocol::Mlflow, 3, 3).is_ok());
        assert!(check(inst.as_bytes(), Protocol::Mlflow, 2, 3).is_err());
        let cols = r#"{"inputs":{"a":[1,2,3],"b":[4,5,6]}}"#;
        assert!(check(cols.as_bytes(), Protocol::Mlflow, 3, 2).is_ok());
        assert!(check(cols.as_bytes(), Protocol::Mlflow, 2, 2).is_err());
        // Rows wider than the row limit are not rows.
        let wide = r#"{"instances":[[1,2,3,4,5,6]]}"#;
        assert!(check(wide.as_bytes(), Protocol::Mlflow, 2, 6).is_ok());
    }

    #[test]
    fn strings_with_brackets_and_escapes_do_not_confuse_the_count() {
        let body = r#"{"dataframe_records":[{"a":"]}[{\"x","b":1},{"a":"\\","b":2}]}"#;
        assert!(check(body.as_bytes(), Protocol::Mlflow, 2, 2).is_ok());
        assert!(check(body.as_bytes(), Protocol::Mlflow, 1, 2).is_err());
    }

    #[test]
    fn values_beyond_the_budget_are_refused_with_413() {
        let data: Vec<String> = (0..(VALUE_SLACK + 40)).map(|i| i.to_string()).collect();
        let body = format!(
            r#"{{"inputs":[{{"name":"x","shape":[{}],"datatype":"FP64","data":[{}]}}]}}"#,
            data.len(),
            data.join(",")
        );
        assert!(check(body.as_bytes(), Protocol::V2, 100, 3).is_ok());
        let e = check(body.as_bytes(), Protocol::V2, 5, 3).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.message.contains("max_rows"), "{}", e.message);
    }
}
