//! Data: schemas, datasets with content-hash ids, CSV and quality checks (the synthetic
//! generator is in [`crate::testing`]).

mod csv_io;
mod dataset;
mod encode;
pub mod quality;
mod schema;

pub use csv_io::{CsvOptions, TargetHint, read_csv, read_csv_with_schema, write_csv};
pub use dataset::{Dataset, DatasetId, validate_features};
pub use encode::{CellEncoder, CellError};
pub use quality::{CleaningOptions, CleaningSummary, Impute, QualityReport, clean};
pub(crate) use schema::truncate as truncate_for_message;
pub use schema::{Feature, FeatureKind, Schema, Target, TargetKind, UnknownLevel, is_missing};
