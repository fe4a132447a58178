//! Integration tests: http (one test binary per area).

mod http_explain;
mod http_hardening;
mod http_ids_labels;
mod http_protocols;
mod http_refused;
mod http_serve;
mod http_serve_cli;
mod http_support;
