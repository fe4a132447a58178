//! mlcycle — the machine-learning model lifecycle, embedded in a Rust program.
#![warn(missing_docs)]

pub mod audit;
pub mod clock;
pub mod collect;
pub mod data;
pub mod deploy;
pub mod drift;
pub mod embedded;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod monitor;
pub mod registry;
pub mod scenario;
pub mod train;
pub mod validate;

pub use error::{Error, Result};
