//! Data: schemas, datasets with content-hash ids, CSV and quality checks (the synthetic
//! generator is in [`crate::testing`]).

mod csv_io;
mod dataset;
mod encode;
mod profile;
pub mod quality;
mod rows;
mod schema;

pub use csv_io::{
    CsvOptions, MAX_INFERRED_LEVELS, TargetHint, read_csv, read_csv_with_schema, write_csv,
};
pub use dataset::{Dataset, DatasetId, validate_features};
pub use encode::{CellEncoder, CellError};
pub(crate) use profile::categorical_from_codes;
pub use profile::{ColumnProfile, ColumnSummary, DatasetProfile};
pub use quality::{CleaningOptions, CleaningSummary, Impute, QualityReport, clean};
pub use rows::{RawValue, encode_json_rows, encode_rows};
pub(crate) use rows::{encode_json_rows_skipping, encode_rows_skipping};
pub(crate) use schema::truncate as truncate_for_message;
pub use schema::{
    Feature, FeatureKind, Schema, Target, TargetKind, UNKNOWN_CATEGORY_HINT, UnknownLevel,
    is_missing,
};
