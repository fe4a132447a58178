//! Reports people can look at: self-contained HTML pages (inline CSS and SVG charts, no
//! script, no network access) for drift and validation, and the model card.
//!
//! Rendering is pure: every function here takes values already computed or read (a
//! [`crate::drift::DriftReport`] and the columns it came from, a
//! [`crate::validate::ValidationReport`] and the scores behind it, registry and audit
//! records) and returns a `String`; it does no I/O, reads no clock and gives the same bytes
//! for the same input, so pages are tested as snapshots.

mod card;
mod drift;
pub(crate) mod html;
pub(crate) mod svg;
mod timeline;
mod validation;

pub use card::{CardDataset, CardEvent, CardSources, CardValidation, ModelCard};
pub use drift::{DriftReportMeta, correction_name, drift_html, drift_html_datasets};
pub(crate) use timeline::timeline_body;
pub use timeline::timeline_html;
pub use validation::{ModelScores, ValidationReportMeta, validation_html};
