//! mlcycle — the machine-learning model lifecycle, embedded in a Rust program.
#![warn(missing_docs)]

pub mod drift;
pub mod error;
pub mod lifecycle;
pub mod train;
pub mod validate;

pub use error::{Error, Result};
