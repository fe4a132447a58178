//! # mlcycle — the machine-learning model lifecycle, embedded in a Rust program
//!
//! ```text
//!  data ──► quality check ──► train ──► validate (vs champion) ──► register ──► approve ──► deploy
//!   ▲                                                                                          │
//!   └── retrain ◄── decide (drift real? data fault?) ◄── drift + health monitor ◄── collected inputs
//!  every arrow appends to the audit trail (hash-chained, verifiable)
//! ```
//!
//! The library exposes five traits — [`train::Trainer`], [`validate::Validator`],
//! [`registry::Registry`], [`deploy::Deployer`], [`drift::DriftDetector`] — each with a
//! default implementation, and a [`lifecycle::Lifecycle`] orchestrator that chains them and
//! sees nothing but the traits. Plug in your own trainer or registry and keep the rest.
//!
//! ```
//! use mlcycle::prelude::*;
//! use mlcycle::testing::{CreditDefault, DriftSpec};
//! use std::sync::Arc;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Default components, all in memory (use `Stack::open(dir, ..)` for the embedded store).
//! let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
//! let data = CreditDefault::new(7).sample(4_000, &DriftSpec::none(), 0).unwrap();
//!
//! // Quality check → train → validate → register → approve → deploy → alias.
//! let outcome = stack.lifecycle.run_training(&data, Trigger::Manual).await.unwrap();
//! assert!(matches!(outcome.decision, TrainingDecision::Promoted { .. }));
//!
//! // Score through the deployment: every call lands in the prediction log.
//! let rows = CreditDefault::new(7).sample(10, &DriftSpec::none(), 1).unwrap();
//! let answer = stack.deployer
//!     .predict(ScoreRequest { rows: rows.features().to_owned(), request_id: None })
//!     .await.unwrap();
//! assert_eq!(answer.model_version, 1);
//! # });
//! ```
//!
//! ## Cargo features
//!
//! | feature       | default | what it adds                                                        |
//! |---------------|---------|---------------------------------------------------------------------|
//! | `sqlite`      | yes     | [`registry::SqliteRegistry`] and [`audit::SqliteAuditLog`] (the embedded store) |
//! | `postgres`    | yes     | [`registry::PostgresRegistry`], [`audit::PostgresAuditLog`], [`labels::PostgresLabelStore`], [`alerts::PostgresAlertStore`], [`lifecycle::PostgresLifecycleState`] on a shared PostgreSQL database |
//! | `http`        | yes     | [`deploy::http::HttpDeployer`]: Open Inference Protocol v2 + MLflow scoring over HTTP; [`ui::serve`], the read-only dashboard over HTTP |
//! | `webhook`     | yes     | [`alerts::WebhookSink`]: signed alert webhooks (`http://` and `https://`) |
//! | `cli`         | yes     | the `mlcycle` binary                                                |
//! | `conformance` | no      | conformance suites for users' own backends: [`registry::registry_conformance`], [`audit::audit_conformance`], [`deploy::deployer_conformance`], [`drift::drift_conformance`], [`train::trainer_conformance`], [`labels::label_store_conformance`] |
//!
//! Features switch backends, never behaviour.
#![warn(missing_docs)]
// `unsafe` lives in `kernels` only (see its docs); everything else is safe code.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alerts;
pub mod audit;
pub mod clock;
pub mod collect;
#[cfg(any(test, feature = "conformance"))]
mod conformance_support;
pub mod controller;
pub mod data;
pub mod datasets;
pub mod deploy;
pub mod drift;
pub mod embedded;
pub mod error;
pub mod explain;
#[allow(unsafe_code)]
pub(crate) mod kernels;
pub mod labels;
pub mod lifecycle;
pub mod lineage;
pub mod model;
pub mod monitor;
pub mod registry;
pub mod report;
mod store;
pub mod testing;
pub mod train;
pub mod ui;
pub mod validate;

pub use error::{Error, Result};

/// The names most programs need.
pub mod prelude {
    pub use crate::clock::{Clock, SimulatedClock, SystemClock};
    pub use crate::data::{CsvOptions, Dataset, Schema, read_csv};
    pub use crate::deploy::{Deployer, ScoreRequest};
    pub use crate::drift::DriftDetector;
    pub use crate::embedded::Stack;
    pub use crate::lifecycle::{
        Lifecycle, LifecycleConfig, MonitoringDecision, TrainingDataSource, TrainingDecision,
        Trigger,
    };
    pub use crate::model::Model;
    pub use crate::registry::{Registry, RegistryExt};
    pub use crate::train::Trainer;
    pub use crate::validate::Validator;
    pub use crate::{Error, Result};
}
