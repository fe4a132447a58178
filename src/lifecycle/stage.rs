//! The lifecycle's stages: [`Stage`] is defined with the error type (the bottom layer), since
//! errors name the stage they happened in; this module re-exports it for the lifecycle.

pub use crate::error::Stage;
