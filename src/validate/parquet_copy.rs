//! The valid file of a Parquet input written as Parquet: a row group without a quarantined
//! row is copied as its encoded column chunks; only a row group holding a bad row is
//! re-encoded (its valid rows, packed with the neighbouring re-encoded ones). A copy is made
//! only when the input's Parquet columns are exactly the ones the contract's schema writes
//! (names, order, types, nullability); otherwise every row group is encoded anew.

use std::fs::File;
use std::path::Path;

use arrow::datatypes::SchemaRef;
use parquet::file::metadata::ParquetMetaDataReader;

use super::read::{Chunk, Input, SourceFile};
use super::write::{self, CopyFrom, Part};
use super::ValidateError;
use crate::datasets::FileFormat;

/// The input to copy row groups from, when the output can hold such copies.
pub fn copyable(input: &Input, input_format: Option<FileFormat>, output_format: FileFormat) -> Option<&SourceFile> {
    (input_format == Some(FileFormat::Parquet) && output_format == FileFormat::Parquet)
        .then_some(input.source.as_ref())
        .flatten()
}

/// Writes the valid rows of `parts` (one per chunk; a chunk lies in one input row group).
pub fn write_valid_row_groups(
    source: &SourceFile,
    path: &Path,
    schema: SchemaRef,
    chunks: &[Chunk],
    parts: &[Part],
) -> Result<(), ValidateError> {
    let unreadable = |e: String| ValidateError::Unreadable { path: source.path.clone(), message: e };
    let file = File::open(&source.path).map_err(|e| unreadable(e.to_string()))?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| unreadable(format!("cannot read the footer again to copy its row groups: {e}")))?;
    let changed = || ValidateError::Unreadable {
        path: source.path.clone(),
        message: "the file changed while it was being validated; no valid file was written".into(),
    };
    if !source.unchanged() {
        return Err(changed());
    }
    // The first record of each row group, and which row groups hold a quarantined row.
    let mut starts = Vec::with_capacity(metadata.num_row_groups());
    let mut next = 0u64;
    for g in metadata.row_groups() {
        starts.push(next);
        next += g.num_rows() as u64;
    }
    let group_of = |c: &Chunk| starts.partition_point(|&s| s <= c.first_record).saturating_sub(1);
    let mut dirty = vec![false; starts.len()];
    for (c, p) in chunks.iter().zip(parts) {
        if !p.drop.is_empty() {
            dirty[group_of(c)] = true;
        }
    }
    let part_row_groups = chunks.iter().map(|c| Some(group_of(c)).filter(|&g| !dirty[g])).collect();
    let copy = CopyFrom { file: &file, metadata: &metadata, part_row_groups };
    write::write_parquet_parts(path, schema, parts, Some(&copy))?;
    // The row groups copied must be the ones judged.
    if !source.unchanged() {
        let _ = std::fs::remove_file(path);
        return Err(changed());
    }
    Ok(())
}
