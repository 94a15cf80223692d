//! Parquet output encoded in parallel: every (row group, column) pair of a window of row
//! groups is encoded on its own rayon task, then appended in order. Same properties as
//! `io::FileSink` (Snappy, 262,144-row groups), same atomic rename.

use std::fs::{self, File};
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::datasets::FileFormat;
use crate::io::{ensure_dir, IoError, PARQUET_ROW_GROUP_ROWS};

fn encode_err(path: &Path, e: impl ToString) -> IoError {
    IoError::Encode { path: path.to_path_buf(), format: FileFormat::Parquet, message: e.to_string() }
}

/// Row groups of at most PARQUET_ROW_GROUP_ROWS rows, as slices of the batches.
fn row_groups(batches: &[RecordBatch]) -> Vec<Vec<RecordBatch>> {
    let mut groups = Vec::new();
    let mut current: Vec<RecordBatch> = Vec::new();
    let mut rows = 0;
    for b in batches {
        let mut offset = 0;
        while offset < b.num_rows() {
            let take = (b.num_rows() - offset).min(PARQUET_ROW_GROUP_ROWS - rows);
            current.push(b.slice(offset, take));
            rows += take;
            offset += take;
            if rows == PARQUET_ROW_GROUP_ROWS {
                groups.push(std::mem::take(&mut current));
                rows = 0;
            }
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// More than half of the first 4,096 values distinct (strings only; numbers are cheap).
fn mostly_distinct(column: &ArrayRef) -> bool {
    if column.data_type() != &DataType::Utf8 {
        return false;
    }
    let s = column.as_string::<i32>();
    let n = s.len().min(4096);
    let distinct: hashbrown::HashSet<&str> = (0..n).filter(|&i| s.is_valid(i)).map(|i| s.value(i)).collect();
    distinct.len() * 2 > n
}

pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<u64, IoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_to(&tmp, path, schema, batches).and_then(|()| {
        fs::rename(&tmp, path).map_err(|source| IoError::Write { path: path.to_path_buf(), source })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    Ok(fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

fn write_to(tmp: &Path, path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<(), IoError> {
    let file = File::create(tmp).map_err(|source| IoError::Write { path: path.to_path_buf(), source })?;
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk);
    // Dictionary encoding pays for columns with few distinct values (industry, country)
    // and only costs for near-unique ones (ids, emails): decide per column from a sample.
    if let Some(first) = batches.iter().find(|b| b.num_rows() > 0) {
        for (i, field) in schema.fields().iter().enumerate() {
            if mostly_distinct(first.column(i)) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
            }
        }
    }
    let props = props.build();
    // ArrowWriter sets up the Parquet schema and the embedded Arrow schema; the row groups
    // are then encoded by hand, in parallel.
    let (mut writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .and_then(|w| w.into_serialized_writer())
        .map_err(|e| encode_err(path, e))?;
    let groups = row_groups(batches);
    let window = rayon::current_num_threads().max(1) * 2;
    for (w, window_groups) in groups.chunks(window).enumerate() {
        let tasks: Vec<(usize, usize)> =
            (0..window_groups.len()).flat_map(|g| (0..schema.fields().len()).map(move |c| (g, c))).collect();
        let chunks: Vec<ArrowColumnChunk> = tasks
            .par_iter()
            .map(|&(g, c)| {
                let rg_index = w * window + g;
                let mut writers = factory.create_column_writers(rg_index).map_err(|e| encode_err(path, e))?;
                // One leaf per column: the contract's types are all flat.
                let mut col_writer = writers.swap_remove(c);
                let field = schema.field(c);
                for b in &window_groups[g] {
                    for leaf in compute_leaves(field, b.column(c)).map_err(|e| encode_err(path, e))? {
                        col_writer.write(&leaf).map_err(|e| encode_err(path, e))?;
                    }
                }
                col_writer.close().map_err(|e| encode_err(path, e))
            })
            .collect::<Result<_, IoError>>()?;
        let ncols = schema.fields().len();
        let mut it = chunks.into_iter();
        for _ in 0..window_groups.len() {
            let mut rg = writer.next_row_group().map_err(|e| encode_err(path, e))?;
            for chunk in it.by_ref().take(ncols) {
                chunk.append_to_row_group(&mut rg).map_err(|e| encode_err(path, e))?;
            }
            rg.close().map_err(|e| encode_err(path, e))?;
        }
    }
    let file = writer.into_inner().map_err(|e| encode_err(path, e))?;
    file.sync_all().map_err(|source| IoError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    #[test]
    fn parallel_parquet_round_trips_in_order() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batches: Vec<RecordBatch> = (0..7)
            .map(|k| {
                let n: Vec<i64> = (k * 100_000..(k + 1) * 100_000).collect();
                let s: Vec<Option<String>> = n.iter().map(|v| (v % 7 != 0).then(|| v.to_string())).collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(Int64Array::from(n)), Arc::new(StringArray::from(s))],
                )
                .unwrap()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, schema.clone(), &batches).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        let read: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
        let all = arrow::compute::concat_batches(&schema, &read).unwrap();
        let want = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(all, want);
        write_parquet(&dir.path().join("e.parquet"), schema.clone(), &[]).unwrap();
        let empty = ParquetRecordBatchReaderBuilder::try_new(File::open(dir.path().join("e.parquet")).unwrap()).unwrap();
        assert_eq!(empty.metadata().file_metadata().num_rows(), 0);
        assert_eq!(empty.schema().as_ref(), schema.as_ref());
    }
}
