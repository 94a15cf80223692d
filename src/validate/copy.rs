//! The valid file of a CSV or JSON Lines input written in the input's format: the valid
//! records' bytes as they were read, in order (the CSV header once), each ended by `\n`.
//!
//! No value is re-serialised, except in a row whose text a reader typing the file by the
//! contract would read otherwise than this engine did (`1.0` or `+5` in an int column,
//! `TRUE` in a bool column, a timestamp with an offset, a JSON number in a string column, a
//! quoted empty CSV field): that row is written as the CSV / JSON Lines writer spells it.
//! Line ends become `\n` (never a lone CR); a BOM is not copied; a quoted field with line
//! ends inside is copied whole.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use rayon::prelude::*;

use super::read::{Chunk, Input, SourceFile};
use super::write::Part;
use super::{valid_rows, ColumnType, Contract, ValidateError};
use crate::datasets::FileFormat;
use crate::io::{encode_text, FileSink};

/// A chunk's valid rows are written anew, whole, when more than this share of them would
/// be respelled one by one.
const RESPELL_WHOLE_CHUNK: usize = 4;

/// The input to copy the valid lines from, when the output can be such a copy: the same
/// text format in and out, every row's bytes known, and for CSV a header naming exactly
/// the contract's columns in its order (anything else is written anew, in the contract's
/// columns).
pub fn copyable<'a>(
    input: &'a Input,
    input_format: Option<FileFormat>,
    output_format: FileFormat,
    contract: &Contract,
) -> Option<&'a SourceFile> {
    let source = input.source.as_ref()?;
    if input_format != Some(output_format) || output_format == FileFormat::Parquet {
        return None;
    }
    if !input.chunks.iter().all(|c| c.spans.is_some()) {
        return None;
    }
    if output_format == FileFormat::Csv {
        let names = contract.columns.iter().map(|c| c.name.as_str());
        if source.header.is_none() || !names.eq(input.input_columns.iter().map(String::as_str)) {
            return None;
        }
    }
    Some(source)
}

/// Writes the valid rows of `parts` (one per chunk) as the input's lines.
pub fn write_valid_lines(
    source: &SourceFile,
    path: &std::path::Path,
    format: FileFormat,
    schema: SchemaRef,
    chunks: &[Chunk],
    parts: &[Part],
    contract: &Contract,
) -> Result<(), ValidateError> {
    let mut sink = FileSink::create(path, format, schema)?;
    if let Some(header) = &source.header {
        sink.write_bytes(header)?;
        sink.write_bytes(b"\n")?;
    }
    // A window of chunks at a time: memory holds a few blocks of text, not the file.
    let window = rayon::current_num_threads().max(1) * 2;
    let pairs: Vec<(&Chunk, &Part)> = chunks.iter().zip(parts).collect();
    for group in pairs.chunks(window) {
        let texts: Vec<Vec<u8>> = group
            .par_iter()
            .map(|(chunk, part)| chunk_lines(source, chunk, part, format, contract, path))
            .collect::<Result<_, _>>()?;
        for text in texts {
            sink.write_bytes(&text)?;
        }
    }
    // The bytes copied must be the bytes judged.
    if !source.unchanged() {
        return Err(ValidateError::Unreadable {
            path: source.path.clone(),
            message: "the file changed while it was being validated; no valid file was written".into(),
        });
    }
    sink.commit()?;
    Ok(())
}

/// One chunk's valid rows as text: each row's bytes and `\n`, or its respelling.
fn chunk_lines(
    source: &SourceFile,
    chunk: &Chunk,
    part: &Part,
    format: FileFormat,
    contract: &Contract,
    out: &std::path::Path,
) -> Result<Vec<u8>, ValidateError> {
    let spans = chunk
        .spans
        .as_ref()
        .ok_or_else(|| ValidateError::Internal("a chunk without row spans in a copied text file".into()))?;
    if part.rows() == 0 {
        return Ok(Vec::new());
    }
    let respell = respelled_rows(chunk, part, format, contract, &spans.respell);
    if respell.len() * RESPELL_WHOLE_CHUNK > part.rows() {
        return Ok(encode_text(format, &valid_rows(part)?, false, out)?);
    }
    let (lo, hi) = match (spans.spans.first(), spans.spans.last()) {
        (Some(first), Some(last)) => (first.0 as u64, last.1 as u64),
        _ => return Ok(Vec::new()),
    };
    let bytes = read_range(source, spans.base + lo, (hi - lo) as usize)?;
    let mut text = Vec::with_capacity(bytes.len() + chunk.rows);
    let (mut dropped, mut respelled) = (part.drop.iter().peekable(), respell.iter().peekable());
    for (r, &(start, end)) in spans.spans.iter().enumerate() {
        let r = r as u32;
        if dropped.next_if_eq(&&r).is_some() {
            continue;
        }
        if respelled.next_if_eq(&&r).is_some() {
            text.extend_from_slice(&encode_text(format, &row(part.batch, r), false, out)?);
            continue;
        }
        text.extend_from_slice(&bytes[(start as u64 - lo) as usize..(end as u64 - lo) as usize]);
        text.push(b'\n');
    }
    Ok(text)
}

fn row(batch: &RecordBatch, r: u32) -> RecordBatch {
    batch.slice(r as usize, 1)
}

fn read_range(source: &SourceFile, offset: u64, len: usize) -> Result<Vec<u8>, ValidateError> {
    let unreadable = |e: std::io::Error| ValidateError::Unreadable {
        path: source.path.clone(),
        message: format!("cannot read bytes {offset}..{} again to copy the valid rows: {e}", offset + len as u64),
    };
    let mut file = File::open(&source.path).map_err(unreadable)?;
    file.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes).map_err(unreadable)?;
    Ok(bytes)
}

/// The valid rows (sorted) whose bytes cannot be copied: those the reader marked, and those
/// with a typed value not spelled the way the writer spells it.
fn respelled_rows(chunk: &Chunk, part: &Part, format: FileFormat, contract: &Contract, marked: &[u32]) -> Vec<u32> {
    let typed: Vec<(ColumnType, &arrow::array::StringArray)> = contract
        .columns
        .iter()
        .zip(&chunk.columns)
        .filter(|(c, _)| !matches!(c.column_type, ColumnType::String | ColumnType::Date))
        .filter_map(|(c, a)| a.as_ref().and_then(|a| a.as_string_opt::<i32>()).map(|s| (c.column_type, s)))
        .collect();
    let mut rows: Vec<u32> = marked.iter().copied().filter(|r| part.drop.binary_search(r).is_err()).collect();
    if !typed.is_empty() {
        let mut dropped = part.drop.iter().peekable();
        for r in 0..chunk.rows as u32 {
            if dropped.next_if_eq(&&r).is_some() {
                continue;
            }
            let i = r as usize;
            if typed.iter().any(|(ty, s)| s.is_valid(i) && !spelled_as_written(*ty, s.value(i), format)) {
                rows.push(r);
            }
        }
        rows.sort_unstable();
        rows.dedup();
    }
    rows
}

/// Whether a valid value's text is spelled as the writer of `format` spells its type
/// (which every reader of the valid file reads as this engine did). Strings and dates have
/// one spelling already (`YYYY-MM-DD` is the only date accepted).
fn spelled_as_written(ty: ColumnType, text: &str, format: FileFormat) -> bool {
    let b = text.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    match ty {
        ColumnType::String | ColumnType::Date => true,
        ColumnType::Int64 => digits(b.strip_prefix(b"-").unwrap_or(b)),
        ColumnType::Float64 => {
            let b = b.strip_prefix(b"-").unwrap_or(b);
            let (mantissa, exponent) = match b.iter().position(|&c| c == b'e' || c == b'E') {
                Some(at) => (&b[..at], Some(&b[at + 1..])),
                None => (b, None),
            };
            let mantissa_ok = match mantissa.iter().position(|&c| c == b'.') {
                Some(at) => digits(&mantissa[..at]) && digits(&mantissa[at + 1..]),
                None => digits(mantissa),
            };
            let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(b"-").or_else(|| e.strip_prefix(b"+")).unwrap_or(e)));
            mantissa_ok && exponent_ok
        }
        ColumnType::Bool => text == "true" || text == "false",
        // `YYYY-MM-DD HH:MM:SS[.ffffff]` (`T` in JSON), no offset: the date and the three
        // numbers are checked by the cast that accepted the value.
        ColumnType::Timestamp => {
            let separator = if format == FileFormat::Json { b'T' } else { b' ' };
            let fraction_ok = match b.len() {
                19 => true,
                26 => b[19] == b'.' && digits(&b[20..]),
                _ => false,
            };
            fraction_ok && b[10] == separator && digits(&b[11..13]) && digits(&b[14..16]) && digits(&b[17..19])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_writers_spelling_counts_as_written() {
        use ColumnType::*;
        let csv = FileFormat::Csv;
        for (ty, text, want) in [
            (Int64, "42", true),
            (Int64, "-7", true),
            (Int64, "007", true),
            (Int64, "+5", false),
            (Int64, "1.0", false),
            (Int64, "1e3", false),
            (Float64, "0.1", true),
            (Float64, "-1.5e-7", true),
            (Float64, "100", true),
            (Float64, ".5", false),
            (Float64, "5.", false),
            (Float64, "+1", false),
            (Float64, "1e", false),
            (Bool, "true", true),
            (Bool, "True", false),
            (Bool, "1", false),
            (Timestamp, "2025-05-25 01:02:03", true),
            (Timestamp, "2025-05-25 01:02:03.000001", true),
            (Timestamp, "2025-05-25T01:02:03", false),
            (Timestamp, "2025-05-25 01:02:03Z", false),
            (Timestamp, "2025-05-25 01:02:03+02:00", false),
            (Timestamp, "2025-05-25 01:02:03.5", false),
            (Timestamp, "2025-05-25", false),
            (String, "anything, \"at all\"", true),
        ] {
            assert_eq!(spelled_as_written(ty, text, csv), want, "{ty:?} {text:?}");
        }
        assert!(spelled_as_written(Timestamp, "2025-05-25T01:02:03", FileFormat::Json));
        assert!(!spelled_as_written(Timestamp, "2025-05-25 01:02:03", FileFormat::Json));
    }
}
