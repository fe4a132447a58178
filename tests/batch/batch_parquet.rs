//! Batch scoring with Parquet input and output: the same predictions as from CSV, input
//! order, rejects with row numbers, byte-identical output, fail-fast on a missing column,
//! no output from a failed job.
#![cfg(feature = "parquet")]

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int8Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use mlcycle::clock::SystemClock;
use mlcycle::data::{Dataset, write_csv};
use mlcycle::deploy::{BatchJob, BatchOptions, BatchOutcome, score_file};
use mlcycle::model::Model;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn model() -> Arc<dyn Model> {
    let data = CreditDefault::new(3)
        .sample(3_000, &DriftSpec::none(), 0)
        .unwrap();
    Arc::new(fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap())
}

fn rows(n: usize) -> Dataset {
    CreditDefault::new(3)
        .sample(n, &DriftSpec::none(), 1)
        .unwrap()
        .without_target()
}

/// What to do to one row of the Parquet input.
#[derive(Clone, Copy, PartialEq)]
enum Spoil {
    None,
    /// A null in a numeric feature.
    NullIncome,
    /// An unknown category.
    Yacht,
    /// A null in a dictionary-encoded categorical.
    NullHome,
}

/// Write `data` as Parquet with an `id` column (`c0`, `c1`, …), numeric features spread over
/// many integer and float types, and categoricals as dictionary, Utf8 and LargeUtf8 —
/// `row_group` rows per row group. `spoil[i]` damages row `i`.
fn write_parquet(data: &Dataset, path: &Path, row_group: usize, spoil: &[Spoil]) {
    let schema = data.schema();
    let x = data.features();
    let n = data.n_rows();
    let mut fields = vec![Field::new("id", DataType::Utf8, false)];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("c{i}")),
    ))];
    for (j, f) in schema.features.iter().enumerate() {
        let col: Vec<f64> = (0..n).map(|i| x[[i, j]]).collect();
        let whole = |v: f64| {
            assert_eq!(v, v.trunc(), "{} is not whole", f.name);
            v
        };
        let (dt, arr): (DataType, ArrayRef) = match f.name.as_str() {
            "age" => (
                DataType::Int64,
                Arc::new(Int64Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as i64),
                )),
            ),
            "late_payments" => (
                DataType::Int8,
                Arc::new(Int8Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as i8),
                )),
            ),
            "credit_limit" => (
                DataType::UInt64,
                Arc::new(UInt64Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as u64),
                )),
            ),
            "months_employed" => (
                DataType::UInt16,
                Arc::new(UInt16Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as u16),
                )),
            ),
            "n_accounts" => (
                DataType::UInt8,
                Arc::new(UInt8Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as u8),
                )),
            ),
            "loan_amount" => (
                DataType::UInt32,
                Arc::new(UInt32Array::from_iter_values(
                    col.iter().map(|&v| whole(v) as u32),
                )),
            ),
            "income" => (
                DataType::Float64,
                Arc::new(Float64Array::from_iter(col.iter().enumerate().map(
                    |(i, &v)| (spoil.get(i) != Some(&Spoil::NullIncome)).then_some(v),
                ))),
            ),
            "home_ownership" => {
                let mut b = StringDictionaryBuilder::<Int32Type>::new();
                for (i, &v) in col.iter().enumerate() {
                    if spoil.get(i) == Some(&Spoil::NullHome) {
                        b.append_null();
                    } else {
                        b.append_value(schema.decode_cell(j, v));
                    }
                }
                (
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    Arc::new(b.finish()),
                )
            }
            "purpose" => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(col.iter().enumerate().map(
                    |(i, &v)| {
                        if spoil.get(i) == Some(&Spoil::Yacht) {
                            "yacht".to_string()
                        } else {
                            schema.decode_cell(j, v)
                        }
                    },
                ))),
            ),
            "region" => (
                DataType::LargeUtf8,
                Arc::new(LargeStringArray::from_iter_values(
                    col.iter().map(|&v| schema.decode_cell(j, v)),
                )),
            ),
            _ if f.is_categorical() => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(
                    col.iter().map(|&v| schema.decode_cell(j, v)),
                )),
            ),
            _ => (DataType::Float64, Arc::new(Float64Array::from(col.clone()))),
        };
        let nullable = arr.null_count() > 0;
        fields.push(Field::new(&f.name, dt, nullable));
        cols.push(arr);
    }
    // An extra column the job does not need (not even read).
    fields.push(Field::new("note", DataType::Float32, false));
    cols.push(Arc::new(Float32Array::from_iter_values(
        (0..n).map(|i| i as f32),
    )));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The same rows as CSV with the `id` column first.
fn write_csv_with_ids(data: &Dataset, path: &Path) {
    let plain = path.with_extension("plain.csv");
    write_csv(data, &plain).unwrap();
    let text = std::fs::read_to_string(&plain).unwrap();
    let mut lines = text.lines();
    let mut out = format!("id,{}\n", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        out.push_str(&format!("c{i},{l}\n"));
    }
    std::fs::write(path, out).unwrap();
}

fn job<'a>(
    model: &'a dyn Model,
    input: &'a Path,
    output: &'a Path,
    options: &'a BatchOptions,
) -> BatchJob<'a> {
    BatchJob {
        model,
        model_name: "credit",
        model_version: 1,
        input,
        output,
        options,
        clock: &SystemClock,
        progress: None,
        collect: None,
    }
}

fn read_parquet(path: &Path) -> RecordBatch {
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// A Parquet output rendered as the CSV output would be (strings and shortest floats).
fn parquet_as_csv(path: &Path) -> String {
    let b = read_parquet(path);
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut out = names.join(",") + "\n";
    let mut fmt = ryu::Buffer::new();
    for r in 0..b.num_rows() {
        let cells: Vec<String> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Utf8 => c
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .value(r)
                    .to_string(),
                DataType::Float64 => fmt
                    .format(c.as_any().downcast_ref::<Float64Array>().unwrap().value(r))
                    .to_string(),
                other => panic!("unexpected output type {other}"),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".mlcycle-score-")
        })
        .collect()
}

#[test]
fn parquet_and_csv_inputs_and_outputs_agree() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let data = rows(1_500);
    let in_csv = dir.path().join("in.csv");
    let in_pq = dir.path().join("in.parquet");
    write_csv_with_ids(&data, &in_csv);
    write_parquet(&data, &in_pq, 400, &[]);
    let opts = BatchOptions {
        keep: vec!["id".into()],
        chunk_rows: 97,
        threads: 3,
        ..Default::default()
    };
    let mut outputs = Vec::new();
    for (input, out) in [
        (&in_csv, "csv_csv.csv"),
        (&in_pq, "pq_csv.csv"),
        (&in_csv, "csv_pq.parquet"),
        (&in_pq, "pq_pq.parquet"),
    ] {
        let out = dir.path().join(out);
        let s = score_file(&job(m.as_ref(), input, &out, &opts)).unwrap();
        assert_eq!(s.outcome, BatchOutcome::Published, "{}", out.display());
        assert_eq!((s.rows_read, s.rows_rejected), (1_500, 0));
        let want = format!(
            "blake3:{}",
            blake3::hash(&std::fs::read(input).unwrap()).to_hex()
        );
        assert_eq!(s.input_hash, want);
        outputs.push(out);
    }
    let csv_csv = std::fs::read_to_string(&outputs[0]).unwrap();
    assert!(csv_csv.starts_with("id,prediction,proba_no,proba_yes\nc0,"));
    // Parquet in, CSV out: the very same bytes as from the CSV input.
    assert_eq!(std::fs::read_to_string(&outputs[1]).unwrap(), csv_csv);
    // Parquet out (from either input) holds the same rows, predictions and probabilities.
    assert_eq!(parquet_as_csv(&outputs[2]), csv_csv);
    assert_eq!(parquet_as_csv(&outputs[3]), csv_csv);
    // And they are the model's own predictions, in input order.
    let p = m.predict(data.features()).unwrap();
    let proba = p.probabilities.unwrap();
    let b = read_parquet(&outputs[3]);
    let yes = b.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
    let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    for i in 0..1_500 {
        assert_eq!(ids.value(i), format!("c{i}"));
        assert_eq!(yes.value(i).to_bits(), proba[[i, 1]].to_bits(), "row {i}");
    }
}

#[test]
fn parquet_rejects_order_and_byte_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let n = 1_000;
    let data = rows(n);
    let mut spoil = vec![Spoil::None; n];
    spoil[2] = Spoil::NullIncome;
    spoil[9] = Spoil::Yacht;
    spoil[500] = Spoil::NullHome;
    spoil[999] = Spoil::Yacht;
    let input = dir.path().join("in.parquet");
    write_parquet(&data, &input, 128, &spoil);
    let out1 = dir.path().join("out1.parquet");
    let opts = BatchOptions {
        keep: vec!["id".into(), "region".into()],
        chunk_rows: 7,
        threads: 3,
        ..Default::default()
    };
    let s = score_file(&job(m.as_ref(), &input, &out1, &opts)).unwrap();
    assert_eq!(s.outcome, BatchOutcome::Published);
    assert_eq!(
        (s.rows_read, s.rows_scored, s.rows_rejected),
        (1_000, 996, 4)
    );

    // Rejects: 1-based row numbers, the column and the reason, the row's values.
    let rej = std::fs::read_to_string(&s.rejects).unwrap();
    let rej: Vec<&str> = rej.lines().collect();
    assert_eq!(rej.len(), 5, "{rej:?}");
    assert_eq!(rej[0], "row,reason,record");
    assert!(
        rej[1].starts_with("3,column `income`: missing value,\"") && rej[1].contains("id=c2"),
        "{}",
        rej[1]
    );
    assert!(
        rej[2].starts_with(
            "10,\"column `purpose`: unknown category `yacht`; score it as a missing value with --unknown-as-missing"
        ),
        "{}",
        rej[2]
    );
    assert!(
        rej[3].starts_with("501,column `home_ownership`: missing value,"),
        "{}",
        rej[3]
    );
    assert!(rej[4].starts_with("1000,"), "{}", rej[4]);

    // Order and passthrough: the good rows' ids in input order, their kept region.
    let b = read_parquet(&out1);
    let names: Vec<&str> = b
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        ["id", "region", "prediction", "proba_no", "proba_yes"]
    );
    assert_eq!(b.schema().field(1).data_type(), &DataType::LargeUtf8);
    let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let good: Vec<usize> = (0..n).filter(|&i| spoil[i] == Spoil::None).collect();
    assert_eq!(ids.len(), good.len());
    for (r, &i) in good.iter().enumerate() {
        assert_eq!(ids.value(r), format!("c{i}"));
    }

    // Other chunking and threading: the same bytes.
    let out2 = dir.path().join("out2.parquet");
    let opts2 = BatchOptions {
        chunk_rows: 500,
        threads: 1,
        ..opts.clone()
    };
    score_file(&job(m.as_ref(), &input, &out2, &opts2)).unwrap();
    assert_eq!(std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());

    // Lenient policies score the null and the unknown category as missing values.
    let out3 = dir.path().join("out3.csv");
    let lenient = BatchOptions {
        allow_missing: true,
        unknown: mlcycle::data::UnknownLevel::AsMissing,
        ..opts.clone()
    };
    let s = score_file(&job(m.as_ref(), &input, &out3, &lenient)).unwrap();
    assert_eq!((s.rows_scored, s.rows_rejected), (1_000, 0));
}

#[test]
fn a_missing_column_fails_before_any_work_and_failed_jobs_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let data = rows(300);
    let input = dir.path().join("in.parquet");
    write_parquet(&data, &input, 100, &[]);
    // Rename `income` in the file: the model needs it.
    let b = read_parquet(&input);
    let fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if f.name() == "income" {
                f.with_name("salary")
            } else {
                f
            }
        })
        .collect();
    let renamed = dir.path().join("renamed.parquet");
    let schema = Arc::new(Schema::new(fields));
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&renamed).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    w.write(&RecordBatch::try_new(schema, b.columns().to_vec()).unwrap())
        .unwrap();
    w.close().unwrap();
    let out = dir.path().join("out.parquet");
    let e = score_file(&job(m.as_ref(), &renamed, &out, &BatchOptions::default())).unwrap_err();
    assert!(
        matches!(e, mlcycle::Error::SchemaMismatch(ref msg) if msg.contains("income")),
        "{e}"
    );
    assert!(!out.exists());
    assert!(!dir.path().join("out.parquet.rejects.csv").exists());

    // A kept column the file lacks: refused up front too.
    let keep_missing = BatchOptions {
        keep: vec!["nope".into()],
        ..Default::default()
    };
    let e = score_file(&job(m.as_ref(), &input, &out, &keep_missing)).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");

    // Not a Parquet file at all.
    let fake = dir.path().join("fake.parquet");
    std::fs::write(&fake, "id,age\n1,2\n").unwrap();
    let e = score_file(&job(m.as_ref(), &fake, &out, &BatchOptions::default())).unwrap_err();
    assert!(e.to_string().contains("not a readable Parquet file"), "{e}");

    // A job that fails midway (the collector fails on the third chunk) never leaves an
    // output file, from either input format.
    for input in [&input, &dir.path().join("in.csv")] {
        if input.extension().unwrap() == "csv" {
            write_csv_with_ids(&data, input);
        }
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let failing = |_r| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2 {
                Err(mlcycle::Error::Data("disk full".into()))
            } else {
                Ok(())
            }
        };
        let opts = BatchOptions {
            chunk_rows: 10,
            ..Default::default()
        };
        let mut j = job(m.as_ref(), input, &out, &opts);
        j.collect = Some(&failing);
        let e = score_file(&j).unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert!(!out.exists());
        assert!(
            leftovers(dir.path()).is_empty(),
            "temporary output left behind"
        );
    }
}

#[tokio::test]
async fn cli_scores_parquet_into_parquet_and_records_the_input_hash() {
    use mlcycle::audit::AuditLog;
    use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let store = dir.path().join("store");
    let reg = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    reg.register(
        "credit",
        NewVersion {
            artifact: m.to_artifact().unwrap(),
            lineage: Lineage::default(),
            metrics: Default::default(),
            tags: Default::default(),
            description: String::new(),
        },
    )
    .await
    .unwrap();
    reg.set_alias("credit", "production", 1, Change::new("t", "t"))
        .await
        .unwrap();
    let data = rows(300);
    let input = dir.path().join("in.parquet");
    write_parquet(&data, &input, 100, &[]);
    let out = dir.path().join("scored.parquet");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["score", "--quiet", "--keep", "id", "--store"])
        .arg(&store)
        .args(["--model", "credit@production", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let b = read_parquet(&out);
    assert_eq!(b.num_rows(), 300);
    assert_eq!(b.schema().field(0).name(), "id");
    let audit = mlcycle::audit::SqliteAuditLog::open(&store, Arc::new(SystemClock)).unwrap();
    let recs = audit
        .query(&mlcycle::audit::AuditQuery {
            action: Some("batch.scored".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(recs.len(), 1);
    let want = format!(
        "blake3:{}",
        blake3::hash(&std::fs::read(&input).unwrap()).to_hex()
    );
    assert_eq!(recs[0].entry.subjects[1], want);
}

#[test]
fn integer_class_labels_are_integers_in_parquet_output() {
    use mlcycle::data::{Schema as DataSchema, TargetKind};
    let data = CreditDefault::new(3)
        .sample(800, &DriftSpec::none(), 0)
        .unwrap();
    let mut target = data.schema().target.clone().unwrap();
    target.kind = TargetKind::classification(["0", "1"]).unwrap();
    let schema = DataSchema::new(data.schema().features.clone(), Some(target)).unwrap();
    let relabelled = Dataset::new(
        schema,
        data.features().to_owned(),
        data.target().cloned(),
        None,
    )
    .unwrap();
    let m: Arc<dyn Model> =
        Arc::new(fit_logistic(&relabelled, &LogisticParams::default().check().unwrap()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv_with_ids(&rows(50), &input);
    let out = dir.path().join("out.parquet");
    let s = score_file(&job(m.as_ref(), &input, &out, &BatchOptions::default())).unwrap();
    assert_eq!(s.rows_scored, 50);
    let b = read_parquet(&out);
    let pred = b.column_by_name("prediction").unwrap();
    assert_eq!(pred.data_type(), &DataType::Int64);
    let want = m.predict(rows(50).features()).unwrap().values;
    let got: Vec<f64> = pred
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .unwrap()
        .values()
        .iter()
        .map(|&v| v as f64)
        .collect();
    assert_eq!(got, want.to_vec());
}
