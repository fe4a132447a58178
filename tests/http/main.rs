//! Integration tests: http (one test binary per area).

mod http_explain;
mod http_protocols;
mod http_serve;
mod http_support;
