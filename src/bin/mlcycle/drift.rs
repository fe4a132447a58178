//! `mlcycle drift`: compare two CSV files column by column.
//!
//! The CSV files are read straight into columns (numbers parsed in place, categories
//! counted while reading), both files at once, and handed to the library's drift engine.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use mlcycle::drift::stats::{Binning, CategoricalSummary, Correction, Method};
use mlcycle::drift::{
    ColumnInput, ColumnValues, DriftReport, MethodSelection, StatisticalDriftConfig,
    StatisticalDriftDetector,
};
use mlcycle::report::{DriftReportMeta, drift_html};
use mlcycle::{Error, Result};

/// Arguments of `mlcycle drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Reference CSV file (header row; usually the training data).
    #[arg(long, value_name = "REF.csv")]
    reference: PathBuf,
    /// Current CSV file (header row; e.g. recent production inputs).
    #[arg(long, value_name = "CUR.csv")]
    current: PathBuf,
    /// `auto` (Evidently's selection), `all`, or a comma-separated list such as
    /// `ks,wasserstein,psi,jensenshannon,chisquare` (the first one that applies to a column
    /// decides it; start the list with `auto` to decide by the automatic selection).
    #[arg(long, default_value = "auto")]
    methods: String,
    /// Binning of PSI / KL / Jensen–Shannon / Hellinger: Evidently's (edges from both
    /// samples) or reference-fixed edges (NannyML's).
    #[arg(long, value_enum, default_value_t = BinningArg::Evidently)]
    binning: BinningArg,
    /// Multiple-testing correction over the columns decided by a p-value.
    #[arg(long, value_enum, default_value_t = CorrectionArg::None)]
    correction: CorrectionArg,
    /// The dataset drifts when at least this share of the columns drift.
    #[arg(long, default_value_t = 0.5)]
    drift_share: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Columns to treat as categorical even if their values are numbers.
    #[arg(long, value_delimiter = ',', value_name = "COL,...")]
    categorical: Vec<String>,
    /// Threshold of one column's deciding method (repeatable).
    #[arg(long = "threshold", value_name = "COL=X")]
    thresholds: Vec<String>,
    /// Deciding method of one column (repeatable), e.g. `--column-method age=ks`.
    #[arg(long = "column-method", value_name = "COL=METHOD")]
    column_methods: Vec<String>,
    /// Columns to leave out of the comparison (the target, ids, timestamps), e.g.
    /// `--exclude species,id` or `--exclude species --exclude id`.
    #[arg(long, value_delimiter = ',', num_args = 1.., value_name = "COL")]
    exclude: Vec<String>,
    /// Exit with status 3 when the dataset drifts (for scripts and CI), after writing the
    /// report.
    #[arg(long)]
    fail_on_drift: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BinningArg {
    Evidently,
    Reference,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CorrectionArg {
    None,
    Bonferroni,
    Bh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// One self-contained HTML page with charts (use with --output).
    Html,
}

/// The JSON report: the input files, the columns left out, then the drift report's fields.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    reference: &'a Path,
    current: &'a Path,
    excluded: &'a [String],
    #[serde(flatten)]
    report: &'a DriftReport,
}

/// Run the command; returns whether the dataset drifts.
pub fn run(args: DriftArgs) -> Result<bool> {
    let config = config_of(&args)?;
    let detector = StatisticalDriftDetector::new(config)?;
    let forced: HashSet<&str> = args.categorical.iter().map(String::as_str).collect();
    let (reference, current) = rayon::join(
        || Table::read(&args.reference, &forced),
        || Table::read(&args.current, &forced),
    );
    let (mut reference, mut current) = (reference?, current?);
    for c in &args.exclude {
        if !reference.names.iter().any(|n| n == c) && !current.names.iter().any(|n| n == c) {
            return Err(Error::invalid(
                "--exclude",
                format!(
                    "column `{c}` is in neither file (columns: {})",
                    reference.names.join(", ")
                ),
            ));
        }
    }
    reference.drop_columns(&args.exclude);
    current.drop_columns(&args.exclude);
    for c in &forced {
        if !reference.names.iter().any(|n| n == c) && !current.names.iter().any(|n| n == c) {
            return Err(Error::invalid(
                "--categorical",
                format!("column `{c}` is in neither file"),
            ));
        }
    }
    let inputs = pair_columns(&args, &reference, &current)?;
    let report = detector.detect_columns(&inputs)?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).map_err(|e| Error::io(p, e))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let target = args
        .output
        .as_deref()
        .unwrap_or_else(|| Path::new("standard output"));
    let io = |e| Error::io(target, e);
    match args.format {
        Format::Json => {
            let json = JsonReport {
                reference: &args.reference,
                current: &args.current,
                excluded: &args.exclude,
                report: &report,
            };
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out).map_err(io)?;
        }
        Format::Text => write_text(&mut out, &report, &args).map_err(io)?,
        Format::Html => {
            let meta = DriftReportMeta::new(
                args.reference.display().to_string(),
                args.current.display().to_string(),
                detector.config(),
            );
            out.write_all(drift_html(&report, &inputs, &meta).as_bytes())
                .map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(args.fail_on_drift && report.dataset_drift)
}

fn config_of(args: &DriftArgs) -> Result<StatisticalDriftConfig> {
    let methods: MethodSelection = args.methods.parse()?;
    let mut thresholds = BTreeMap::new();
    for t in &args.thresholds {
        let (c, v) = split_assignment("--threshold", t)?;
        let x: f64 = v.parse().map_err(|_| {
            Error::invalid("--threshold", format!("`{v}` in `{t}` is not a number"))
        })?;
        thresholds.insert(c.to_string(), x);
    }
    let mut column_methods = BTreeMap::new();
    for t in &args.column_methods {
        let (c, m) = split_assignment("--column-method", t)?;
        column_methods.insert(c.to_string(), Method::from_name(m)?);
    }
    Ok(StatisticalDriftConfig {
        methods,
        column_methods,
        binning: match args.binning {
            BinningArg::Evidently => Binning::Evidently,
            BinningArg::Reference => Binning::Reference,
        },
        correction: match args.correction {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Bonferroni => Correction::Bonferroni,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
        },
        thresholds,
        drift_share: args.drift_share,
        ..StatisticalDriftConfig::evidently()
    })
}

fn split_assignment<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str)> {
    match s.rsplit_once('=') {
        Some((c, v)) if !c.is_empty() && !v.is_empty() => Ok((c, v)),
        _ => Err(Error::invalid(
            flag,
            format!("`{s}` is not of the form COLUMN=VALUE"),
        )),
    }
}

/// The columns present in both files, in the reference's order, as engine inputs.
fn pair_columns<'a>(
    args: &DriftArgs,
    reference: &'a Table,
    current: &'a Table,
) -> Result<Vec<ColumnInput<'a>>> {
    let cur_index: HashMap<&str, usize> = current
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let only = |a: &Table, b: &Table| -> Vec<String> {
        a.names
            .iter()
            .filter(|n| !b.names.contains(n))
            .cloned()
            .collect()
    };
    let (only_ref, only_cur) = (only(reference, current), only(current, reference));
    let mut inputs = Vec::new();
    for (i, name) in reference.names.iter().enumerate() {
        let Some(&j) = cur_index.get(name.as_str()) else {
            continue;
        };
        let (r, c) = (&reference.columns[i], &current.columns[j]);
        let values = |col: &'a Column, other: &Column| match col {
            Column::Numeric { values, present } => {
                if *present == 0 && matches!(other, Column::Text(_)) {
                    // an all-missing column takes the other side's kind
                    ColumnValues::Categorical(Cow::Owned(CategoricalSummary {
                        missing: values.len() as u64,
                        ..CategoricalSummary::default()
                    }))
                } else {
                    ColumnValues::numeric(values)
                }
            }
            Column::Text(p) => ColumnValues::Categorical(Cow::Borrowed(p)),
        };
        let (rv, cv) = (values(r, c), values(c, r));
        if let (ColumnValues::Numeric(_), ColumnValues::Categorical(_))
        | (ColumnValues::Categorical(_), ColumnValues::Numeric(_)) = (&rv, &cv)
        {
            let kind = |v: &ColumnValues<'_>| match v {
                ColumnValues::Numeric(_) => "numeric",
                ColumnValues::Categorical(_) => "text",
            };
            return Err(Error::SchemaMismatch(format!(
                "column `{name}` is {} in {} but {} in {}; list it with --categorical {name} \
                 to compare it as categories",
                kind(&rv),
                args.reference.display(),
                kind(&cv),
                args.current.display()
            )));
        }
        inputs.push(ColumnInput {
            name,
            reference: rv,
            current: cv,
        });
    }
    if inputs.is_empty() {
        return Err(Error::SchemaMismatch(format!(
            "{} and {} have no column names in common",
            args.reference.display(),
            args.current.display()
        )));
    }
    for (cols, file) in [(&only_ref, &args.reference), (&only_cur, &args.current)] {
        if !cols.is_empty() {
            eprintln!(
                "warning: ignoring column(s) only in {}: {}",
                file.display(),
                cols.join(", ")
            );
        }
    }
    Ok(inputs)
}

// ---------------------------------------------------------------------------------------
// CSV → columns
// ---------------------------------------------------------------------------------------

/// A column read from CSV.
enum Column {
    /// Numbers (NaN for missing), with the count of non-missing values.
    Numeric { values: Vec<f64>, present: usize },
    /// Category counts.
    Text(CategoricalSummary),
}

struct Table {
    names: Vec<String>,
    columns: Vec<Column>,
}

impl Table {
    /// Leave the named columns out.
    fn drop_columns(&mut self, names: &[String]) {
        let keep: Vec<bool> = self.names.iter().map(|n| !names.contains(n)).collect();
        let mut k = keep.iter();
        self.names.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.columns.retain(|_| *k.next().unwrap_or(&true));
    }
}

/// Tokens read as missing (pandas' default `na_values`).
const MISSING: [&[u8]; 19] = [
    b"",
    b"#N/A",
    b"#N/A N/A",
    b"#NA",
    b"-1.#IND",
    b"-1.#QNAN",
    b"-NaN",
    b"-nan",
    b"1.#IND",
    b"1.#QNAN",
    b"<NA>",
    b"N/A",
    b"NA",
    b"NULL",
    b"NaN",
    b"None",
    b"n/a",
    b"nan",
    b"null",
];

fn is_missing(field: &[u8]) -> bool {
    MISSING.contains(&field) || MISSING.contains(&field.trim_ascii())
}

/// Parse a number the way a CSV reader would: the whole field, surrounding blanks allowed.
#[inline]
fn parse_number(field: &[u8]) -> Option<f64> {
    match fast_float2::parse::<f64, _>(field) {
        Ok(v) => Some(v),
        Err(_) => {
            let t = field.trim_ascii();
            if t.len() != field.len() && !t.is_empty() {
                fast_float2::parse::<f64, _>(t).ok()
            } else {
                None
            }
        }
    }
}

/// Counts labels while reading.
#[derive(Default)]
struct LabelCounter {
    ids: HashMap<Box<[u8]>, usize>,
    labels: Vec<Box<[u8]>>,
    counts: Vec<u64>,
    missing: u64,
}

impl LabelCounter {
    #[inline]
    fn push(&mut self, field: &[u8]) {
        if is_missing(field) {
            self.missing += 1;
            return;
        }
        match self.ids.get(field) {
            Some(&i) => self.counts[i] += 1,
            None => {
                let k: Box<[u8]> = field.into();
                self.ids.insert(k.clone(), self.labels.len());
                self.labels.push(k);
                self.counts.push(1);
            }
        }
    }

    fn into_profile(self) -> CategoricalSummary {
        let mut p = CategoricalSummary {
            missing: self.missing,
            ..CategoricalSummary::default()
        };
        for (l, c) in self.labels.into_iter().zip(self.counts) {
            *p.counts
                .entry(String::from_utf8_lossy(&l).into_owned())
                .or_insert(0) += c;
        }
        p
    }
}

enum State {
    Numeric {
        values: Vec<f64>,
        present: usize,
    },
    /// Text since row `since` (rows before it were numbers and are re-read at the end).
    Text {
        counter: LabelCounter,
        since: usize,
    },
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    if let csv::ErrorKind::UnequalLengths {
        pos,
        expected_len,
        len,
    } = e.kind()
    {
        return Error::Data(format!(
            "{}: line {} has {len} fields but the header has {expected_len}",
            path.display(),
            pos.as_ref().map_or(0, |p| p.line())
        ));
    }
    if e.is_io_error() {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io(path, io),
            other => Error::Data(format!("{}: {other:?}", path.display())),
        }
    } else {
        Error::Data(format!("{}: {e}", path.display()))
    }
}

impl Table {
    fn open(path: &Path) -> Result<csv::Reader<File>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(csv::ReaderBuilder::new()
            .buffer_capacity(1 << 20)
            .from_reader(file))
    }

    fn read(path: &Path, forced: &HashSet<&str>) -> Result<Table> {
        let mut rdr = Self::open(path)?;
        let header = rdr.byte_headers().map_err(|e| csv_error(path, e))?.clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(Error::Data(format!(
                "{} is empty: expected a header row of column names",
                path.display()
            )));
        }
        let mut names: Vec<String> = header
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        if let Some(first) = names.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_string();
        }
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(Error::Data(format!(
                    "{}: column `{n}` appears twice in the header",
                    path.display()
                )));
            }
        }
        let mut states: Vec<State> = names
            .iter()
            .map(|n| {
                if forced.contains(n.as_str()) {
                    State::Text {
                        counter: LabelCounter::default(),
                        since: 0,
                    }
                } else {
                    State::Numeric {
                        values: Vec::new(),
                        present: 0,
                    }
                }
            })
            .collect();
        let mut rec = csv::ByteRecord::new();
        let mut row = 0usize;
        while rdr
            .read_byte_record(&mut rec)
            .map_err(|e| csv_error(path, e))?
        {
            for (state, field) in states.iter_mut().zip(rec.iter()) {
                match state {
                    State::Numeric { values, present } => match parse_number(field) {
                        Some(v) => {
                            values.push(v);
                            *present += usize::from(!v.is_nan());
                        }
                        None if is_missing(field) => values.push(f64::NAN),
                        None => {
                            let mut counter = LabelCounter::default();
                            // earlier rows: all missing, or numbers to re-read as labels
                            let since = if *present == 0 {
                                counter.missing = values.len() as u64;
                                0
                            } else {
                                row
                            };
                            counter.push(field);
                            *state = State::Text { counter, since };
                        }
                    },
                    State::Text { counter, .. } => counter.push(field),
                }
            }
            row += 1;
        }
        if row == 0 {
            return Err(Error::Data(format!(
                "{} has a header but no data rows",
                path.display()
            )));
        }
        // columns that turned out to be text after some numbers: re-read their first rows
        let rescan: Vec<(usize, usize)> = states
            .iter()
            .enumerate()
            .filter_map(|(j, s)| match s {
                State::Text { since, .. } if *since > 0 => Some((j, *since)),
                _ => None,
            })
            .collect();
        if !rescan.is_empty() {
            let mut rdr = Self::open(path)?;
            let until = rescan.iter().map(|r| r.1).max().unwrap_or(0);
            let mut i = 0usize;
            while i < until
                && rdr
                    .read_byte_record(&mut rec)
                    .map_err(|e| csv_error(path, e))?
            {
                for &(j, since) in &rescan {
                    if i < since
                        && let State::Text { counter, .. } = &mut states[j]
                    {
                        counter.push(&rec[j]);
                    }
                }
                i += 1;
            }
        }
        let columns = states
            .into_iter()
            .map(|s| match s {
                State::Numeric { values, present } => Column::Numeric { values, present },
                State::Text { counter, .. } => Column::Text(counter.into_profile()),
            })
            .collect();
        Ok(Table { names, columns })
    }
}

// ---------------------------------------------------------------------------------------
// Text report
// ---------------------------------------------------------------------------------------

fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// The widest line of the "all methods" section of the text report.
const ALL_METHODS_WIDTH: usize = 100;

fn write_text(out: &mut dyn Write, r: &DriftReport, args: &DriftArgs) -> std::io::Result<()> {
    writeln!(
        out,
        "Drift of {} against {} (methods: {})",
        args.current.display(),
        args.reference.display(),
        args.methods
    )?;
    if !args.exclude.is_empty() {
        writeln!(out, "Left out: {}", args.exclude.join(", "))?;
    }
    writeln!(out)?;
    let w = r
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:<w$}  {:<11}  {:<16}  {:>11}  {:>10}  {:>10}  {:<5}  {:>9}  {:>9}",
        "column",
        "kind",
        "method",
        "statistic",
        "p-value",
        "threshold",
        "drift",
        "miss.ref",
        "miss.cur"
    )?;
    for c in &r.columns {
        writeln!(
            out,
            "{:<w$}  {:<11}  {:<16}  {:>11}  {:>10}  {:>10}  {:<5}  {:>9}  {:>9}",
            c.name,
            c.kind,
            c.method,
            num(c.statistic),
            c.p_value.map_or("-".into(), num),
            num(c.threshold),
            if c.drift { "YES" } else { "no" },
            c.missing_reference,
            c.missing_current
        )?;
    }
    // every other method computed
    let mut methods: Vec<&str> = Vec::new();
    for c in &r.columns {
        for (m, _) in c.tests.iter() {
            if !methods.contains(&m) {
                methods.push(m);
            }
        }
    }
    if r.columns.iter().any(|c| c.tests.len() > 1) {
        writeln!(out)?;
        writeln!(out, "All methods (statistic, p-value in brackets):")?;
        // One block per column, its methods wrapped to fit a terminal.
        for c in &r.columns {
            writeln!(out, "{}", c.name)?;
            let mut line = String::from(" ");
            for m in &methods {
                let Some(t) = c.tests.get(m) else { continue };
                let cell = match t.p_value {
                    Some(p) => format!("{m} {} ({})", num(t.statistic), num(p)),
                    None => format!("{m} {}", num(t.statistic)),
                };
                if line.len() > 1 && line.len() + 2 + cell.chars().count() > ALL_METHODS_WIDTH {
                    writeln!(out, "{line}")?;
                    line = String::from(" ");
                }
                line.push_str("  ");
                line.push_str(&cell);
            }
            if line.len() > 1 {
                writeln!(out, "{line}")?;
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Dataset drift: {} — {} of {} columns drifted ({:.1}%; the threshold is {:.1}%)",
        if r.dataset_drift { "YES" } else { "no" },
        r.drifted_columns,
        r.columns.len(),
        100.0 * r.share_drifted,
        100.0 * r.drift_share
    )
}
