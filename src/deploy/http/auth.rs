//! Bearer-token checks: the API token of every route but the health probes, and the admin
//! token of the routes that change state (the admin API, label ingestion).
//!
//! With an API token configured ([`super::HttpConfig::api_token`], set by `mlcycle serve`
//! from the `MLCYCLE_API_TOKEN` environment variable), every route except the health probes
//! (`/v2/health/live`, `/v2/health/ready`, `/ping`, `/health`) and the admin routes (which
//! check the admin token instead) needs `Authorization: Bearer <token>`; 401 otherwise.
//!
//! Admin routes are off unless a token is configured ([`super::HttpConfig::admin_token`],
//! set by `mlcycle serve` from the `MLCYCLE_ADMIN_TOKEN` environment variable): without one
//! they answer 403 with a message saying how to enable them; with one, a request must carry
//! `Authorization: Bearer <token>` (401 otherwise). Tokens are compared in constant time.

use super::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};

/// The environment variable `mlcycle serve` reads the admin token from.
pub const ADMIN_TOKEN_ENV: &str = "MLCYCLE_ADMIN_TOKEN";

/// The environment variable `mlcycle serve` reads the API token from.
pub const API_TOKEN_ENV: &str = "MLCYCLE_API_TOKEN";

/// Allow a request to a route under the API token: `Ok` when no token is configured or the
/// request carries it.
pub(super) fn require_api(configured: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = configured.filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    match bearer(headers) {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token does not match the server's API token",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "this server needs an `Authorization: Bearer <token>` header with the API token \
                 (the value of {API_TOKEN_ENV} where the server was started)"
            ),
        )),
    }
}

/// `a == b` in time that depends only on the lengths, not on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Allow an admin request: `Ok` when `configured` is set and the request carries it.
// Used by the admin and label routes.
pub(super) fn require_admin(configured: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = configured.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "admin routes are disabled: start the server with the environment variable \
                 {ADMIN_TOKEN_ENV} set to a secret token and send it as \
                 `Authorization: Bearer <token>`"
            ),
        ));
    };
    match bearer(headers) {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token does not match the server's admin token",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "admin routes need an `Authorization: Bearer <token>` header with the admin token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn admin_routes_are_forbidden_without_a_configured_token() {
        let e = require_admin(None, &with_auth("Bearer x")).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains(ADMIN_TOKEN_ENV), "{}", e.message);
        let e = require_admin(Some(""), &with_auth("Bearer ")).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn api_token_is_needed_only_when_configured() {
        assert!(require_api(None, &HeaderMap::new()).is_ok());
        assert!(require_api(Some(""), &HeaderMap::new()).is_ok());
        assert!(require_api(Some("t0k"), &with_auth("Bearer t0k")).is_ok());
        for h in [
            with_auth("Bearer t0K"),
            with_auth("Basic t0k"),
            HeaderMap::new(),
        ] {
            let e = require_api(Some("t0k"), &h).unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn admin_routes_need_the_matching_bearer_token() {
        assert!(require_admin(Some("s3cret"), &with_auth("Bearer s3cret")).is_ok());
        assert!(require_admin(Some("s3cret"), &with_auth("bearer  s3cret ")).is_ok());
        let wrong = require_admin(Some("s3cret"), &with_auth("Bearer s3cre")).unwrap_err();
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let basic = require_admin(Some("s3cret"), &with_auth("Basic s3cret")).unwrap_err();
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
        let none = require_admin(Some("s3cret"), &HeaderMap::new()).unwrap_err();
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    }
}
