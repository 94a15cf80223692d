//! Local file I/O for Arrow data: CSV, JSON Lines and Parquet through arrow-rs.
//! Files are written to a temporary name and renamed into place, so a crash never leaves
//! a half-written file under the final name.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use thiserror::Error;

use crate::datasets::FileFormat;

pub mod text;

/// Reading or writing a local file failed. Maps to `FileError` (an `OSError`) in Python.
#[derive(Debug, Error)]
pub enum IoError {
    #[error("cannot create directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot encode {format} for {path}: {message}")]
    Encode { path: PathBuf, format: FileFormat, message: String },
}

/// Rows per Parquet row group: large enough for good compression, small enough that the
/// writer's buffered row group stays far below the 1 GiB budget at any scale.
pub const PARQUET_ROW_GROUP_ROWS: usize = 262_144;

const CSV_TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Encodes one batch as CSV or JSON Lines text. Pure, so chunks encode in parallel and are
/// then appended in order.
pub fn encode_text(
    format: FileFormat,
    batch: &RecordBatch,
    with_header: bool,
    path: &Path,
) -> Result<Vec<u8>, IoError> {
    let mut out = Vec::with_capacity(batch.num_rows() * 128);
    let encode_err = |e: arrow::error::ArrowError| IoError::Encode {
        path: path.to_path_buf(),
        format,
        message: e.to_string(),
    };
    let fast = match format {
        FileFormat::Csv => text::encode_csv(batch, with_header),
        FileFormat::Json => text::encode_json_lines(batch),
        FileFormat::Parquet => None,
    };
    if let Some(bytes) = fast {
        return Ok(bytes);
    }
    match format {
        FileFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(with_header)
                .with_timestamp_format(CSV_TIMESTAMP_FORMAT.to_string())
                .build(&mut out);
            w.write(batch).map_err(encode_err)?;
        }
        FileFormat::Json => {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut out);
            w.write(batch).map_err(encode_err)?;
            w.finish().map_err(encode_err)?;
        }
        FileFormat::Parquet => {
            return Err(IoError::Encode {
                path: path.to_path_buf(),
                format,
                message: "Parquet is binary; use FileSink".into(),
            })
        }
    }
    Ok(out)
}

enum SinkKind {
    Text(BufWriter<File>),
    Parquet(Box<ArrowWriter<File>>),
}

/// A file being written under a temporary name; `commit` renames it into place.
pub struct FileSink {
    final_path: PathBuf,
    tmp_path: PathBuf,
    format: FileFormat,
    kind: Option<SinkKind>,
    bytes: u64,
}

impl FileSink {
    pub fn create(path: &Path, format: FileFormat, schema: SchemaRef) -> Result<Self, IoError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        ensure_dir(dir)?;
        let file_name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let tmp_path = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp_path)
            .map_err(|source| IoError::Write { path: path.to_path_buf(), source })?;
        let kind = match format {
            FileFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .build();
                let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| {
                    IoError::Encode { path: path.to_path_buf(), format, message: e.to_string() }
                })?;
                SinkKind::Parquet(Box::new(writer))
            }
            _ => SinkKind::Text(BufWriter::with_capacity(1 << 20, file)),
        };
        Ok(FileSink { final_path: path.to_path_buf(), tmp_path, format, kind: Some(kind), bytes: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Appends already-encoded text (CSV / JSON Lines).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        match self.kind.as_mut() {
            Some(SinkKind::Text(w)) => {
                w.write_all(bytes).map_err(|source| self.write_error(source))?;
                self.bytes += bytes.len() as u64;
                Ok(())
            }
            _ => Err(self.encode_error("write_bytes on a Parquet sink".into())),
        }
    }

    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        match self.kind.as_mut() {
            Some(SinkKind::Parquet(w)) => {
                w.write(batch).map_err(|e| e.to_string()).map_err(|m| self.encode_error(m))
            }
            Some(SinkKind::Text(_)) => {
                let text = encode_text(self.format, batch, self.bytes == 0, &self.final_path)?;
                self.write_bytes(&text)
            }
            None => Err(self.encode_error("sink already closed".into())),
        }
    }

    /// Flushes and renames into place. Returns the file size in bytes.
    ///
    /// No fsync: the rename already guarantees that a crashed process never leaves a
    /// partial file under the final name, and generated data is reproducible (a file lost
    /// to a power cut fails the size check and is generated again). Syncing ~200 MB per day
    /// cost more than generating it.
    pub fn commit(mut self) -> Result<u64, IoError> {
        let file = match self.kind.take() {
            Some(SinkKind::Text(w)) => {
                w.into_inner().map_err(|e| self.write_error(e.into_error()))?
            }
            Some(SinkKind::Parquet(w)) => {
                w.into_inner().map_err(|e| self.encode_error(e.to_string()))?
            }
            None => return Err(self.encode_error("sink already closed".into())),
        };
        drop(file);
        fs::rename(&self.tmp_path, &self.final_path).map_err(|source| self.write_error(source))?;
        let size = fs::metadata(&self.final_path)
            .map_err(|source| IoError::Read { path: self.final_path.clone(), source })?
            .len();
        Ok(size)
    }

    fn write_error(&self, source: std::io::Error) -> IoError {
        IoError::Write { path: self.final_path.clone(), source }
    }

    fn encode_error(&self, message: String) -> IoError {
        IoError::Encode { path: self.final_path.clone(), format: self.format, message }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Not committed: leave nothing behind under any name.
        if self.kind.is_some() {
            self.kind = None;
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

pub fn ensure_dir(dir: &Path) -> Result<(), IoError> {
    fs::create_dir_all(dir).map_err(|source| IoError::CreateDir { path: dir.to_path_buf(), source })
}

/// Writes a small file atomically (temporary name, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let err = |source| IoError::Write { path: path.to_path_buf(), source };
    fs::write(&tmp, bytes).map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn json_lines_keep_explicit_nulls() {
        let text = encode_text(FileFormat::Json, &batch(), false, Path::new("x.json")).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text, "{\"id\":\"a\",\"n\":1}\n{\"id\":null,\"n\":2}\n");
    }

    #[test]
    fn other_column_types_fall_back_to_arrows_writers() {
        let schema = Arc::new(Schema::new(vec![Field::new("u", DataType::UInt8, true)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(arrow::array::UInt8Array::from(vec![7u8]))]).unwrap();
        let csv = encode_text(FileFormat::Csv, &b, true, Path::new("x.csv")).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "u\n7\n");
        let json = encode_text(FileFormat::Json, &b, false, Path::new("x.json")).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), "{\"u\":7}\n");
    }

    #[test]
    fn sink_renames_on_commit_and_cleans_up_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut sink = FileSink::create(&path, FileFormat::Csv, batch().schema()).unwrap();
        sink.write_batch(&batch()).unwrap();
        sink.write_batch(&batch()).unwrap();
        let size = sink.commit().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "id,n\na,1\n,2\na,1\n,2\n");
        assert_eq!(size as usize, text.len());

        let abandoned = dir.path().join("u.parquet");
        let mut sink = FileSink::create(&abandoned, FileFormat::Parquet, batch().schema()).unwrap();
        sink.write_batch(&batch()).unwrap();
        drop(sink);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("t.csv")]);
    }
}
