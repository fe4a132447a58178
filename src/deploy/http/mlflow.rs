//! The MLflow scoring protocol: `POST /invocations` (JSON `dataframe_split`,
//! `dataframe_records`, `instances`, `inputs`, or `text/csv`), `/ping`, `/health`,
//! `/version`.

use super::body::read_limited;
use super::error::ApiError;
use super::server::{RequestId, served_response};
use super::state::{Encoded, Served, Shared};
use super::tabular::{self, Encoding};
use crate::data::truncate_for_message;
use crate::model::Prediction;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ndarray::Array2;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

const INPUT_FIELDS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

pub(super) async fn ping(State(shared): State<Arc<Shared>>) -> Response {
    let status = if shared.champion.load().is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let mut r = (status, "\n").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) async fn version() -> Response {
    env!("CARGO_PKG_VERSION").into_response()
}

enum Format {
    Json,
    Csv,
}

fn content_format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Format::Json);
    };
    let ct = ct
        .to_str()
        .map_err(|_| ApiError::unsupported_media("the Content-Type header is not text"))?;
    let mut parts = ct.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let format = match mime.as_str() {
        "application/json" => Format::Json,
        "text/csv" => Format::Csv,
        _ => {
            return Err(ApiError::unsupported_media(
                "This predictor only supports the following content types: application/json, text/csv",
            ));
        }
    };
    let unknown: Vec<String> = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (k, v) = (k.trim(), v.trim().trim_matches('"'));
            (!(k.eq_ignore_ascii_case("charset") && v.eq_ignore_ascii_case("utf-8")))
                .then(|| crate::data::truncate_for_message(k))
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::unsupported_media(format!(
            "Unrecognized content type parameters: {}; only charset=utf-8 is allowed",
            unknown.join(", ")
        )));
    }
    Ok(format)
}

/// The encoded rows of a JSON scoring request.
fn json_rows(served: &Served, body: &Value, enc: &Encoding) -> Result<Array2<f64>, ApiError> {
    let obj = body.as_object().ok_or_else(input_shape_error)?;
    let present: Vec<&str> = INPUT_FIELDS
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let [field] = present.as_slice() else {
        return Err(input_shape_error());
    };
    let v = &obj[*field];
    match *field {
        "dataframe_split" => {
            let split = v.as_object().ok_or_else(|| {
                ApiError::bad_request(
                    "`dataframe_split` must be an object with `columns` and `data`",
                )
            })?;
            let columns: Option<Vec<String>> = match split.get("columns") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .map(|c| match c {
                            Value::String(s) => Ok(s.clone()),
                            other => Ok(other.to_string()),
                        })
                        .collect::<Result<_, ApiError>>()?,
                ),
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "`dataframe_split.columns` must be an array of column names",
                    ));
                }
            };
            let data = split.get("data").and_then(Value::as_array).ok_or_else(|| {
                ApiError::bad_request("`dataframe_split.data` must be an array of rows")
            })?;
            tabular::from_rows(served, columns.as_deref(), data, enc)
        }
        "dataframe_records" => {
            let records = v.as_array().ok_or_else(|| {
                ApiError::bad_request(
                    "`dataframe_records` must be an array of {column: value} objects",
                )
            })?;
            tabular::from_records(served, records, enc)
        }
        _ => match v {
            Value::Array(items) => match items.first() {
                Some(Value::Object(_)) => tabular::from_records(served, items, enc),
                Some(Value::Array(_)) => tabular::from_rows(served, None, items, enc),
                None => Err(ApiError::bad_request("the request has no rows to score")),
                Some(_) if served.model.signature().inputs.n_features() == 1 => {
                    let rows: Vec<Value> = items
                        .iter()
                        .map(|x| Value::Array(vec![x.clone()]))
                        .collect();
                    tabular::from_rows(served, None, &rows, enc)
                }
                Some(_) => Err(ApiError::bad_request(format!(
                    "`{field}` must be a list of rows (arrays or {{column: value}} objects) or an object of columns"
                ))),
            },
            Value::Object(cols) => tabular::from_columns(served, cols, enc),
            _ => Err(ApiError::bad_request(format!(
                "`{field}` must be a list of rows or an object of columns"
            ))),
        },
    }
}

fn input_shape_error() -> ApiError {
    ApiError::bad_request(
        "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}",
    )
}

/// What an MLflow request asks to be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Labels (classifiers) or values (regressors).
    Predict,
    /// `params.predict_method = "predict_proba"`: one row of class probabilities per row.
    PredictProba,
    /// `params.probabilities = true`: each label with its class probabilities.
    WithProbabilities,
}

fn requested_answer(body: Option<&Value>) -> Result<Answer, ApiError> {
    let params = body.and_then(|b| b.get("params"));
    match params.and_then(|p| p.get("predict_method")) {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m == "predict" => return Ok(Answer::Predict),
        Some(Value::String(m)) if m == "predict_proba" => return Ok(Answer::PredictProba),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "params.predict_method {} is not supported; use \"predict\" or \"predict_proba\"",
                truncate_for_message(&other.to_string())
            )));
        }
    }
    let legacy = params
        .and_then(|p| p.get("probabilities").or_else(|| p.get("predict_proba")))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(if legacy {
        Answer::WithProbabilities
    } else {
        Answer::Predict
    })
}

#[derive(Serialize)]
struct Predictions<T: Serialize> {
    predictions: T,
}

#[derive(Serialize)]
struct WithProbabilities<'a> {
    prediction: &'a Value,
    probabilities: Map<String, Value>,
}

fn respond(served: &Served, p: &Prediction, answer: Answer) -> Result<Response, ApiError> {
    if answer == Answer::PredictProba {
        let proba = match (served.classes(), p.probabilities.as_ref()) {
            (None, _) => {
                return Err(ApiError::bad_request(
                    "predict_method \"predict_proba\" needs a classifier; this model is a regressor (use \"predict\")",
                ));
            }
            (Some(_), None) => {
                return Err(ApiError::internal("the model returned no probabilities"));
            }
            (Some(_), Some(a)) => a,
        };
        let rows: Vec<Vec<f64>> = proba.outer_iter().map(|r| r.to_vec()).collect();
        let body = serde_json::to_vec(&Predictions { predictions: rows })
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut r = (StatusCode::OK, Bytes::from(body)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(r);
    }
    let probabilities = answer == Answer::WithProbabilities;
    let body = match (&served.label_json, served.classes()) {
        (Some(labels), Some(classes)) => {
            let null = Value::Null;
            let label = |v: f64| labels.get(v as usize).unwrap_or(&null);
            if probabilities {
                let proba = p
                    .probabilities
                    .as_ref()
                    .ok_or_else(|| ApiError::internal("the model returned no probabilities"))?;
                let rows: Vec<WithProbabilities<'_>> = p
                    .values
                    .iter()
                    .zip(proba.outer_iter())
                    .map(|(&v, row)| WithProbabilities {
                        prediction: label(v),
                        probabilities: classes
                            .iter()
                            .zip(row.iter())
                            .map(|(c, &q)| (c.clone(), Value::from(q)))
                            .collect(),
                    })
                    .collect();
                serde_json::to_vec(&Predictions { predictions: rows })
            } else {
                // `{"predictions":[label,...]}` from the labels serialised once per version.
                let texts = &served.label_text;
                let mut out = Vec::with_capacity(20 + p.values.len() * 4);
                out.extend_from_slice(b"{\"predictions\":[");
                for (i, &v) in p.values.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match texts.get(v as usize) {
                        Some(t) => out.extend_from_slice(t.as_bytes()),
                        _ => out.extend_from_slice(b"null"),
                    }
                }
                out.extend_from_slice(b"]}");
                Ok(out)
            }
        }
        _ => {
            let mut out = Vec::with_capacity(20 + p.values.len() * 20);
            out.extend_from_slice(b"{\"predictions\":[");
            for (i, &v) in p.values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // As serde_json writes an f64 (NaN and infinities as null); into a Vec it
                // cannot fail.
                let _ = serde_json::to_writer(&mut out, &v);
            }
            out.extend_from_slice(b"]}");
            Ok(out)
        }
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut r = (StatusCode::OK, Bytes::from(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

pub(super) async fn invocations(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    // Take the headers and the request id out of the request instead of cloning them.
    let (mut parts, body) = req.into_parts();
    let request_id = parts
        .extensions
        .remove::<RequestId>()
        .map(|r| r.0)
        .unwrap_or_default();
    invocations_inner(shared, &request_id, parts.headers, body)
        .await
        .map_err(ApiError::mlflow)
}

async fn invocations_inner(
    shared: Arc<Shared>,
    request_id: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let champion = shared.champion_or_503()?;
    let format = content_format(&headers)?;
    let bytes = read_limited(&headers, body, shared.config.limits.max_body_bytes).await?;
    // What the body asks for (`params`), found while it is parsed off the async workers.
    let answer = Arc::new(std::sync::Mutex::new(Answer::Predict));
    let wants = answer.clone();
    let keep_text = shared
        .recorder
        .as_ref()
        .is_some_and(|r| r.wants_json_text());
    let len = bytes.len();
    let (served, p) = shared
        .route_and_score(
            champion,
            false,
            &headers,
            request_id,
            len,
            move |served, enc| match format {
                Format::Json => {
                    // Rows and values are counted before anything is built from the body.
                    super::budget::check(
                        &bytes,
                        super::budget::Protocol::Mlflow,
                        enc.max_rows,
                        served.model.signature().inputs.n_features(),
                    )?;
                    // The fast path reads the body straight into the matrix; anything else
                    // (including every error) goes through the general path.
                    if let Some(r) = super::fastjson::mlflow_rows(served, &bytes, enc, keep_text) {
                        return Ok(Encoded {
                            x: r.x,
                            logged: r.text,
                        });
                    }
                    let json = serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                        ApiError::bad_request(format!(
                            "Invalid input. Ensure that input is a valid JSON formatted string: {}",
                            super::error::json_error_message(&e)
                        ))
                    })?;
                    let asked = requested_answer(Some(&json))?;
                    *wants.lock().unwrap_or_else(|p| p.into_inner()) = asked;
                    json_rows(served, &json, enc).map(Encoded::from)
                }
                Format::Csv => tabular::from_csv(served, &bytes, enc).map(Encoded::from),
            },
        )
        .await?;
    let asked = *answer.lock().unwrap_or_else(|p| p.into_inner());
    let r = respond(&served, &p, asked)?;
    Ok(served_response(r, &served))
}
