//! The synthetic data generator: six datasets for one day, deterministic for a seed,
//! streamed in fixed-size chunks that build in parallel and are written in order.

pub mod defects;
pub mod limits;
pub mod random;
pub mod tables;
pub mod vocab;

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use defects::{DefectKind, DefectRates, DefectRecord};
pub use limits::Limit;
pub use tables::DayParams;

use crate::datasets::{ArgumentError, Dataset, FileFormat};
use crate::io::{self, FileSink, IoError};
use tables::TableBuilder;

/// Rows per chunk. Fixed (not derived from the thread count) so that the files are
/// byte-identical whatever the parallelism.
pub const CHUNK_ROWS: usize = 65_536;

/// Hidden folder beside the data for generation records and truth manifests; `upload`
/// skips dot-folders.
pub const RECORDS_DIR: &str = ".marketing_core";

#[derive(Debug, Error)]
pub enum GenerateError {
    #[error(transparent)]
    Argument(#[from] ArgumentError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("generating {dataset} was cancelled")]
    Cancelled { dataset: Dataset },
    #[error("could not assemble {dataset} rows {start}..{end}: {message}")]
    Assemble { dataset: Dataset, start: usize, end: usize, message: String },
    /// Refused before anything was allocated or written.
    #[error(
        "{what} at scale_factor {scale_factor} ({rows} rows) would take about {estimate}, \
         more than {limit}; set max_bytes= (--max-bytes, ${env}) to change the limit",
        env = limits::MAX_BYTES_ENV
    )]
    TooLarge { what: String, scale_factor: f64, rows: u64, estimate: limits::Bytes, limit: Limit },
}

/// What `write_dataset` did.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateSummary {
    pub dataset: Dataset,
    pub ds: String,
    pub path: PathBuf,
    pub format: FileFormat,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub skipped: bool,
    pub defects_path: Option<PathBuf>,
    pub defect_counts: BTreeMap<DefectKind, u64>,
}

/// The record kept beside a generated file: the parameters it was made with, so a rerun
/// with the same parameters is a no-op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct GenerationRecord {
    generator_version: String,
    dataset: Dataset,
    ds: String,
    seed: u64,
    scale_factor: f64,
    format: FileFormat,
    defects: DefectRates,
    rows: u64,
    bytes: u64,
    defect_counts: BTreeMap<DefectKind, u64>,
}

/// The truth manifest: which rows got which injected defect.
#[derive(Serialize)]
struct DefectManifest<'a> {
    dataset: Dataset,
    ds: String,
    seed: u64,
    scale_factor: f64,
    file: String,
    rows: u64,
    rates: &'a DefectRates,
    counts: &'a BTreeMap<DefectKind, u64>,
    defects: &'a [DefectRecord],
}

/// The chunks of `rows` (which starts at a multiple of `CHUNK_ROWS`).
fn chunk_ranges(rows: Range<usize>) -> Vec<Range<usize>> {
    let end = rows.end;
    rows.step_by(CHUNK_ROWS).map(|s| s..s.saturating_add(CHUNK_ROWS).min(end)).collect()
}

/// Refuses files of `items` under `out_dir` whose estimated size exceeds the limit (see
/// `limits`). Allocates and writes nothing; `generate_day` checks a whole day at once.
pub fn check_file_output(
    items: &[(Dataset, Option<FileFormat>)],
    params: &DayParams,
    out_dir: &Path,
    max_bytes: Option<u64>,
) -> Result<(), GenerateError> {
    let Some(limit) = limits::disk_limit(out_dir, max_bytes)? else {
        return Ok(());
    };
    let estimate = items.iter().fold(0u64, |sum, (dataset, format)| {
        let format = format.unwrap_or_else(|| dataset.default_format());
        sum.saturating_add(limits::file_estimate(*dataset, format, params.scale_factor, &params.defects))
    });
    if estimate <= limit.bytes {
        return Ok(());
    }
    let rows = items.iter().fold(0u64, |sum, (d, _)| sum.saturating_add(d.rows(params.scale_factor) as u64));
    let what = match items {
        [(dataset, format)] => {
            let format = format.unwrap_or_else(|| dataset.default_format());
            format!("writing {}", dataset.file_name(params.ds, format))
        }
        _ => {
            let names: Vec<_> = items.iter().map(|(d, _)| d.name()).collect();
            format!("writing {}", names.join(", "))
        }
    };
    Err(GenerateError::TooLarge { what, scale_factor: params.scale_factor, rows, estimate: limits::Bytes(estimate), limit })
}

/// `check_file_output` for a day of several datasets, before the first is written. Files
/// already present are left out: a rerun skips them, and one that is replaced is checked
/// again by `write_dataset`.
pub fn check_day_output(
    items: &[(Dataset, Option<FileFormat>)],
    params: &DayParams,
    out_dir: &Path,
    max_bytes: Option<u64>,
) -> Result<(), GenerateError> {
    let missing: Vec<_> = items
        .iter()
        .copied()
        .filter(|(d, f)| !out_dir.join(d.file_name(params.ds, f.unwrap_or_else(|| d.default_format()))).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    check_file_output(&missing, params, out_dir, max_bytes)
}

/// Refuses an in-memory table whose estimated size exceeds the memory bound.
pub fn check_memory_output(dataset: Dataset, params: &DayParams, max_bytes: Option<u64>) -> Result<(), GenerateError> {
    let limit = limits::memory_limit(max_bytes)?;
    let estimate = limits::memory_estimate(dataset, params.scale_factor, &params.defects);
    if estimate <= limit.bytes {
        return Ok(());
    }
    Err(GenerateError::TooLarge {
        what: format!("building {dataset} in memory"),
        scale_factor: params.scale_factor,
        rows: dataset.rows(params.scale_factor) as u64,
        estimate: limits::Bytes(estimate),
        limit,
    })
}

fn assemble(builder: &TableBuilder, range: Range<usize>) -> Result<(RecordBatch, Vec<DefectRecord>), GenerateError> {
    let (columns, defects) = builder.build(range.clone());
    let batch = RecordBatch::try_new(builder.dataset.schema(), columns).map_err(|e| {
        GenerateError::Assemble {
            dataset: builder.dataset,
            start: range.start,
            end: range.end,
            message: e.to_string(),
        }
    })?;
    Ok((batch, defects))
}

/// One dataset for one day, in memory (built in parallel). Callers taking sizes from a
/// user check `check_memory_output` first.
pub fn generate_batches(
    dataset: Dataset,
    params: &DayParams,
) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<DefectRecord>), GenerateError> {
    let builder = TableBuilder::new(dataset, params);
    let parts: Vec<_> = chunk_ranges(0..builder.rows())
        .into_par_iter()
        .map(|range| assemble(&builder, range))
        .collect::<Result<_, _>>()?;
    let mut batches = Vec::with_capacity(parts.len());
    let mut defects = Vec::new();
    for (batch, d) in parts {
        batches.push(batch);
        defects.extend(d);
    }
    Ok((dataset.schema(), batches, defects))
}

fn record_path(out_dir: &Path, file_name: &str) -> PathBuf {
    out_dir.join(RECORDS_DIR).join(format!("{file_name}.json"))
}

/// Where the truth manifest of a generated file is written.
pub fn defects_path(out_dir: &Path, file_name: &str) -> PathBuf {
    out_dir.join(RECORDS_DIR).join(format!("{file_name}.defects.json"))
}

fn existing_record(out_dir: &Path, path: &Path, file_name: &str) -> Option<GenerationRecord> {
    let text = fs::read(record_path(out_dir, file_name)).ok()?;
    let record: GenerationRecord = serde_json::from_slice(&text).ok()?;
    let size = fs::metadata(path).ok()?.len();
    (size == record.bytes).then_some(record)
}

/// Writes one dataset for one day to `out_dir`, or skips it when a file made with the
/// same parameters is already there (unless `force`). `progress(rows_done, rows_total)`
/// returning false cancels. Refused when larger than the default limit (`limits`).
pub fn write_dataset(
    dataset: Dataset,
    params: &DayParams,
    out_dir: &Path,
    format: Option<FileFormat>,
    force: bool,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<GenerateSummary, GenerateError> {
    write_dataset_within(dataset, params, out_dir, format, force, None, progress)
}

/// `write_dataset` with an explicit size limit (`max_bytes`, None for the default).
pub fn write_dataset_within(
    dataset: Dataset,
    params: &DayParams,
    out_dir: &Path,
    format: Option<FileFormat>,
    force: bool,
    max_bytes: Option<u64>,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<GenerateSummary, GenerateError> {
    let started = Instant::now();
    let format = format.unwrap_or_else(|| dataset.default_format());
    let file_name = dataset.file_name(params.ds, format);
    let path = out_dir.join(&file_name);
    let ds = params.ds.format("%Y-%m-%d").to_string();
    let manifest_path = defects_path(out_dir, &file_name);
    let wants_manifest = params.defects.any_for(dataset);
    let applicable_rates = DefectRates(
        params.defects.0.iter().filter(|(k, _)| k.applies_to(dataset)).map(|(k, v)| (*k, *v)).collect(),
    );
    let expected = |rows: u64, bytes: u64, defect_counts: BTreeMap<DefectKind, u64>| GenerationRecord {
        generator_version: env!("CARGO_PKG_VERSION").to_string(),
        dataset,
        ds: ds.clone(),
        seed: params.seed,
        scale_factor: params.scale_factor,
        format,
        defects: applicable_rates.clone(),
        rows,
        bytes,
        defect_counts,
    };
    let summary = |rows, bytes, skipped, defect_counts| GenerateSummary {
        dataset,
        ds: ds.clone(),
        path: path.clone(),
        format,
        rows,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        skipped,
        defects_path: wants_manifest.then(|| manifest_path.clone()),
        defect_counts,
    };

    if !force {
        if let Some(found) = existing_record(out_dir, &path, &file_name) {
            let same = expected(found.rows, found.bytes, found.defect_counts.clone());
            if found == same && (!wants_manifest || manifest_path.exists()) {
                progress(found.rows, found.rows);
                return Ok(summary(found.rows, found.bytes, true, found.defect_counts));
            }
        }
    }
    check_file_output(&[(dataset, Some(format))], params, out_dir, max_bytes)?;
    io::ensure_dir(out_dir)?;

    let builder = TableBuilder::new(dataset, params);
    let total = builder.rows() as u64;
    let window = (rayon::current_num_threads() * 2).max(2);
    // Chunk ranges per window, never for the whole table (at a huge scale that list
    // alone would not fit in memory).
    let window_rows = CHUNK_ROWS * window;
    let mut sink = FileSink::create(&path, format, dataset.schema())?;
    let mut all_defects = Vec::new();
    let mut done = 0u64;
    for window_start in (0..builder.rows()).step_by(window_rows) {
        let group = chunk_ranges(window_start..window_start.saturating_add(window_rows).min(builder.rows()));
        let parts: Vec<_> = group
            .par_iter()
            .map(|range| {
                let (batch, defects) = assemble(&builder, range.clone())?;
                let encoded = match format {
                    FileFormat::Parquet => None,
                    _ => Some(io::encode_text(format, &batch, range.start == 0, &path)?),
                };
                Ok::<_, GenerateError>((batch, encoded, defects))
            })
            .collect::<Result<_, _>>()?;
        for (batch, encoded, defects) in parts {
            match encoded {
                Some(bytes) => sink.write_bytes(&bytes)?,
                None => sink.write_batch(&batch)?,
            }
            done += batch.num_rows() as u64;
            all_defects.extend(defects);
            if !progress(done, total) {
                return Err(GenerateError::Cancelled { dataset });
            }
        }
    }
    let bytes = sink.commit()?;

    let mut counts: BTreeMap<DefectKind, u64> = BTreeMap::new();
    for d in &all_defects {
        *counts.entry(d.kind).or_default() += 1;
    }
    if wants_manifest {
        let manifest = DefectManifest {
            dataset,
            ds: ds.clone(),
            seed: params.seed,
            scale_factor: params.scale_factor,
            file: file_name.clone(),
            rows: total,
            rates: &applicable_rates,
            counts: &counts,
            defects: &all_defects,
        };
        io::write_atomic(&manifest_path, &to_json(&manifest))?;
    } else if manifest_path.exists() {
        let _ = fs::remove_file(&manifest_path);
    }
    let record = expected(total, bytes, counts.clone());
    io::write_atomic(&record_path(out_dir, &file_name), &to_json(&record))?;
    Ok(summary(total, bytes, false, counts))
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests;
