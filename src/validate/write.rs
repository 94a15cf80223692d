//! Parquet output encoded in parallel: every (row group, column) pair of a window of row
//! groups is encoded on its own rayon task, then appended in order. Same properties as
//! `io::FileSink` (Snappy, 262,144-row groups), same atomic rename. A row group of a
//! Parquet input can instead be copied as its encoded column chunks (`CopyFrom`).

use std::fs::{self, File};
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use rayon::prelude::*;

use crate::datasets::FileFormat;
use crate::io::{ensure_dir, IoError, PARQUET_ROW_GROUP_ROWS};

fn encode_err(path: &Path, e: impl ToString) -> IoError {
    IoError::Encode { path: path.to_path_buf(), format: FileFormat::Parquet, message: e.to_string() }
}

/// Rows of a batch to write: all of them except `drop` (sorted row offsets).
pub struct Part<'a> {
    pub batch: &'a RecordBatch,
    pub drop: &'a [u32],
}

impl Part<'_> {
    pub fn rows(&self) -> usize {
        self.batch.num_rows() - self.drop.len()
    }
}

/// A range of one part's input rows, and the rows of it to drop (offsets into the range).
struct Piece {
    part: usize,
    start: usize,
    len: usize,
    drop: Vec<u32>,
}

/// Row groups of a Parquet input to copy as they are encoded, in place of their rows.
pub struct CopyFrom<'a> {
    pub file: &'a File,
    pub metadata: &'a ParquetMetaData,
    /// Per part: the input row group it is (a part of), when that row group is copied whole.
    pub part_row_groups: Vec<Option<usize>>,
}

/// One output row group.
enum Group {
    /// Rows of the parts, encoded.
    Encode(Vec<Piece>),
    /// An input row group, copied.
    Copy(usize),
}

/// Row groups of at most PARQUET_ROW_GROUP_ROWS written rows, as ranges of the parts; a
/// part of a copied input row group is that row group instead.
fn row_groups(parts: &[Part], copied: &[Option<usize>]) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut rows = 0;
    for (pi, p) in parts.iter().enumerate() {
        if let Some(&Some(rg)) = copied.get(pi) {
            if rows > 0 {
                groups.push(Group::Encode(std::mem::take(&mut current)));
                rows = 0;
            }
            if !matches!(groups.last(), Some(Group::Copy(last)) if *last == rg) {
                groups.push(Group::Copy(rg));
            }
            continue;
        }
        let n = p.batch.num_rows();
        let mut start = 0;
        let mut k = 0; // the first dropped row at or after `start`
        while start < n {
            let need = PARQUET_ROW_GROUP_ROWS - rows;
            // Extend the range over every dropped row inside it until it holds `need` rows.
            let mut end = start + need;
            let first = k;
            while k < p.drop.len() && (p.drop[k] as usize) < end {
                k += 1;
                end += 1;
            }
            let end = end.min(n);
            let drop: Vec<u32> = p.drop[first..k].iter().map(|&r| r - start as u32).collect();
            let taken = end - start - drop.len();
            if taken > 0 {
                current.push(Piece { part: pi, start, len: end - start, drop });
            }
            rows += taken;
            start = end;
            if rows == PARQUET_ROW_GROUP_ROWS {
                groups.push(Group::Encode(std::mem::take(&mut current)));
                rows = 0;
            }
        }
    }
    if rows > 0 {
        groups.push(Group::Encode(current));
    }
    groups
}

/// The column values of a piece, without its dropped rows.
fn piece_column(parts: &[Part], piece: &Piece, c: usize) -> Result<ArrayRef, arrow::error::ArrowError> {
    let column = parts[piece.part].batch.column(c).slice(piece.start, piece.len);
    if piece.drop.is_empty() {
        return Ok(column);
    }
    let mut keep = vec![true; piece.len];
    for &r in &piece.drop {
        keep[r as usize] = false;
    }
    arrow::compute::filter(column.as_ref(), &BooleanArray::from(keep))
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
    let parts: Vec<Part> = batches.iter().map(|batch| Part { batch, drop: &[] }).collect();
    write_parquet_parts(path, schema, &parts, None)
}

/// Writes the parts' rows (without their dropped rows) in order; the filtering happens
/// per row group and column inside the parallel encoding, so the kept rows are never
/// copied as a whole. With `copy`, the parts of each copied input row group are written as
/// that row group's column chunks, when the input's columns are the ones written.
pub fn write_parquet_parts(path: &Path, schema: SchemaRef, parts: &[Part], copy: Option<&CopyFrom>) -> Result<u64, IoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_to(&tmp, path, schema, parts, copy).and_then(|()| {
        fs::rename(&tmp, path).map_err(|source| IoError::Write { path: path.to_path_buf(), source })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    Ok(fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

/// The same Parquet columns: an encoded column chunk of one is one of the other.
fn same_columns(a: &SchemaDescriptor, b: &SchemaDescriptor) -> bool {
    a.num_columns() == b.num_columns() && a.columns().iter().zip(b.columns()).all(|(x, y)| x == y)
}

fn write_to(tmp: &Path, path: &Path, schema: SchemaRef, parts: &[Part], copy: Option<&CopyFrom>) -> Result<(), IoError> {
    let file = File::create(tmp).map_err(|source| IoError::Write { path: path.to_path_buf(), source })?;
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        // A file's column chunks all have an offset index or none has (the footer writer
        // requires it), and a copied chunk's input may have none: with copies, none has.
        .set_offset_index_disabled(copy.is_some());
    // Dictionary encoding pays for columns with few distinct values (industry, country)
    // and only costs for near-unique ones (ids, emails): decide per column from a sample.
    // Near-unique text also gets no min/max statistics: they prune nothing and cost a
    // string comparison per value.
    if let Some(first) = parts.iter().find(|p| p.rows() > 0) {
        for (i, field) in schema.fields().iter().enumerate() {
            if mostly_distinct(first.batch.column(i)) {
                let column = ColumnPath::from(field.name().as_str());
                props = props
                    .set_column_dictionary_enabled(column.clone(), false)
                    .set_column_statistics_enabled(column, EnabledStatistics::None);
            }
        }
    }
    let props = props.build();
    // ArrowWriter sets up the Parquet schema and the embedded Arrow schema; the row groups
    // are then encoded by hand, in parallel.
    let (mut writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .and_then(|w| w.into_serialized_writer())
        .map_err(|e| encode_err(path, e))?;
    let copy = copy.filter(|c| same_columns(writer.schema_descr(), c.metadata.file_metadata().schema_descr()));
    let groups = row_groups(parts, copy.map_or(&[][..], |c| &c.part_row_groups));
    let window = rayon::current_num_threads().max(1) * 2;
    for (w, window_groups) in groups.chunks(window).enumerate() {
        let tasks: Vec<(usize, &[Piece], usize)> = window_groups
            .iter()
            .enumerate()
            .filter_map(|(g, group)| match group {
                Group::Encode(pieces) => Some((g, pieces.as_slice())),
                Group::Copy(_) => None,
            })
            .flat_map(|(g, pieces)| (0..schema.fields().len()).map(move |c| (g, pieces, c)))
            .collect();
        let chunks: Vec<ArrowColumnChunk> = tasks
            .par_iter()
            .map(|&(g, pieces, c)| {
                let rg_index = w * window + g;
                let mut writers = factory.create_column_writers(rg_index).map_err(|e| encode_err(path, e))?;
                // One leaf per column: the contract's types are all flat.
                let mut col_writer = writers.swap_remove(c);
                let field = schema.field(c);
                for piece in pieces {
                    let column = piece_column(parts, piece, c).map_err(|e| encode_err(path, e))?;
                    for leaf in compute_leaves(field, &column).map_err(|e| encode_err(path, e))? {
                        col_writer.write(&leaf).map_err(|e| encode_err(path, e))?;
                    }
                }
                col_writer.close().map_err(|e| encode_err(path, e))
            })
            .collect::<Result<_, IoError>>()?;
        let ncols = schema.fields().len();
        let mut it = chunks.into_iter();
        for group in window_groups {
            let mut rg = writer.next_row_group().map_err(|e| encode_err(path, e))?;
            match group {
                Group::Encode(_) => {
                    for chunk in it.by_ref().take(ncols) {
                        chunk.append_to_row_group(&mut rg).map_err(|e| encode_err(path, e))?;
                    }
                }
                Group::Copy(i) => {
                    let copy = copy.ok_or_else(|| encode_err(path, "a row group to copy without its input"))?;
                    let input = copy.metadata.row_group(*i);
                    for column in input.columns() {
                        let close = ColumnCloseResult {
                            bytes_written: column.compressed_size() as u64,
                            rows_written: input.num_rows() as u64,
                            metadata: column.clone(),
                            bloom_filter: None,
                            column_index: None,
                            offset_index: None,
                        };
                        rg.append_column(copy.file, close).map_err(|e| encode_err(path, e))?;
                    }
                }
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

    #[test]
    fn dropped_rows_are_left_out_across_row_groups() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let batches: Vec<RecordBatch> = (0..3)
            .map(|k| {
                let n: Vec<i64> = (k * 200_000..(k + 1) * 200_000).collect();
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(n))]).unwrap()
            })
            .collect();
        // Drops at the edges, in runs, and a whole batch.
        let drops: Vec<Vec<u32>> = vec![
            (0..200_000u32).filter(|r| r % 97 == 0 || *r == 199_999).collect(),
            (0..200_000u32).collect(),
            (0..200_000u32).filter(|r| (62_000..63_000).contains(r) || r % 13 == 5).collect(),
        ];
        let parts: Vec<Part> = batches.iter().zip(&drops).map(|(batch, d)| Part { batch, drop: d }).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        write_parquet_parts(&path, schema.clone(), &parts, None).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let sizes: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        let read: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
        let got: Vec<i64> = read.iter().flat_map(|b| b.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec()).collect();
        let want: Vec<i64> = batches
            .iter()
            .zip(&drops)
            .flat_map(|(b, d)| {
                let v = b.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec();
                v.into_iter().enumerate().filter(|(i, _)| d.binary_search(&(*i as u32)).is_err()).map(|(_, x)| x).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(sizes.iter().sum::<i64>() as usize, want.len());
        assert!(sizes[..sizes.len() - 1].iter().all(|&s| s == PARQUET_ROW_GROUP_ROWS as i64), "{sizes:?}");
    }
}
