//! Ground truth: the label stores, matching and joining labels with the prediction log, the
//! `mlcycle labels` commands.

mod cli;
mod export;
mod http;
mod store;
