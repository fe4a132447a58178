//! Parquet input and output (the `parquet` feature).
//!
//! Input: the reader thread decodes the file's row groups into record batches of
//! `chunk_rows` rows, reading only the columns the job needs; the workers turn each batch
//! into the feature matrix (any integer or floating-point type for numeric features;
//! strings, dictionaries of strings or integers for categoricals), reject rows with a null
//! where a value is required or an unknown category, and keep the passthrough columns as
//! arrays. Output: one record batch per chunk, written in input order by one
//! `ArrowWriter`, re-cut into fixed slices so the bytes do not depend on the chunking.

use super::{BatchFormat, Decoded, InputPlan, Kept, Plan, Work, csv_out};
use crate::data::CellError;
use crate::model::Prediction;
use crate::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows per row group of a Parquet output (bounds the writer's memory).
const ROW_GROUP_ROWS: usize = 65_536;
/// Rows per write: the output is re-cut into slices of this size, so its bytes depend on
/// the rows only, not on how the job was chunked.
const WRITE_ROWS: usize = 8_192;

/// An opened Parquet input, its footer read.
pub(crate) struct ParquetSource {
    builder: ParquetRecordBatchReaderBuilder<File>,
}

impl ParquetSource {
    pub(crate) fn column_names(&self) -> Vec<&str> {
        self.builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }
}

fn parquet_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Data(format!("{}: {what}: {e}", path.display()))
}

/// Open `path` and read its footer (schema, row groups).
pub(crate) fn open(path: &Path) -> Result<ParquetSource> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parquet_err(path, "not a readable Parquet file", e))?;
    Ok(ParquetSource { builder })
}

/// What the reader and workers need to know about the Parquet columns.
pub(crate) struct ParquetPlan {
    /// Root columns read from the file (sorted, unique).
    projection: Vec<usize>,
    /// Column of each feature in the projected batches.
    feature_cols: Vec<usize>,
    /// Column of each kept value in the projected batches.
    keep_cols: Vec<usize>,
    /// The kept columns' fields (for the output schema).
    keep_fields: Vec<Field>,
    total_rows: u64,
}

fn is_int(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(k, v) => {
            is_int(k)
                && matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
        }
        _ => false,
    }
}

/// Whether a column of type `dt` can feed a numeric (or categorical) feature.
fn feeds(numeric: bool, dt: &DataType) -> bool {
    is_int(dt)
        || is_text(dt)
        || matches!(dt, DataType::Boolean)
        || (numeric
            && matches!(
                dt,
                DataType::Float16 | DataType::Float32 | DataType::Float64
            ))
}

impl ParquetPlan {
    /// Columns already checked to exist; checks their types.
    pub(crate) fn new(
        src: &ParquetSource,
        path: &Path,
        names: &[String],
        numeric: &[bool],
        keep: &[String],
        output: BatchFormat,
    ) -> Result<Self> {
        let schema = src.builder.schema();
        let index = |name: &str| schema.index_of(name).unwrap_or(0);
        for (k, name) in names.iter().enumerate() {
            let dt = schema.field(index(name)).data_type();
            if !feeds(numeric[k], dt) {
                return Err(Error::SchemaMismatch(format!(
                    "{}: column `{name}` is of type {dt}, which cannot feed the model's {} \
                     feature `{name}` (expected {})",
                    path.display(),
                    if numeric[k] { "numeric" } else { "categorical" },
                    if numeric[k] {
                        "an integer or floating-point column"
                    } else {
                        "a string, dictionary-of-strings or integer column"
                    }
                )));
            }
        }
        if output == BatchFormat::Csv {
            for name in keep {
                let dt = schema.field(index(name)).data_type();
                if !(feeds(true, dt)) {
                    return Err(Error::invalid(
                        "--keep",
                        format!(
                            "column `{name}` of {} is of type {dt}, which cannot be written to \
                             CSV (integers, floats, booleans and strings can); write a .parquet \
                             output instead",
                            path.display()
                        ),
                    ));
                }
            }
        }
        let mut projection: Vec<usize> = names.iter().chain(keep).map(|n| index(n)).collect();
        projection.sort_unstable();
        projection.dedup();
        let pos = |name: &str| {
            let i = index(name);
            projection.iter().position(|&p| p == i).unwrap_or(0)
        };
        Ok(ParquetPlan {
            feature_cols: names.iter().map(|n| pos(n)).collect(),
            keep_cols: keep.iter().map(|n| pos(n)).collect(),
            keep_fields: keep
                .iter()
                .map(|n| schema.field(index(n)).clone())
                .collect(),
            total_rows: src.builder.metadata().file_metadata().num_rows().max(0) as u64,
            projection,
        })
    }
}

/// The output schema: kept columns (strings from CSV, their own type from Parquet), the
/// prediction (class name or value), one probability column per class.
pub(crate) fn output_schema(
    input: &InputPlan,
    keep: &[String],
    classes: &Option<Vec<String>>,
) -> SchemaRef {
    let mut fields: Vec<Field> = match input {
        InputPlan::Csv(_) => keep
            .iter()
            .map(|k| Field::new(k, DataType::Utf8, false))
            .collect(),
        InputPlan::Parquet(p) => p.keep_fields.clone(),
    };
    match classes {
        Some(classes) => {
            // Class labels keep the training target's type: integers when all are.
            let label_type = if integer_labels(classes).is_some() {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            fields.push(Field::new("prediction", label_type, false));
            fields.extend(
                classes
                    .iter()
                    .map(|c| Field::new(format!("proba_{c}"), DataType::Float64, false)),
            );
        }
        None => fields.push(Field::new("prediction", DataType::Float64, false)),
    }
    Arc::new(Schema::new(fields))
}

/// The class labels as integers when every one reads as an integer (and back the same).
fn integer_labels(classes: &[String]) -> Option<Vec<i64>> {
    classes
        .iter()
        .map(|c| c.parse::<i64>().ok().filter(|i| i.to_string() == *c))
        .collect()
}

/// Decode the file into record batches of `chunk_rows` rows (only the needed columns) and
/// hand them on in order.
pub(crate) fn read_batches(
    src: ParquetSource,
    plan: &Plan,
    path: &Path,
    bytes_read: &AtomicU64,
    bytes_total: u64,
    chunk_rows: usize,
    emit: &mut dyn FnMut(Work) -> bool,
) -> Result<()> {
    let InputPlan::Parquet(p) = &plan.input else {
        return Err(Error::Numerical(
            "a Parquet reader needs a Parquet plan".into(),
        ));
    };
    let mask = ProjectionMask::roots(src.builder.parquet_schema(), p.projection.iter().copied());
    let reader = src
        .builder
        .with_projection(mask)
        .with_batch_size(chunk_rows)
        .build()
        .map_err(|e| parquet_err(path, "cannot read", e))?;
    let mut first_row = 1u64;
    for batch in reader {
        let batch = batch.map_err(|e| parquet_err(path, "cannot decode a row group", e))?;
        let n = batch.num_rows() as u64;
        if n == 0 {
            continue;
        }
        if !emit(Work::Arrow { batch, first_row }) {
            return Ok(());
        }
        first_row += n;
        let done = (first_row - 1) as f64 / p.total_rows.max(1) as f64;
        bytes_read.store(
            (bytes_total as f64 * done.min(1.0)) as u64,
            Ordering::Relaxed,
        );
    }
    Ok(())
}

/// A float cell: NaN counts as missing, infinities are refused.
#[inline]
fn float(plan: &Plan, k: usize, v: f64) -> std::result::Result<f64, CellError> {
    if v.is_nan() {
        plan.encoder.encode(k, "")
    } else if v.is_infinite() {
        Err(CellError::Infinite)
    } else {
        Ok(v)
    }
}

/// Encode cell `i` of `a` for feature `k` (nulls are missing values).
fn cell(plan: &Plan, k: usize, a: &dyn Array, i: usize) -> std::result::Result<f64, CellError> {
    let enc = &plan.encoder;
    let numeric = plan.numeric[k];
    if a.is_null(i) {
        return enc.encode(k, "");
    }
    macro_rules! int {
        ($t:ty) => {{
            let v = a.as_primitive::<$t>().value(i);
            if numeric {
                Ok(v as f64)
            } else {
                enc.encode(k, &v.to_string())
            }
        }};
    }
    match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float16 => float(plan, k, a.as_primitive::<Float16Type>().value(i).to_f64()),
        DataType::Float32 => float(plan, k, f64::from(a.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => float(plan, k, a.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => {
            let v = a.as_boolean().value(i);
            if numeric {
                Ok(f64::from(u8::from(v)))
            } else {
                enc.encode(k, if v { "true" } else { "false" })
            }
        }
        DataType::Utf8 => enc.encode(k, a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => enc.encode(k, a.as_string::<i64>().value(i)),
        DataType::Utf8View => enc.encode(k, a.as_string_view().value(i)),
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            match key_at(d.keys(), i) {
                Some(key) if key < d.values().len() => cell(plan, k, d.values().as_ref(), key),
                _ => enc.encode(k, ""),
            }
        }
        // Refused when the job is planned.
        other => Err(CellError::NotANumber(format!("<{other}>"))),
    }
}

/// The dictionary key of row `i`.
fn key_at(keys: &dyn Array, i: usize) -> Option<usize> {
    macro_rules! key {
        ($t:ty) => {
            usize::try_from(keys.as_primitive::<$t>().value(i)).ok()
        };
    }
    match keys.data_type() {
        DataType::Int8 => key!(Int8Type),
        DataType::Int16 => key!(Int16Type),
        DataType::Int32 => key!(Int32Type),
        DataType::Int64 => key!(Int64Type),
        DataType::UInt8 => key!(UInt8Type),
        DataType::UInt16 => key!(UInt16Type),
        DataType::UInt32 => key!(UInt32Type),
        DataType::UInt64 => key!(UInt64Type),
        _ => None,
    }
}

type Bad = Option<(usize, CellError)>;

/// Encode feature `k` of every row into `values` (row-major, `n_feat` wide); the first
/// failing feature of a row is remembered in `bad`.
fn fill(plan: &Plan, k: usize, col: &dyn Array, values: &mut [f64], bad: &mut [Bad]) {
    let n_feat = plan.n_feat();
    let mut put = |r: usize, res: std::result::Result<f64, CellError>| match res {
        Ok(v) => values[r * n_feat + k] = v,
        Err(e) => {
            if bad[r].is_none() {
                bad[r] = Some((k, e));
            }
        }
    };
    let n = col.len();
    let numeric = plan.numeric[k];
    match col.data_type() {
        DataType::Float64 if numeric => {
            let a = col.as_primitive::<Float64Type>();
            for r in 0..n {
                put(
                    r,
                    if a.is_null(r) {
                        plan.encoder.encode(k, "")
                    } else {
                        float(plan, k, a.value(r))
                    },
                );
            }
        }
        DataType::Float32 if numeric => {
            let a = col.as_primitive::<Float32Type>();
            for r in 0..n {
                put(
                    r,
                    if a.is_null(r) {
                        plan.encoder.encode(k, "")
                    } else {
                        float(plan, k, f64::from(a.value(r)))
                    },
                );
            }
        }
        DataType::Int64 if numeric => {
            let a = col.as_primitive::<Int64Type>();
            for r in 0..n {
                put(
                    r,
                    if a.is_null(r) {
                        plan.encoder.encode(k, "")
                    } else {
                        Ok(a.value(r) as f64)
                    },
                );
            }
        }
        DataType::Int32 if numeric => {
            let a = col.as_primitive::<Int32Type>();
            for r in 0..n {
                put(
                    r,
                    if a.is_null(r) {
                        plan.encoder.encode(k, "")
                    } else {
                        Ok(f64::from(a.value(r)))
                    },
                );
            }
        }
        DataType::Dictionary(_, _) => {
            // Encode each dictionary value once.
            let d = col.as_any_dictionary();
            let vals = d.values();
            let codes: Vec<_> = (0..vals.len())
                .map(|j| cell(plan, k, vals.as_ref(), j))
                .collect();
            for r in 0..n {
                let res = match key_at(d.keys(), r) {
                    Some(key) if !col.is_null(r) && key < codes.len() => codes[key].clone(),
                    _ => plan.encoder.encode(k, ""),
                };
                put(r, res);
            }
        }
        _ => {
            for r in 0..n {
                put(r, cell(plan, k, col, r));
            }
        }
    }
}

/// Decode a record batch into the feature matrix of its good rows, their kept columns and
/// its rejects.
pub(crate) fn decode(plan: &Plan, batch: &RecordBatch, first_row: u64) -> Result<Decoded> {
    let InputPlan::Parquet(p) = &plan.input else {
        return Err(Error::Numerical(
            "an Arrow batch needs a Parquet plan".into(),
        ));
    };
    let n = batch.num_rows();
    let n_feat = plan.n_feat();
    let mut values = vec![0.0; n * n_feat];
    let mut bad: Vec<Bad> = vec![None; n];
    for (k, &c) in p.feature_cols.iter().enumerate() {
        fill(plan, k, batch.column(c).as_ref(), &mut values, &mut bad);
    }
    let n_bad = bad.iter().filter(|b| b.is_some()).count();
    let keep: Vec<ArrayRef> = p
        .keep_cols
        .iter()
        .map(|&c| batch.column(c).clone())
        .collect();
    let mut rejects = Vec::new();
    let (values, kept) = if n_bad == 0 {
        (values, keep)
    } else {
        let mut record = Vec::new();
        let mut cellbuf = Vec::new();
        let mut good = Vec::with_capacity((n - n_bad) * n_feat);
        for (r, b) in bad.iter().enumerate() {
            match b {
                None => good.extend_from_slice(&values[r * n_feat..(r + 1) * n_feat]),
                Some((k, e)) => {
                    record.clear();
                    for (name, &c) in plan
                        .names
                        .iter()
                        .chain(&plan.keep)
                        .zip(p.feature_cols.iter().chain(&p.keep_cols))
                    {
                        if !record.is_empty() {
                            record.extend_from_slice(b", ");
                        }
                        record.extend_from_slice(name.as_bytes());
                        record.push(b'=');
                        cellbuf.clear();
                        format_cell(batch.column(c).as_ref(), r, &mut cellbuf);
                        record.extend_from_slice(&cellbuf);
                    }
                    csv_out::push_reject(
                        &mut rejects,
                        first_row + r as u64,
                        &format!("column `{}`: {e}", plan.names[*k]),
                        &record,
                    );
                }
            }
        }
        let mask = BooleanArray::from(bad.iter().map(|b| b.is_none()).collect::<Vec<_>>());
        let kept = keep
            .iter()
            .map(|a| arrow_select::filter::filter(a.as_ref(), &mask))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Data(format!("cannot select the kept columns: {e}")))?;
        (good, kept)
    };
    Ok(Decoded {
        rows: n as u64,
        rejected: n_bad as u64,
        n_good: n - n_bad,
        values,
        kept: Kept::Arrow(kept),
        rejects,
    })
}

/// The text of cell `i` of `a` (empty for null).
pub(crate) fn format_cell(a: &dyn Array, i: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    if a.is_null(i) {
        return;
    }
    macro_rules! int {
        ($t:ty) => {{
            let _ = write!(out, "{}", a.as_primitive::<$t>().value(i));
        }};
    }
    let mut fmt = ryu::Buffer::new();
    match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float16 => out.extend_from_slice(
            fmt.format(a.as_primitive::<Float16Type>().value(i).to_f32())
                .as_bytes(),
        ),
        DataType::Float32 => out.extend_from_slice(
            fmt.format(a.as_primitive::<Float32Type>().value(i))
                .as_bytes(),
        ),
        DataType::Float64 => out.extend_from_slice(
            fmt.format(a.as_primitive::<Float64Type>().value(i))
                .as_bytes(),
        ),
        DataType::Boolean => out.extend_from_slice(if a.as_boolean().value(i) {
            b"true"
        } else {
            b"false"
        }),
        DataType::Utf8 => out.extend_from_slice(a.as_string::<i32>().value(i).as_bytes()),
        DataType::LargeUtf8 => out.extend_from_slice(a.as_string::<i64>().value(i).as_bytes()),
        DataType::Utf8View => out.extend_from_slice(a.as_string_view().value(i).as_bytes()),
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            if let Some(key) = key_at(d.keys(), i).filter(|&k| k < d.values().len()) {
                format_cell(d.values().as_ref(), key, out);
            }
        }
        other => {
            let _ = write!(out, "<{other}>");
        }
    }
}

/// The output batch of a chunk's scored rows.
pub(crate) fn output_batch(plan: &Plan, d: &Decoded, pred: &Prediction) -> Result<RecordBatch> {
    let schema = plan
        .out_schema
        .clone()
        .ok_or_else(|| Error::Numerical("a Parquet output needs its schema".into()))?;
    let n_keep = plan.keep.len();
    let mut cols: Vec<ArrayRef> = match &d.kept {
        Kept::Text { arena, ranges } => (0..n_keep)
            .map(|i| {
                Arc::new(StringArray::from_iter_values((0..d.n_good).map(|r| {
                    let (a, b) = ranges[r * n_keep + i];
                    String::from_utf8_lossy(&arena[a..b])
                }))) as ArrayRef
            })
            .collect(),
        Kept::Arrow(cols) => cols.clone(),
    };
    match &plan.classes {
        Some(classes) => match integer_labels(classes) {
            Some(ints) => cols.push(Arc::new(Int64Array::from_iter_values(
                pred.values
                    .iter()
                    .map(|&v| ints.get(v as usize).copied().unwrap_or_default()),
            ))),
            None => cols.push(Arc::new(StringArray::from_iter_values(
                pred.values
                    .iter()
                    .map(|&v| classes.get(v as usize).map_or("", String::as_str)),
            ))),
        },
        None => cols.push(Arc::new(Float64Array::from_iter_values(
            pred.values.iter().copied(),
        ))),
    }
    if let (Some(p), Some(_)) = (&pred.probabilities, &plan.classes) {
        for c in 0..p.ncols() {
            cols.push(Arc::new(Float64Array::from_iter_values(
                p.column(c).iter().copied(),
            )));
        }
    }
    RecordBatch::try_new(schema, cols)
        .map_err(|e| Error::Data(format!("cannot build the output batch: {e}")))
}

/// The ordered Parquet output.
pub(crate) struct ParquetSink<'f> {
    writer: ArrowWriter<&'f File>,
    pending: Option<RecordBatch>,
    path: PathBuf,
}

impl<'f> ParquetSink<'f> {
    pub(crate) fn new(file: &'f File, plan: &Plan, path: &Path) -> Result<Self> {
        let schema = plan
            .out_schema
            .clone()
            .ok_or_else(|| Error::Numerical("a Parquet output needs its schema".into()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| parquet_err(path, "cannot start the Parquet output", e))?;
        Ok(ParquetSink {
            writer,
            pending: None,
            path: path.to_path_buf(),
        })
    }

    /// Append a batch (rows are written in fixed slices of `WRITE_ROWS`).
    pub(crate) fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let all = match self.pending.take() {
            None => batch,
            Some(prev) => arrow_select::concat::concat_batches(&batch.schema(), [&prev, &batch])
                .map_err(|e| parquet_err(&self.path, "cannot assemble output rows", e))?,
        };
        let mut at = 0;
        while all.num_rows() - at >= WRITE_ROWS {
            self.writer
                .write(&all.slice(at, WRITE_ROWS))
                .map_err(|e| parquet_err(&self.path, "cannot write", e))?;
            at += WRITE_ROWS;
        }
        if at < all.num_rows() {
            self.pending = Some(all.slice(at, all.num_rows() - at));
        }
        Ok(())
    }

    /// Write what is left and the footer.
    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some(rest) = self.pending.take() {
            self.writer
                .write(&rest)
                .map_err(|e| parquet_err(&self.path, "cannot write", e))?;
        }
        self.writer
            .close()
            .map_err(|e| parquet_err(&self.path, "cannot finish", e))?;
        Ok(())
    }
}
