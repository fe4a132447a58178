//! Open Inference Protocol v2 (REST): health, metadata and inference, with the binary
//! tensor data extension for inputs and outputs.

use super::body::read_limited;
use super::error::ApiError;
use super::server::{RequestId, served_response};
use super::state::{Served, Shared};
use super::tabular::{self, Cell, Encoding};
use crate::data::FeatureKind;
use crate::data::truncate_for_message;
use crate::model::Prediction;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The header carrying the JSON length of a binary-extension body.
pub(super) const HEADER_LENGTH: &str = "inference-header-content-length";

pub(super) async fn live() -> Response {
    Json(json!({ "live": true })).into_response()
}

pub(super) async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    let ready = shared.champion.load().is_some();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

pub(super) async fn server_metadata() -> Response {
    Json(json!({
        "name": "mlcycle",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
    .into_response()
}

fn model_metadata(shared: &Shared, served: &Served) -> Value {
    let sig = served.model.signature();
    let inputs: Vec<Value> = sig
        .inputs
        .features
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "datatype": match f.kind {
                    FeatureKind::Numeric => "FP64",
                    FeatureKind::Categorical { .. } => "BYTES",
                },
                "shape": [-1],
            })
        })
        .collect();
    let mut outputs = Vec::new();
    match sig.target.kind.classes() {
        Some(classes) => {
            outputs.push(json!({ "name": "predict", "datatype": "BYTES", "shape": [-1] }));
            outputs.push(
                json!({ "name": "predict_proba", "datatype": "FP64", "shape": [-1, classes.len()] }),
            );
        }
        None => outputs.push(json!({ "name": "predict", "datatype": "FP64", "shape": [-1] })),
    }
    let mut versions = vec![served.version_str.clone()];
    let challenger = shared.challenger.load_full();
    if let Some(c) = challenger
        .as_ref()
        .filter(|c| c.served.version_str != served.version_str)
    {
        versions.push(c.served.version_str.clone());
    }
    let mut properties = Map::new();
    properties.insert("target".into(), Value::from(sig.target.name.clone()));
    if let Some(classes) = sig.target.kind.classes() {
        properties.insert(
            "classes".into(),
            Value::from(serde_json::to_string(classes).unwrap_or_default()),
        );
    }
    json!({
        "name": served.name,
        "versions": versions,
        "platform": "mlcycle",
        "inputs": inputs,
        "outputs": outputs,
        "properties": properties,
    })
}

pub(super) async fn metadata(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let served = shared.lookup(&name, None)?;
    Ok(Json(model_metadata(&shared, &served)).into_response())
}

pub(super) async fn metadata_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let served = shared.lookup(&name, Some(&version))?;
    Ok(Json(model_metadata(&shared, &served)).into_response())
}

pub(super) async fn model_ready(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let served = shared.lookup(&name, None)?;
    Ok(Json(json!({ "name": served.name, "ready": true })).into_response())
}

pub(super) async fn model_ready_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let served = shared.lookup(&name, Some(&version))?;
    Ok(Json(json!({ "name": served.name, "ready": true })).into_response())
}

pub(super) async fn infer(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    rid: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    infer_inner(shared, &name, None, &rid.0, headers, body).await
}

pub(super) async fn infer_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
    rid: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    infer_inner(shared, &name, Some(&version), &rid.0, headers, body).await
}

#[derive(Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize)]
struct InputTensor {
    name: String,
    #[serde(default)]
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<FlatData>,
}

/// One scalar of a tensor's JSON `data`.
enum Scalar {
    Num(f64),
    Bool(bool),
    Str(String),
    Null,
    /// An object (never valid tensor data).
    Other,
}

/// A tensor's JSON `data`, flattened (nested arrays in row-major order) while it is read:
/// no `serde_json::Value` tree.
struct FlatData(Vec<Scalar>);

impl<'de> Deserialize<'de> for FlatData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = Vec::new();
        d.deserialize_any(Flatten(&mut out))?;
        Ok(FlatData(out))
    }
}

/// Pushes the scalars of one JSON value onto a vector.
struct Flatten<'o>(&'o mut Vec<Scalar>);

impl<'de> serde::de::DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor data")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Scalar::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Scalar::Num(v as f64));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Scalar::Num(v as f64));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Scalar::Num(v));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Scalar::Str(v.to_owned()));
        Ok(())
    }

    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(Scalar::Str(v));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Scalar::Null);
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Scalar::Null);
        Ok(())
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Flatten(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        self.0.push(Scalar::Other);
        Ok(())
    }
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Datatype {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
    Bytes,
}

impl Datatype {
    fn parse(s: &str) -> Option<Datatype> {
        Some(match s {
            "BOOL" => Datatype::Bool,
            "UINT8" => Datatype::U8,
            "UINT16" => Datatype::U16,
            "UINT32" => Datatype::U32,
            "UINT64" => Datatype::U64,
            "INT8" => Datatype::I8,
            "INT16" => Datatype::I16,
            "INT32" => Datatype::I32,
            "INT64" => Datatype::I64,
            "FP16" => Datatype::F16,
            "BF16" => Datatype::BF16,
            "FP32" => Datatype::F32,
            "FP64" => Datatype::F64,
            "BYTES" => Datatype::Bytes,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Datatype::Bool | Datatype::U8 | Datatype::I8 => 1,
            Datatype::U16 | Datatype::I16 | Datatype::F16 | Datatype::BF16 => 2,
            Datatype::U32 | Datatype::I32 | Datatype::F32 => 4,
            Datatype::U64 | Datatype::I64 | Datatype::F64 => 8,
            Datatype::Bytes => 0,
        }
    }
}

/// Decoded tensor values, row-major.
enum Values {
    Num(Vec<f64>),
    Str(Vec<String>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Num(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            Values::Num(v) => Cell::Num(v[i]),
            Values::Str(v) => Cell::Str(&v[i]),
        }
    }
}

struct Tensor {
    name: String,
    shape: Vec<usize>,
    values: Values,
}

fn param_bool(p: Option<&Map<String, Value>>, key: &str) -> bool {
    p.and_then(|p| p.get(key))
        .is_some_and(|v| v.as_bool() == Some(true))
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn decode_binary(name: &str, dt: Datatype, bytes: &[u8], count: usize) -> Result<Values, ApiError> {
    let bad = |why: String| {
        ApiError::bad_request(format!(
            "input `{}`: binary data {why}",
            truncate_for_message(name)
        ))
    };
    if dt == Datatype::Bytes {
        let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
        let mut at = 0usize;
        for i in 0..count {
            let len_bytes = bytes
                .get(at..at + 4)
                .ok_or_else(|| bad(format!("ends before element {i}")))?;
            let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]])
                as usize;
            at += 4;
            let s = bytes
                .get(at..at.saturating_add(len))
                .ok_or_else(|| bad(format!("ends inside element {i}")))?;
            at += len;
            out.push(
                std::str::from_utf8(s)
                    .map_err(|_| bad(format!("element {i} is not UTF-8 text")))?
                    .to_string(),
            );
        }
        if at != bytes.len() {
            return Err(bad(format!(
                "has {} bytes after the last element",
                bytes.len() - at
            )));
        }
        return Ok(Values::Str(out));
    }
    let size = dt.size();
    if Some(bytes.len()) != count.checked_mul(size) {
        return Err(bad(format!(
            "has {} bytes; the shape needs {count} elements of {size} bytes",
            bytes.len()
        )));
    }
    let c = bytes.chunks_exact(size);
    let v: Vec<f64> = match dt {
        Datatype::Bool => c.map(|b| f64::from(u8::from(b[0] != 0))).collect(),
        Datatype::U8 => c.map(|b| f64::from(b[0])).collect(),
        Datatype::I8 => c.map(|b| f64::from(b[0] as i8)).collect(),
        Datatype::U16 => c
            .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Datatype::I16 => c
            .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Datatype::F16 => c
            .map(|b| f16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Datatype::BF16 => c
            .map(|b| {
                f64::from(f32::from_bits(
                    u32::from(u16::from_le_bytes([b[0], b[1]])) << 16,
                ))
            })
            .collect(),
        Datatype::U32 => c
            .map(|b| f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Datatype::I32 => c
            .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Datatype::F32 => c
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Datatype::U64 => c
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        Datatype::I64 => c
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        Datatype::F64 => c
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect(),
        Datatype::Bytes => Vec::new(),
    };
    Ok(Values::Num(v))
}

fn decode_json(name: &str, dt: Datatype, data: &FlatData) -> Result<Values, ApiError> {
    let flat = &data.0;
    let bad = |what: &str| {
        ApiError::bad_request(format!(
            "input `{}`: {} data must be {what}",
            truncate_for_message(name),
            match dt {
                Datatype::Bytes => "BYTES",
                Datatype::Bool => "BOOL",
                _ => "numeric",
            }
        ))
    };
    match dt {
        Datatype::Bytes => flat
            .iter()
            .map(|v| match v {
                Scalar::Str(s) => Ok(s.clone()),
                Scalar::Null => Ok(String::new()),
                _ => Err(bad("strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Values::Str),
        Datatype::Bool => flat
            .iter()
            .map(|v| match v {
                Scalar::Bool(b) => Ok(f64::from(u8::from(*b))),
                Scalar::Num(n) => Ok(*n),
                _ => Err(bad("booleans")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Values::Num),
        _ => flat
            .iter()
            .map(|v| match v {
                Scalar::Num(n) => Ok(*n),
                Scalar::Null => Ok(f64::NAN),
                _ => Err(bad("numbers")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Values::Num),
    }
}

/// Split a body into its JSON part and the binary tensor data.
fn split_body<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<(&'b [u8], &'b [u8]), ApiError> {
    let Some(h) = headers.get(HEADER_LENGTH) else {
        return Ok((body, &[]));
    };
    let n: usize = h
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request("Inference-Header-Content-Length is not a byte count")
        })?;
    if n > body.len() {
        return Err(ApiError::bad_request(format!(
            "Inference-Header-Content-Length is {n} but the body has {} bytes",
            body.len()
        )));
    }
    Ok(body.split_at(n))
}

fn decode_inputs(req: &InferRequest, mut binary: &[u8]) -> Result<Vec<Tensor>, ApiError> {
    let mut out = Vec::with_capacity(req.inputs.len());
    for t in &req.inputs {
        let name = truncate_for_message(&t.name);
        let dt = Datatype::parse(&t.datatype).ok_or_else(|| {
            ApiError::bad_request(format!(
                "input `{name}`: unknown datatype `{}`",
                truncate_for_message(&t.datatype)
            ))
        })?;
        let mut shape = Vec::with_capacity(t.shape.len());
        for &d in &t.shape {
            shape.push(usize::try_from(d).map_err(|_| {
                ApiError::bad_request(format!("input `{name}`: shape has a negative dimension"))
            })?);
        }
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| ApiError::bad_request(format!("input `{name}`: shape is too large")))?;
        let size = t
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"));
        let values = match (size, &t.data) {
            (Some(size), _) => {
                let size = size
                    .as_u64()
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "input `{name}`: binary_data_size is not a byte count"
                        ))
                    })?;
                if size > binary.len() {
                    return Err(ApiError::bad_request(format!(
                        "input `{name}`: binary_data_size is {size} but only {} bytes of binary data remain",
                        binary.len()
                    )));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                decode_binary(&t.name, dt, mine, count)?
            }
            (None, Some(data)) => decode_json(&t.name, dt, data)?,
            (None, None) => {
                return Err(ApiError::bad_request(format!(
                    "input `{name}` has neither `data` nor `parameters.binary_data_size`"
                )));
            }
        };
        if values.len() != count {
            return Err(ApiError::bad_request(format!(
                "input `{name}`: shape {:?} holds {count} values but the data has {}",
                shape,
                values.len()
            )));
        }
        out.push(Tensor {
            name: t.name.clone(),
            shape,
            values,
        });
    }
    if !binary.is_empty() {
        return Err(ApiError::bad_request(format!(
            "the body has {} bytes of binary data that no input claims",
            binary.len()
        )));
    }
    Ok(out)
}

fn kind_name(values: &Values) -> &'static str {
    match values {
        Values::Num(_) => "a numeric tensor",
        Values::Str(_) => "a BYTES tensor",
    }
}

/// The encoded feature matrix from the decoded tensors.
fn to_matrix(served: &Served, tensors: &[Tensor], enc: &Encoding) -> Result<Array2<f64>, ApiError> {
    let features = &served.model.signature().inputs.features;
    let n_features = features.len();
    let matrix = match tensors {
        [t] if !served.columns.contains_key(&t.name) => Some(t),
        _ => None,
    };
    if let Some(t) = matrix {
        // One tensor that is not a feature: the whole matrix in signature order.
        if t.shape.len() != 2 || t.shape[1] != n_features {
            return Err(ApiError::bad_request(format!(
                "input `{}` is not a feature of the model; a single matrix input needs shape [rows, {n_features}], got {:?}",
                truncate_for_message(&t.name),
                t.shape
            )));
        }
        let rows = t.shape[0];
        let cols: Vec<usize> = (0..n_features).collect();
        return match &t.values {
            Values::Num(v) => {
                tabular::check_rows(rows, enc)?;
                // Numbers are the encoding itself (categoricals as level indices).
                Array2::from_shape_vec((rows, n_features), v.clone())
                    .map_err(|e| ApiError::internal(e.to_string()))
            }
            Values::Str(_) => tabular::build(served, rows, &cols, enc, |r, j| {
                Ok(t.values.cell(r * n_features + j))
            }),
        };
    }
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    let cols = tabular::resolve_columns(served, &names, enc)?;
    let rows = tensors[cols[0]].values.len();
    for (j, &c) in cols.iter().enumerate() {
        let t = &tensors[c];
        let column_shape = matches!(t.shape.as_slice(), [_] | [_, 1]);
        if !column_shape || t.values.len() != rows {
            return Err(ApiError::bad_request(format!(
                "input `{}`: a feature tensor needs shape [rows] or [rows, 1] with the same rows as the others, got {:?}",
                truncate_for_message(&t.name),
                t.shape
            )));
        }
        let ok = matches!(
            (&features[j].kind, &t.values),
            (FeatureKind::Numeric, Values::Num(_))
                | (FeatureKind::Categorical { .. }, Values::Str(_))
        );
        if !ok {
            return Err(ApiError::bad_request(format!(
                "input `{}`: expected {} for a {} feature, got {}",
                features[j].name,
                match features[j].kind {
                    FeatureKind::Numeric => "a numeric tensor (FP64, FP32, INT*, UINT* or BOOL)",
                    FeatureKind::Categorical { .. } => "a BYTES tensor of level names",
                },
                match features[j].kind {
                    FeatureKind::Numeric => "numeric",
                    FeatureKind::Categorical { .. } => "categorical",
                },
                kind_name(&t.values)
            )));
        }
    }
    tabular::build(served, rows, &cols, enc, |r, c| {
        Ok(tensors[c].values.cell(r))
    })
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutData<'a> {
    Num(&'a [f64]),
    Int(Vec<i64>),
    Str(Vec<&'a str>),
}

#[derive(Serialize)]
struct OutTensor<'a> {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<OutData<'a>>,
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'a str,
    model_version: &'a str,
    id: &'a Value,
    outputs: Vec<OutTensor<'a>>,
}

fn build_response(
    served: &Served,
    id: &Value,
    req: &InferRequest,
    p: &Prediction,
) -> Result<Response, ApiError> {
    let classes = served.classes();
    let mut available: Vec<&'static str> = vec!["predict"];
    if classes.is_some() {
        available.push("predict_proba");
    }
    let all_binary = param_bool(req.parameters.as_ref(), "binary_data_output");
    let wanted: Vec<(&'static str, bool)> = match &req.outputs {
        None => available.iter().map(|n| (*n, all_binary)).collect(),
        Some(outs) => outs
            .iter()
            .map(|o| {
                available
                    .iter()
                    .find(|n| **n == o.name)
                    .map(|n| {
                        (
                            *n,
                            all_binary || param_bool(o.parameters.as_ref(), "binary_data"),
                        )
                    })
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "unknown output `{}`; this model has: {}",
                            truncate_for_message(&o.name),
                            available.join(", ")
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let n = p.values.len();
    let labels: Option<Vec<&str>> = classes.map(|cs| {
        p.values
            .iter()
            .map(|&v| cs.get(v as usize).map_or("", String::as_str))
            .collect()
    });
    // Class labels keep the training target's type: integers when every label is one (as
    // `/invocations` and batch output write them), strings otherwise.
    let int_labels: Option<Vec<i64>> = served.label_json.as_ref().and_then(|lj| {
        p.values
            .iter()
            .map(|&v| lj.get(v as usize).and_then(Value::as_i64))
            .collect()
    });
    let proba = p.probabilities.as_ref();
    let proba_slice = proba.and_then(|a| a.as_slice());
    let mut raw: Vec<u8> = Vec::new();
    let mut outputs = Vec::with_capacity(wanted.len());
    for (name, binary) in wanted {
        let (datatype, shape, data): (&'static str, Vec<usize>, OutData<'_>) = match name {
            "predict" => match (&int_labels, &labels) {
                (Some(l), _) => ("INT64", vec![n], OutData::Int(l.clone())),
                (None, Some(l)) => ("BYTES", vec![n], OutData::Str(l.clone())),
                (None, None) => (
                    "FP64",
                    vec![n],
                    OutData::Num(p.values.as_slice().unwrap_or(&[])),
                ),
            },
            _ => {
                let s = proba_slice
                    .ok_or_else(|| ApiError::internal("the model returned no probabilities"))?;
                (
                    "FP64",
                    vec![n, proba.map_or(0, |a| a.ncols())],
                    OutData::Num(s),
                )
            }
        };
        if binary {
            let start = raw.len();
            match &data {
                OutData::Num(v) => v
                    .iter()
                    .for_each(|x| raw.extend_from_slice(&x.to_le_bytes())),
                OutData::Int(v) => v
                    .iter()
                    .for_each(|x| raw.extend_from_slice(&x.to_le_bytes())),
                OutData::Str(v) => v.iter().for_each(|s| {
                    raw.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    raw.extend_from_slice(s.as_bytes());
                }),
            }
            outputs.push(OutTensor {
                name,
                datatype,
                shape,
                parameters: Some(json!({ "binary_data_size": raw.len() - start })),
                data: None,
            });
        } else {
            outputs.push(OutTensor {
                name,
                datatype,
                shape,
                parameters: None,
                data: Some(data),
            });
        }
    }
    let body = serde_json::to_vec(&InferResponse {
        model_name: &served.name,
        model_version: &served.version_str,
        id,
        outputs,
    })
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let json_len = body.len();
    let binary = !raw.is_empty();
    let mut body = body;
    body.extend_from_slice(&raw);
    let mut r = (StatusCode::OK, Bytes::from(body)).into_response();
    let h = r.headers_mut();
    if binary {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(HEADER_LENGTH, HeaderValue::from(json_len));
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(r)
}

/// The request id of a v2 inference: the `x-request-id` header when the caller gave one, else
/// the body's `id` (a non-empty string of at most 256 bytes, or a number), else the generated
/// one. The same id is recorded, returned in the header and in the body's `id`.
fn settle_request_id(rid: &RequestId, body_id: Option<&Value>) -> String {
    if rid.1 {
        return rid.0.clone();
    }
    match body_id {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => rid.0.clone(),
    }
}

async fn infer_inner(
    shared: Arc<Shared>,
    name: &str,
    version: Option<&str>,
    rid: &RequestId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let looked_up = shared.lookup(name, version)?;
    let bytes = read_limited(&headers, body, shared.config.limits.max_body_bytes).await?;
    let json_len = split_body(&headers, &bytes)?.0.len();
    let len = bytes.len();
    let max_rows = shared.config.limits.max_rows;
    let features = looked_up.model.signature().inputs.n_features();
    // Counted, parsed and decoded off the async workers when large. A body that is not a
    // request at all is refused with the header's (or the generated) id; once the body is
    // read, its `id` settles the request id, also for the refusals that follow.
    let (req, tensors) = shared
        .off_runtime(len, move || {
            let (json_part, binary) = bytes.split_at(json_len);
            super::budget::check(json_part, super::budget::Protocol::V2, max_rows, features)?;
            let req: InferRequest = serde_json::from_slice(json_part).map_err(|e| {
                ApiError::bad_request(format!(
                    "the request is not a valid V2 inference request: {}",
                    super::error::json_error_message(&e)
                ))
            })?;
            let tensors = if req.inputs.is_empty() {
                Err(ApiError::bad_request("the request has no inputs"))
            } else {
                decode_inputs(&req, binary)
            };
            Ok((req, tensors))
        })
        .await?
        .inspect_err(|e| shared.record_refused(&looked_up, &rid.0, e))?;
    let request_id = settle_request_id(rid, req.id.as_ref());
    // An id taken from the body is the client's choice too: it never replaces another
    // recorded request (the header's id is checked before the handler runs).
    let reserved = if !rid.1 && request_id != rid.0 && shared.recorder.is_some() {
        match shared.request_ids.reserve(&request_id) {
            Ok(h) => Some(h),
            Err(()) => {
                let mut r = ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "the request id `{}` was already used by a recorded request; send a new \
                         `id` (or none, and the server chooses one)",
                        crate::data::truncate_for_message(&request_id)
                    ),
                )
                .into_response();
                r.extensions_mut().insert(RequestId(rid.0.clone(), rid.1));
                return Ok(r);
            }
        }
    } else {
        None
    };
    let answered = async {
        let tensors = tensors.inspect_err(|e| shared.record_refused(&looked_up, &request_id, e))?;
        let (served, p) = shared
            .route_and_score(
                looked_up,
                version.is_some(),
                &headers,
                &request_id,
                len,
                move |served, enc| to_matrix(served, &tensors, enc).map(Into::into),
            )
            .await?;
        let id = Value::from(request_id.clone());
        let r = build_response(&served, &id, &req, &p)?;
        Ok::<_, ApiError>(served_response(r, &served))
    }
    .await;
    // The settled id goes back in the header, also with an error (the one any record of
    // the failed request carries).
    if answered.is_err()
        && let Some(h) = reserved
    {
        // Not scored (a refusal for bad input is recorded as an error, nothing else): the
        // id stays free for a retry, whose record is then the later one.
        shared.request_ids.release(h);
    }
    let mut r = answered.unwrap_or_else(IntoResponse::into_response);
    r.extensions_mut()
        .insert(RequestId(request_id.clone(), rid.1));
    Ok(r)
}

/// The request's `id` and its inputs as the encoded matrix of `served`: the V2 request
/// formats of `infer` (JSON tensors, one per feature or one matrix, and the binary
/// extension), for other routes that take the same inputs (`explain`).
pub(super) fn request_matrix(
    served: &Served,
    enc: &Encoding,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(Option<Value>, Array2<f64>), ApiError> {
    let (json_part, binary) = split_body(headers, bytes)?;
    let req: InferRequest = serde_json::from_slice(json_part).map_err(|e| {
        ApiError::bad_request(format!(
            "the request is not a valid V2 inference request: {}",
            super::error::json_error_message(&e)
        ))
    })?;
    if req.inputs.is_empty() {
        return Err(ApiError::bad_request("the request has no inputs"));
    }
    let tensors = decode_inputs(&req, binary)?;
    Ok((req.id, to_matrix(served, &tensors, enc)?))
}
