//! The lifecycle orchestrator.

mod stage;
pub use stage::Stage;
