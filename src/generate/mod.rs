//! The synthetic data generator: six datasets for one day, deterministic for a seed,
//! streamed in fixed-size chunks that build in parallel and are written in order.

pub mod defects;
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

fn chunk_ranges(rows: usize) -> Vec<Range<usize>> {
    (0..rows).step_by(CHUNK_ROWS).map(|s| s..(s + CHUNK_ROWS).min(rows)).collect()
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

/// One dataset for one day, in memory (built in parallel).
pub fn generate_batches(
    dataset: Dataset,
    params: &DayParams,
) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<DefectRecord>), GenerateError> {
    let builder = TableBuilder::new(dataset, params);
    let parts: Vec<_> = chunk_ranges(builder.rows())
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
/// returning false cancels.
pub fn write_dataset(
    dataset: Dataset,
    params: &DayParams,
    out_dir: &Path,
    format: Option<FileFormat>,
    force: bool,
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

    io::ensure_dir(out_dir)?;
    if !force {
        if let Some(found) = existing_record(out_dir, &path, &file_name) {
            let same = expected(found.rows, found.bytes, found.defect_counts.clone());
            if found == same && (!wants_manifest || manifest_path.exists()) {
                progress(found.rows, found.rows);
                return Ok(summary(found.rows, found.bytes, true, found.defect_counts));
            }
        }
    }

    let builder = TableBuilder::new(dataset, params);
    let total = builder.rows() as u64;
    let ranges = chunk_ranges(builder.rows());
    let window = (rayon::current_num_threads() * 2).max(2);
    let mut sink = FileSink::create(&path, format, dataset.schema())?;
    let mut all_defects = Vec::new();
    let mut done = 0u64;
    for group in ranges.chunks(window) {
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
