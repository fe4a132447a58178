//! Integration tests: alerts (sinks, webhook delivery, dispatcher, stores, CLI, lifecycle).

mod alerts_cli;
mod alerts_dispatch;
mod alerts_lifecycle;
mod alerts_store;
mod alerts_webhook;
