//! Integration tests: batch (one test binary per area).

mod batch;
mod batch_files;
mod batch_memory;
mod batch_parquet;
