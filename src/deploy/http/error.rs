//! Error responses: `{"error": "..."}` (V2 and general routes) or MLflow's
//! `{"error_code", "message"}` (with `error` too), always `application/json`.

use crate::Error;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Which protocol's error body to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    V2,
    Mlflow,
}

/// An error answered to the caller.
#[derive(Debug)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub flavor: Flavor,
    /// Seconds for a `Retry-After` header (overload answers).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            flavor: Flavor::V2,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// An error of the model or of input encoding: bad input is 400, the rest 500.
    pub fn from_model(e: Error) -> Self {
        match e {
            Error::SchemaMismatch(m) | Error::Data(m) => Self::bad_request(m),
            e @ Error::InvalidInput { .. } => Self::bad_request(e.to_string()),
            Error::NotFound { .. } => Self::not_found(e.to_string()),
            Error::Conflict(m) => Self::unavailable(m),
            e => Self::internal(e.to_string()),
        }
    }

    pub fn mlflow(mut self) -> Self {
        self.flavor = Flavor::Mlflow;
        self
    }

    fn mlflow_code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
            StatusCode::PAYLOAD_TOO_LARGE => "INVALID_PARAMETER_VALUE",
            StatusCode::SERVICE_UNAVAILABLE => "TEMPORARILY_UNAVAILABLE",
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::CONFLICT => "RESOURCE_ALREADY_EXISTS",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "BAD_REQUEST",
            _ => "INTERNAL_ERROR",
        }
    }
}

/// Longest error message sent (a guard: messages never carry a whole payload).
const MAX_MESSAGE_CHARS: usize = 300;

/// A JSON parse error without the (possibly long) input values it quotes.
pub(super) fn json_error_message(e: &serde_json::Error) -> String {
    let mut out = String::new();
    let mut quoted = 0usize;
    let mut inside = false;
    for c in e.to_string().chars() {
        if c == '"' {
            if inside && quoted > 40 {
                out.push('…');
            }
            inside = !inside;
            quoted = 0;
            out.push(c);
        } else if inside {
            quoted += 1;
            if quoted <= 40 {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        if let Some((cut, _)) = self.message.char_indices().nth(MAX_MESSAGE_CHARS) {
            self.message.truncate(cut);
            self.message.push('…');
        }
        let body = match self.flavor {
            Flavor::V2 => serde_json::json!({ "error": self.message }),
            Flavor::Mlflow => serde_json::json!({
                "error_code": self.mlflow_code(),
                "message": self.message,
                "error": self.message,
            }),
        };
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}
