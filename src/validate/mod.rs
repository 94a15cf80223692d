//! The validation engine: a contract, exact vectorised checks, and a split of every input
//! into valid rows and quarantined rows (each with the checks it failed), plus a report.
//!
//! Rows in = valid + invalid, always: a record that cannot even be split into columns is
//! quarantined as a `parse` failure with its line number; only a file that cannot be read
//! at all (a corrupt Parquet footer, a missing file) is an error.

pub mod checks;
pub mod contract;
pub mod copy;
pub mod parquet_copy;
pub mod patterns;
pub mod read;
pub mod report;
pub mod rule;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Builder, RecordBatch, StringArray, StringBuilder, UInt32Array};
use arrow::compute::{cast, filter_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use hashbrown::HashSet;
use rayon::prelude::*;
use thiserror::Error;

pub use contract::{ColumnSpec, ColumnType, Contract, Severity};
pub use report::{CheckResult, ValidationReport};

use crate::datasets::{ArgumentError, FileFormat};
use crate::io::{FileSink, IoError};
use checks::days_since_epoch;
use patterns::Pattern;
use read::{Chunk, Input, Unparsed};
use rule::RowRule;

#[derive(Debug, Error)]
pub enum ValidateError {
    /// A contract that cannot be used. Maps to `ContractError`.
    #[error("{0}")]
    Contract(String),
    /// A file that cannot be read at all. Maps to `ValidationError`.
    #[error("cannot read {path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error(transparent)]
    Argument(#[from] ArgumentError),
    #[error(transparent)]
    Io(#[from] IoError),
    /// A broken invariant (a bug). Maps to `InternalError`.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Where a foreign key's reference keys come from.
#[derive(Clone, Debug)]
pub enum Reference {
    Path(PathBuf),
    Batches(Vec<RecordBatch>),
}

#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// The day the data is for (freshness); None skips the freshness check.
    pub ds: Option<NaiveDate>,
    pub valid_out: Option<PathBuf>,
    pub quarantine_out: Option<PathBuf>,
    /// Format of the output files; default: the input's (Parquet for in-memory input).
    pub output_format: Option<FileFormat>,
    /// Referenced datasets by name (`contacts`, `campaigns`, ...).
    pub references: BTreeMap<String, Reference>,
    /// Yesterday's row count, for `row_count.max_change`.
    pub previous_rows: Option<u64>,
    /// Also return the valid and quarantined rows in memory.
    pub collect: bool,
}

/// The report, and the rows in memory when `collect` was asked for.
pub struct Outcome {
    pub report: ValidationReport,
    pub valid: Option<(SchemaRef, Vec<RecordBatch>)>,
    pub quarantine: Option<RecordBatch>,
}

pub const FAILED_CHECKS: &str = "_failed_checks";
pub const SOURCE_ROW: &str = "_source_row";
pub const SOURCE_LINE: &str = "_source_line";
pub const RAW: &str = "_raw";
/// The unparsed record's exact bytes, base64 (`_raw` is text: bytes that are not UTF-8
/// show there as U+FFFD).
pub const RAW_BASE64: &str = "_raw_base64";
pub const ERROR: &str = "_error";
const SAMPLES: usize = 5;

/// The quarantine file's schema: every contract column as text (the value as it was read),
/// then the failed checks, the 0-based record and 1-based line, and for records that could
/// not be parsed the raw text, its exact bytes (base64) and the reason.
pub fn quarantine_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = contract.columns.iter().map(|c| Field::new(&c.name, DataType::Utf8, true)).collect();
    fields.push(Field::new(FAILED_CHECKS, DataType::Utf8, false));
    fields.push(Field::new(SOURCE_ROW, DataType::Int64, false));
    fields.push(Field::new(SOURCE_LINE, DataType::Int64, true));
    fields.push(Field::new(RAW, DataType::Utf8, true));
    fields.push(Field::new(RAW_BASE64, DataType::Utf8, true));
    fields.push(Field::new(ERROR, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

pub fn validate_path(path: &Path, contract: &Contract, opts: &ValidateOptions) -> Result<Outcome, ValidateError> {
    let started = Instant::now();
    contract.check()?;
    let format = FileFormat::from_path(path).ok_or_else(|| {
        ArgumentError::Other(format!("cannot tell the format of {} from its extension (csv, json, parquet)", path.display()))
    })?;
    if !path.is_file() {
        return Err(ValidateError::Unreadable { path: path.to_path_buf(), message: "no such file".into() });
    }
    let input = read_input(path, format, contract)?;
    trace("read", started);
    run(input, contract, opts, &path.to_string_lossy(), Some(format), started)
}

pub fn validate_batches(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    contract: &Contract,
    opts: &ValidateOptions,
    source: &str,
) -> Result<Outcome, ValidateError> {
    let started = Instant::now();
    contract.check()?;
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    let input = read::read_batches(batches, names, contract);
    run(input, contract, opts, source, None, started)
}

fn read_input(path: &Path, format: FileFormat, contract: &Contract) -> Result<Input, ValidateError> {
    match format {
        FileFormat::Csv => read::read_csv(path, contract),
        FileFormat::Json => read::read_json(path, contract),
        FileFormat::Parquet => read::read_parquet(path, contract),
    }
}

enum Kind {
    Parse,
    /// File-level failure decided up front (no header, column order, row count).
    FileLevel(bool),
    /// Every row fails (a missing or extra column).
    AllRows,
    Type(usize),
    NotNull(usize),
    /// The column, and whether keys compare case-insensitively (uuid columns).
    Unique(usize, bool),
    Pattern(usize, Pattern),
    Accepted(usize, HashSet<String>),
    Range(usize, Option<f64>, Option<f64>),
    /// The column, the reference keys, and whether they compare case-insensitively (the
    /// keys are then stored lower-cased).
    ForeignKey(usize, Arc<HashSet<Box<str>>>, bool),
    Freshness(usize, i32, i32),
    Rule(RowRule),
    Skipped,
    /// The check could not run (e.g. its reference data cannot be read): status `error`,
    /// the reason in the message, no rows marked.
    Error,
}

struct Planned {
    check: &'static str,
    column: Option<String>,
    rule: String,
    label: String,
    severity: Severity,
    tolerance: f64,
    kind: Kind,
    message: Option<String>,
    /// The column whose values are sampled.
    sample_column: Option<usize>,
}

impl Planned {
    fn new(check: &'static str, column: Option<&str>, rule: String, severity: Severity, tolerance: f64, kind: Kind) -> Self {
        let label = match column {
            Some(c) => format!("{check}:{c}"),
            None => check.to_string(),
        };
        Planned { check, column: column.map(str::to_string), rule, label, severity, tolerance, kind, message: None, sample_column: None }
    }
}

fn reference_keys(
    reference: &Reference,
    dataset: &str,
    column: &str,
    fold_case: bool,
) -> Result<HashSet<Box<str>>, ValidateError> {
    let text = format!(r#"{{"dataset":{:?},"columns":[{{"name":{:?},"type":"string","required":false}}]}}"#, dataset, column);
    let mini = Contract::from_json(&text)?;
    let input = match reference {
        Reference::Path(p) => {
            let format = FileFormat::from_path(p).ok_or_else(|| {
                ArgumentError::Other(format!("cannot tell the format of reference {} from its extension", p.display()))
            })?;
            read_input(p, format, &mini)?
        }
        Reference::Batches(b) => {
            let names = b.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
            read::read_batches(b, names, &mini)
        }
    };
    // Without the column every row would be an orphan: that is a broken reference, not bad data.
    if input.has_columns && !input.input_columns.iter().any(|n| n == column) {
        let found = input.input_columns.join(", ");
        return Err(ValidateError::Contract(format!("it has no column {column:?} (columns: {found})")));
    }
    let mut keys = HashSet::new();
    for c in &input.chunks {
        if let Some(a) = &c.columns[0] {
            let (s, _) = checks::cast_column(a, ColumnType::String);
            let values = s.as_string::<i32>();
            if fold_case {
                keys.extend(values.iter().flatten().map(|v| Box::from(checks::fold_key(v, true).as_ref())));
            } else {
                keys.extend(values.iter().flatten().map(Box::from));
            }
        }
    }
    Ok(keys)
}

fn plan(contract: &Contract, input: &Input, opts: &ValidateOptions, rows_in: u64) -> Result<Vec<Planned>, ValidateError> {
    let mut plan = Vec::new();
    plan.push(Planned::new("parse", None, String::new(), Severity::Error, 0.0, Kind::Parse));
    let present = |name: &str| input.input_columns.iter().any(|n| n == name);
    if input.missing_header {
        let mut p = Planned::new("schema", None, "header".into(), Severity::Error, 0.0, Kind::FileLevel(true));
        p.message = Some("the file has no header or columns".into());
        plan.push(p);
    }
    let has_columns = input.has_columns;
    // A name the input has twice: only its first column is read, and the file fails.
    let mut distinct: Vec<&str> = Vec::with_capacity(input.input_columns.len());
    for name in &input.input_columns {
        if distinct.contains(&name.as_str()) {
            continue;
        }
        distinct.push(name);
        let at: Vec<String> =
            input.input_columns.iter().enumerate().filter(|(_, n)| *n == name).map(|(i, _)| (i + 1).to_string()).collect();
        if at.len() > 1 {
            let mut p = Planned::new("schema", Some(name), "duplicate".into(), Severity::Error, 0.0, Kind::FileLevel(true));
            p.message = Some(format!("column {name:?} appears {} times (columns {}); only the first is read", at.len(), at.join(", ")));
            plan.push(p);
        }
    }
    for c in &contract.columns {
        if has_columns && !present(&c.name) {
            let sev = if c.required { Severity::Error } else { Severity::Warn };
            let mut p = Planned::new("schema", Some(&c.name), "missing".into(), sev, 0.0, Kind::AllRows);
            p.message = Some(format!("column {:?} is missing", c.name));
            plan.push(p);
        }
    }
    for name in &distinct {
        if contract.column_index(name).is_none() {
            let mut p = Planned::new("schema", Some(name), "extra".into(), contract.extra_columns, 0.0, Kind::AllRows);
            p.message = Some(format!("column {name:?} is not in the contract (dropped from the valid file)"));
            plan.push(p);
        }
    }
    let order: Vec<&str> = distinct.iter().copied().filter(|n| contract.column_index(n).is_some()).collect();
    let expected: Vec<&str> = contract.columns.iter().map(|c| c.name.as_str()).filter(|n| order.contains(n)).collect();
    if input.has_columns && order != expected {
        let mut p = Planned::new("schema", None, "order".into(), Severity::Warn, 0.0, Kind::FileLevel(true));
        p.message = Some(format!("columns are reordered: found {}", order.join(", ")));
        plan.push(p);
    }
    for (i, c) in contract.columns.iter().enumerate() {
        if has_columns && !present(&c.name) {
            continue;
        }
        let col = Some(c.name.as_str());
        let (sev, tol) = (c.severity, c.tolerance);
        let mut add = |check: &'static str, rule: String, kind: Kind| {
            let mut p = Planned::new(check, col, rule, sev, tol, kind);
            p.sample_column = Some(i);
            plan.push(p);
        };
        add("type", c.column_type.name().into(), Kind::Type(i));
        if c.required {
            add("not_null", String::new(), Kind::NotNull(i));
        }
        // RFC 9562: a UUID's hex digits are case-insensitive, so `ABC…` and `abc…` are one key.
        let fold_case = c.pattern.as_deref() == Some("uuid");
        if c.unique {
            add("unique", String::new(), Kind::Unique(i, fold_case));
        }
        if let Some(spec) = &c.pattern {
            let p = Pattern::compile(spec).map_err(ValidateError::Contract)?;
            add("pattern", Pattern::regex_text(spec).to_string(), Kind::Pattern(i, p));
        }
        if let Some(values) = &c.accepted_values {
            let mut sorted = values.clone();
            sorted.sort();
            sorted.dedup();
            let rule = serde_json::to_string(&sorted).unwrap_or_default();
            add("accepted_values", rule, Kind::Accepted(i, values.iter().cloned().collect()));
        }
        if c.min.is_some() || c.max.is_some() {
            let f = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v}"));
            add("range", format!("min={};max={}", f(c.min), f(c.max)), Kind::Range(i, c.min, c.max));
        }
        if let Some(fk) = &c.foreign_key {
            let ref_col = fk.column();
            let rule = format!("{}.{}", fk.dataset, ref_col);
            match opts.references.get(&fk.dataset) {
                Some(r) => match reference_keys(r, &fk.dataset, &ref_col, fold_case) {
                    Ok(keys) => add("foreign_key", rule, Kind::ForeignKey(i, Arc::new(keys), fold_case)),
                    Err(e) => {
                        let mut p = Planned::new("foreign_key", col, rule, sev, tol, Kind::Error);
                        let what = match r {
                            Reference::Path(p) => format!("{:?} reference {}", fk.dataset, p.display()),
                            Reference::Batches(_) => format!("{:?} reference table", fk.dataset),
                        };
                        p.message = Some(format!("cannot use the {what}: {e}"));
                        plan.push(p);
                    }
                },
                None => {
                    let mut p = Planned::new("foreign_key", col, rule, sev, tol, Kind::Skipped);
                    p.message = Some(format!("no reference data for {:?} was given or found", fk.dataset));
                    plan.push(p);
                }
            }
        }
    }
    if let Some(f) = &contract.freshness {
        let i = contract.column_index(&f.column).unwrap_or(0);
        let rule = format!("max_days_late={}", f.max_days_late);
        let column_present = !has_columns || present(&f.column);
        let kind = match opts.ds {
            Some(ds) if column_present => {
                let last = days_since_epoch(ds);
                Kind::Freshness(i, last - f.max_days_late as i32, last)
            }
            _ => Kind::Skipped,
        };
        let skipped = matches!(kind, Kind::Skipped);
        let mut p = Planned::new("freshness", Some(&f.column), rule, f.severity, f.tolerance, kind);
        p.sample_column = Some(i);
        if skipped {
            p.message = Some(if column_present { "no ds given or found in the file name".into() } else { "column missing".into() });
        }
        plan.push(p);
    }
    for r in &contract.rules {
        let rule = RowRule::parse(&r.rule, contract).map_err(ValidateError::Contract)?;
        let mut p = Planned::new("row_rule", Some(&r.name), r.rule.clone(), r.severity, r.tolerance, Kind::Rule(rule));
        p.column = None;
        p.rule = format!("{}: {}", r.name, r.rule);
        plan.push(p);
    }
    if let Some(rc) = &contract.row_count {
        let mut problems = Vec::new();
        if let Some(min) = rc.min {
            if rows_in < min {
                problems.push(format!("{rows_in} rows < min {min}"));
            }
        }
        if let Some(max) = rc.max {
            if rows_in > max {
                problems.push(format!("{rows_in} rows > max {max}"));
            }
        }
        if let (Some(change), Some(prev)) = (rc.max_change, opts.previous_rows) {
            let delta = (rows_in as f64 - prev as f64).abs() / (prev.max(1) as f64);
            if delta > change {
                problems.push(format!("{rows_in} rows vs {prev} the previous day: change {:.1}% > {:.1}%", delta * 100.0, change * 100.0));
            }
        }
        let rule = serde_json::to_string(&serde_json::json!({"min": rc.min, "max": rc.max, "max_change": rc.max_change})).unwrap_or_default();
        let mut p = Planned::new("row_count", None, rule, rc.severity, 0.0, Kind::FileLevel(!problems.is_empty()));
        p.message = (!problems.is_empty()).then(|| problems.join("; "));
        plan.push(p);
    }
    Ok(plan)
}

/// The typed columns of one chunk (contract order) and each column's cast failures.
struct Typed {
    columns: Vec<ArrayRef>,
    type_failed: Vec<Vec<u32>>,
}

fn type_chunk(chunk: &Chunk, contract: &Contract) -> Typed {
    let (columns, type_failed) = contract
        .columns
        .par_iter()
        .zip(chunk.columns.par_iter())
        .map(|(c, input)| match input {
            Some(a) => checks::cast_column(a, c.column_type),
            None => (arrow::array::new_null_array(&c.column_type.data_type(), chunk.rows), Vec::new()),
        })
        .unzip();
    Typed { columns, type_failed }
}

fn run_check(kind: &Kind, chunk: &Chunk, typed: &Typed) -> Vec<u32> {
    match kind {
        Kind::AllRows => (0..chunk.rows as u32).collect(),
        Kind::Type(i) => typed.type_failed[*i].clone(),
        Kind::NotNull(i) => match &chunk.columns[*i] {
            Some(_) => checks::not_null(&typed.columns[*i], &typed.type_failed[*i]),
            // Absent from this part of a JSON file: every row is null.
            None => (0..chunk.rows as u32).collect(),
        },
        Kind::Pattern(i, p) => checks::pattern(&typed.columns[*i], p),
        Kind::Accepted(i, v) => checks::accepted_values(&typed.columns[*i], v),
        Kind::Range(i, lo, hi) => checks::range(&typed.columns[*i], *lo, *hi),
        Kind::ForeignKey(i, keys, fold_case) => checks::foreign_key(&typed.columns[*i], keys, *fold_case),
        Kind::Freshness(i, lo, hi) => checks::freshness(&typed.columns[*i], *lo, *hi),
        Kind::Rule(r) => r.failing_rows(&typed.columns, chunk.rows),
        Kind::Parse | Kind::FileLevel(_) | Kind::Unique(..) | Kind::Skipped | Kind::Error => Vec::new(),
    }
}

/// Text of the input value of a column at some rows (for samples and the quarantine).
fn as_text(input: Option<&ArrayRef>, rows: &[u32], len: usize) -> StringArray {
    let Some(a) = input else {
        return StringArray::new_null(rows.len());
    };
    let idx = UInt32Array::from(rows.to_vec());
    let picked = if rows.len() == len { a.clone() } else { take(a.as_ref(), &idx, None).unwrap_or_else(|_| a.slice(0, 0)) };
    match cast(&picked, &DataType::Utf8) {
        Ok(s) if s.len() == rows.len() => s.as_string::<i32>().clone(),
        _ => StringArray::new_null(rows.len()),
    }
}

fn run(
    input: Input,
    contract: &Contract,
    opts: &ValidateOptions,
    source: &str,
    format: Option<FileFormat>,
    started: Instant,
) -> Result<Outcome, ValidateError> {
    // Outputs are checked before any work: a bad path must not cost a whole validation.
    let outputs = Outputs::plan(opts, format.map(|_| Path::new(source)), format)?;
    let rows_in = input.rows();
    let plan = plan(contract, &input, opts, rows_in)?;
    let chunks = &input.chunks;

    let typed: Vec<Typed> = chunks.par_iter().map(|c| type_chunk(c, contract)).collect();
    trace("cast", started);

    // failures[check][chunk] = failing row offsets.
    let mut failures: Vec<Vec<Vec<u32>>> = plan
        .par_iter()
        .map(|p| match &p.kind {
            Kind::Unique(i, fold_case) => {
                let cols: Vec<Vec<ArrayRef>> = typed.iter().map(|t| t.columns.clone()).collect();
                checks::unique(chunks, &cols, *i, *fold_case)
            }
            kind => chunks.par_iter().zip(typed.par_iter()).map(|(c, t)| run_check(kind, c, t)).collect(),
        })
        .collect();
    for f in failures.iter_mut() {
        f.resize(chunks.len(), Vec::new());
    }

    // A row is invalid when it fails any check of severity error.
    let error_checks: Vec<usize> =
        (0..plan.len()).filter(|&k| plan[k].severity == Severity::Error && !matches!(plan[k].kind, Kind::FileLevel(_))).collect();
    trace("checks", started);
    let per_chunk: Vec<(Vec<u32>, Vec<String>)> = (0..chunks.len())
        .into_par_iter()
        .map(|ci| {
            let mut invalid: Vec<u32> = error_checks.iter().flat_map(|&k| failures[k][ci].iter().copied()).collect();
            invalid.sort_unstable();
            invalid.dedup();
            let mut labels: Vec<String> = vec![String::new(); invalid.len()];
            for (k, p) in plan.iter().enumerate() {
                for r in &failures[k][ci] {
                    if let Ok(pos) = invalid.binary_search(r) {
                        let l = &mut labels[pos];
                        if !l.is_empty() {
                            l.push(';');
                        }
                        l.push_str(&p.label);
                    }
                }
            }
            (invalid, labels)
        })
        .collect();

    // The valid rows, chunk by chunk, in the contract's schema and order: each chunk's
    // typed columns and its invalid rows; the writers drop those while encoding.
    let schema = contract.schema();
    let typed_batches: Vec<RecordBatch> = typed
        .into_iter()
        .map(|t| {
            RecordBatch::try_new(schema.clone(), t.columns)
                .map_err(|e| ValidateError::Internal(format!("cannot assemble the valid rows: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let parts: Vec<write::Part> =
        typed_batches.iter().zip(&per_chunk).map(|(batch, (invalid, _))| write::Part { batch, drop: invalid }).collect();

    trace("split", started);
    let quarantine = build_quarantine(contract, chunks, &per_chunk, &input.unparsed)?;
    trace("quarantine", started);
    let rows_invalid = quarantine.num_rows() as u64;
    let rows_valid: u64 = parts.iter().map(|p| p.rows() as u64).sum();
    if rows_valid + rows_invalid != rows_in {
        return Err(ValidateError::Internal(format!(
            "{source}: {rows_in} rows in but {rows_valid} valid + {rows_invalid} invalid"
        )));
    }

    // Outputs. A file without rows is written only when a reader can open it (a CSV
    // header, a Parquet schema): an empty quarantine is never written, nor an empty JSON
    // Lines file (zero bytes, which pyarrow and polars refuse); `notes` says so.
    let mut notes = Vec::new();
    let mut written = [None, None];
    for (slot, (target, rows, what)) in
        [(&outputs.valid, rows_valid, "valid"), (&outputs.quarantine, rows_invalid, "quarantine")].into_iter().enumerate()
    {
        let Some((path, out_format)) = target else { continue };
        let why_not = if rows > 0 {
            None
        } else if what == "quarantine" {
            Some("no invalid rows")
        } else if *out_format == FileFormat::Json {
            Some("no valid rows, and an empty JSON Lines file cannot be read back")
        } else {
            None
        };
        if let Some(why) = why_not {
            remove_stale_output(path)?;
            notes.push(format!("no {what} file written to {}: {why}", path.display()));
            continue;
        }
        if what == "valid" {
            if let Some(text) = copy::copyable(&input, format, *out_format, contract) {
                copy::write_valid_lines(text, path, *out_format, schema.clone(), chunks, &parts, contract)?;
            } else if let Some(parquet) = parquet_copy::copyable(&input, format, *out_format) {
                parquet_copy::write_valid_row_groups(parquet, path, schema.clone(), chunks, &parts)?;
            } else {
                write_output(path, *out_format, schema.clone(), &parts)?;
            }
        } else {
            write_output(path, *out_format, quarantine.schema(), &[write::Part { batch: &quarantine, drop: &[] }])?;
        }
        written[slot] = Some(path.to_string_lossy().into_owned());
    }
    let [valid_path, quarantine_path] = written;

    trace("write", started);
    let valid = if opts.collect {
        let batches = parts.iter().map(valid_rows).collect::<Result<Vec<_>, _>>()?;
        Some((schema, batches))
    } else {
        None
    };
    drop(parts);
    // The report.
    let mut results = Vec::with_capacity(plan.len());
    for (k, p) in plan.iter().enumerate() {
        let (rows_failed, file_failed) = match &p.kind {
            Kind::Parse => (input.unparsed.len() as u64, false),
            Kind::FileLevel(failed) => (0, *failed),
            // A missing or extra column is a fact about the file: it fails (or warns) even
            // when the file has no rows.
            Kind::AllRows => (failures[k].iter().map(|f| f.len() as u64).sum(), true),
            _ => (failures[k].iter().map(|f| f.len() as u64).sum(), false),
        };
        let samples: Vec<Option<String>> = match &p.kind {
            Kind::Parse => input
                .unparsed
                .iter()
                .take(SAMPLES)
                .map(|u| Some(format!("line {}: {}", u.line.unwrap_or(u.record + 1), u.reason)))
                .collect(),
            Kind::Rule(_) => failures[k]
                .iter()
                .zip(chunks)
                .flat_map(|(f, c)| f.iter().map(move |&r| Some(format!("row {}", c.record(r as usize)))))
                .take(SAMPLES)
                .collect(),
            _ => match p.sample_column {
                Some(col) => {
                    let mut out = Vec::new();
                    for (f, c) in failures[k].iter().zip(chunks) {
                        if out.len() >= SAMPLES {
                            break;
                        }
                        let rows: Vec<u32> = f.iter().take(SAMPLES - out.len()).copied().collect();
                        if rows.is_empty() {
                            continue;
                        }
                        let text = as_text(c.columns[col].as_ref(), &rows, usize::MAX);
                        // Samples leave the file (report, metadata, alerts, XCom): personal
                        // data is masked here, once, so nothing downstream sees it.
                        let pii = contract.columns.get(col).is_some_and(|c| c.pii);
                        out.extend(text.iter().map(|v| v.map(|v| if pii { report::mask_sample(v) } else { v.to_string() })));
                    }
                    out
                }
                None => Vec::new(),
            },
        };
        let fraction = if rows_in == 0 { 0.0 } else { rows_failed as f64 / rows_in as f64 };
        let status = if matches!(p.kind, Kind::Skipped) {
            "skipped"
        } else if matches!(p.kind, Kind::Error) {
            "error"
        } else if rows_failed == 0 && !file_failed {
            "passed"
        } else if p.severity == Severity::Warn {
            "warn"
        } else if !file_failed && fraction <= p.tolerance {
            "tolerated"
        } else {
            "failed"
        };
        results.push(CheckResult {
            check: p.check.to_string(),
            column: p.column.clone(),
            rule: p.rule.clone(),
            label: p.label.clone(),
            severity: p.severity.name().to_string(),
            tolerance: p.tolerance,
            status: status.to_string(),
            rows_failed,
            failed_fraction: fraction,
            file_level: matches!(p.kind, Kind::FileLevel(_) | Kind::AllRows),
            samples,
            signature: report::signature(&contract.dataset, p.check, p.column.as_deref().or(match &p.kind {
                Kind::Rule(_) => Some(p.label.as_str()),
                _ => None,
            }), &p.rule),
            message: p.message.clone(),
        });
    }
    // `error` first: a check that could not run leaves the file unjudged, whatever the others found.
    let status = if results.iter().any(|c| c.status == "error") {
        "error"
    } else if results.iter().any(|c| c.status == "failed") {
        "failed"
    } else if results.iter().any(|c| c.is_failure()) {
        "warn"
    } else {
        "passed"
    };
    let report = ValidationReport {
        dataset: contract.dataset.clone(),
        ds: opts.ds.map(|d| d.format("%Y-%m-%d").to_string()),
        source: source.to_string(),
        format: format.map(|f| f.to_string()),
        contract_version: contract.version,
        rows_in,
        rows_valid,
        rows_invalid,
        status: status.to_string(),
        checks: results,
        valid_path,
        quarantine_path,
        notes,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Outcome {
        report,
        valid,
        quarantine: opts.collect.then_some(quarantine),
    })
}

/// Phase timings on stderr when `settings::TRACE` is set (for profiling the benchmark).
fn trace(phase: &str, started: Instant) {
    if crate::settings::get(crate::settings::TRACE).is_some() {
        eprintln!("marketing_core validate: {phase:<10} done at {:.3}s", started.elapsed().as_secs_f64());
    }
}

/// A part's rows without its dropped rows.
fn valid_rows(p: &write::Part) -> Result<RecordBatch, ValidateError> {
    if p.drop.is_empty() {
        return Ok(p.batch.clone());
    }
    let mut keep = vec![true; p.batch.num_rows()];
    for &r in p.drop {
        keep[r as usize] = false;
    }
    filter_record_batch(p.batch, &BooleanArray::from(keep))
        .map_err(|e| ValidateError::Internal(format!("cannot filter the valid rows: {e}")))
}

/// The output files of one run, each with the format it is written in.
struct Outputs {
    valid: Option<(PathBuf, FileFormat)>,
    quarantine: Option<(PathBuf, FileFormat)>,
}

impl Outputs {
    /// Each output's format comes from its extension (`output_format`, when given, must
    /// agree); no output may be the input or the other output, compared as resolved paths
    /// (`./a.csv`, `a.csv` and a symlink to it are one file).
    fn plan(opts: &ValidateOptions, input: Option<&Path>, input_format: Option<FileFormat>) -> Result<Outputs, ValidateError> {
        let format_of = |path: &Path, name: &str| -> Result<FileFormat, ValidateError> {
            match (FileFormat::from_path(path), opts.output_format) {
                (Some(by_extension), Some(asked)) if by_extension != asked => Err(ArgumentError::Other(format!(
                    "output_format={asked} contradicts {name}={}, whose extension says {by_extension}",
                    path.display()
                ))
                .into()),
                (Some(by_extension), _) => Ok(by_extension),
                (None, Some(asked)) => Ok(asked),
                (None, None) => Err(ArgumentError::Other(format!(
                    "cannot tell the format of {name}={} from its extension (csv, json, parquet); \
                     name it so or pass output_format (the input is {})",
                    path.display(),
                    input_format.map_or("an in-memory table".to_string(), |f| f.to_string())
                ))
                .into()),
            }
        };
        let valid = opts.valid_out.as_ref().map(|p| format_of(p, "valid_out").map(|f| (p.clone(), f))).transpose()?;
        let quarantine =
            opts.quarantine_out.as_ref().map(|p| format_of(p, "quarantine_out").map(|f| (p.clone(), f))).transpose()?;
        let mut named: Vec<(&str, &Path)> = Vec::new();
        if let Some(p) = input {
            named.push(("the input", p));
        }
        if let Some((p, _)) = &valid {
            named.push(("valid_out", p));
        }
        if let Some((p, _)) = &quarantine {
            named.push(("quarantine_out", p));
        }
        for (i, (first_name, first)) in named.iter().enumerate() {
            for (second_name, second) in &named[i + 1..] {
                if resolved(first) == resolved(second) {
                    return Err(ArgumentError::Other(format!(
                        "{second_name} {} is the same file as {first_name} {}: writing it would overwrite data",
                        second.display(),
                        first.display()
                    ))
                    .into());
                }
            }
        }
        Ok(Outputs { valid, quarantine })
    }
}

/// A path as the file system resolves it, also for a file that does not exist yet (its
/// directory resolved, then its name).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir.canonicalize().map(|d| d.join(name)).unwrap_or(absolute),
        _ => absolute,
    }
}

/// An output this run does not write must not keep an earlier run's rows there (they
/// would be uploaded as this run's).
fn remove_stale_output(path: &Path) -> Result<(), ValidateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(IoError::Write { path: path.to_path_buf(), source: e }.into())
        }
        _ => Ok(()),
    }
}

fn write_output(path: &Path, format: FileFormat, schema: SchemaRef, parts: &[write::Part]) -> Result<(), ValidateError> {
    if format == FileFormat::Parquet {
        return write::write_parquet_parts(path, schema, parts, None).map(|_| ()).map_err(ValidateError::from);
    }
    let mut sink = FileSink::create(path, format, schema.clone())?;
    if parts.iter().all(|p| p.rows() == 0) {
        // A header-only CSV (an empty JSON Lines file) for an empty result.
        sink.write_batch(&RecordBatch::new_empty(schema))?;
    }
    for p in parts.iter().filter(|p| p.rows() > 0) {
        sink.write_batch(&valid_rows(p)?)?;
    }
    sink.commit().map(|_| ()).map_err(ValidateError::from)
}

struct QuarantineBuilder {
    values: Vec<StringBuilder>,
    failed: StringBuilder,
    rows: Int64Builder,
    lines: Int64Builder,
    raw: StringBuilder,
    raw_base64: StringBuilder,
    error: StringBuilder,
}

impl QuarantineBuilder {
    fn push_unparsed(&mut self, u: &Unparsed) {
        for v in self.values.iter_mut() {
            v.append_null();
        }
        self.failed.append_value("parse");
        self.rows.append_value(u.record as i64);
        self.lines.append_option(u.line.map(|l| l as i64));
        self.raw.append_value(String::from_utf8_lossy(&u.raw));
        self.raw_base64.append_value(base64::engine::general_purpose::STANDARD.encode(&u.raw));
        self.error.append_value(&u.reason);
    }
}

fn build_quarantine(
    contract: &Contract,
    chunks: &[Chunk],
    per_chunk: &[(Vec<u32>, Vec<String>)],
    unparsed: &[Unparsed],
) -> Result<RecordBatch, ValidateError> {
    let schema = quarantine_schema(contract);
    let ncols = contract.columns.len();
    let total: usize = per_chunk.iter().map(|(i, _)| i.len()).sum::<usize>() + unparsed.len();
    let mut q = QuarantineBuilder {
        values: (0..ncols).map(|_| StringBuilder::with_capacity(total, total * 16)).collect(),
        failed: StringBuilder::with_capacity(total, total * 16),
        rows: Int64Builder::with_capacity(total),
        lines: Int64Builder::with_capacity(total),
        raw: StringBuilder::with_capacity(total, 0),
        raw_base64: StringBuilder::with_capacity(total, 0),
        error: StringBuilder::with_capacity(total, 0),
    };
    // Merge the unparsed records in, in record order.
    let mut pending = unparsed.iter().peekable();
    for (c, (invalid, labels)) in chunks.iter().zip(per_chunk) {
        if invalid.is_empty() {
            continue;
        }
        let texts: Vec<StringArray> = (0..ncols).map(|i| as_text(c.columns[i].as_ref(), invalid, c.rows)).collect();
        for (j, &r) in invalid.iter().enumerate() {
            let record = c.record(r as usize);
            while let Some(u) = pending.next_if(|u| u.record < record) {
                q.push_unparsed(u);
            }
            for (i, v) in q.values.iter_mut().enumerate() {
                v.append_option(texts[i].is_valid(j).then(|| texts[i].value(j)));
            }
            q.failed.append_value(&labels[j]);
            q.rows.append_value(record as i64);
            q.lines.append_option(c.line(r as usize).map(|l| l as i64));
            q.raw.append_null();
            q.raw_base64.append_null();
            q.error.append_null();
        }
    }
    for u in pending {
        q.push_unparsed(u);
    }
    let mut columns: Vec<ArrayRef> = q.values.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.push(Arc::new(q.failed.finish()));
    columns.push(Arc::new(q.rows.finish()));
    columns.push(Arc::new(q.lines.finish()));
    columns.push(Arc::new(q.raw.finish()));
    columns.push(Arc::new(q.raw_base64.finish()));
    columns.push(Arc::new(q.error.finish()));
    RecordBatch::try_new(schema, columns).map_err(|e| ValidateError::Internal(format!("cannot assemble the quarantine: {e}")))
}

#[cfg(test)]
mod tests;
