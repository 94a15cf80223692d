//! Tolerant readers: every row that can be isolated is kept, either as a row of string
//! (CSV, JSON Lines) or typed (Parquet, Arrow) columns, or as an `Unparsed` record with its
//! line number and the reason; only a file that cannot be read at all is an error.
//!
//! Text files are streamed in blocks, cut at record boundaries and parsed in parallel
//! (rayon), so memory holds the columns, not the file.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::contract::Contract;
use super::ValidateError;

/// Bytes per parallel parse task.
const CHUNK_BYTES: usize = 4 << 20;

/// Rows of the input, with one (optional) array per contract column.
pub struct Chunk {
    /// Per contract column: the input array (Utf8 for text formats), None when absent.
    pub columns: Vec<Option<ArrayRef>>,
    pub rows: usize,
    /// The 0-based record index of each row: `first_record + local`.
    pub first_record: u64,
    /// Local record offsets when they are not simply 0..rows (unparsed rows in between).
    pub local_records: Option<Vec<u32>>,
    /// 1-based line of each row for text formats: `first_line + lines[i]`.
    pub first_line: u64,
    pub lines: Option<Vec<u32>>,
    /// Where each row's bytes are in a text file (None for Parquet, Arrow and JSON arrays).
    pub spans: Option<RowSpans>,
}

/// Each row's record bytes in the file, so that a valid row can be copied as it was read.
pub struct RowSpans {
    /// The file offset the spans count from.
    pub base: u64,
    /// Per row: the record's bytes without its line end, as offsets from `base`.
    pub spans: Vec<(u32, u32)>,
    /// Rows whose bytes do not say their values the way the valid file must (sorted): a
    /// JSON value of another JSON type than the contract's, an extra or repeated key, a
    /// quoted empty CSV field (an empty string to readers, a null here).
    pub respell: Vec<u32>,
}

/// An input file as it was when it was read, for copying its valid records (text) or row
/// groups (Parquet) afterwards.
pub struct SourceFile {
    pub path: std::path::PathBuf,
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
    /// The CSV header record without a BOM and without its line end.
    pub header: Option<Vec<u8>>,
}

impl SourceFile {
    fn of(path: &Path, header: Option<Vec<u8>>) -> Result<Self, ValidateError> {
        let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e.to_string()))?;
        Ok(SourceFile { path: path.to_path_buf(), len: meta.len(), modified: meta.modified().ok(), header })
    }

    /// True while the file has the size and modification time it had when it was read.
    pub fn unchanged(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.len() == self.len && m.modified().ok() == self.modified)
    }
}

impl Chunk {
    pub fn record(&self, i: usize) -> u64 {
        self.first_record + self.local_records.as_ref().map_or(i as u64, |l| l[i] as u64)
    }

    pub fn line(&self, i: usize) -> Option<u64> {
        self.lines.as_ref().map(|l| self.first_line + l[i] as u64)
    }
}

/// A record that could not be split into columns.
#[derive(Clone, Debug)]
pub struct Unparsed {
    pub record: u64,
    pub line: Option<u64>,
    /// The record's bytes as read (not necessarily UTF-8).
    pub raw: Vec<u8>,
    pub reason: String,
}

pub struct Input {
    pub chunks: Vec<Chunk>,
    pub unparsed: Vec<Unparsed>,
    /// Column names as found in the input, in input order.
    pub input_columns: Vec<String>,
    /// False when the input says nothing about its columns (no header, no parsed row):
    /// presence and order checks are skipped.
    pub has_columns: bool,
    /// A CSV without even a header line (an empty file): a file-level schema failure.
    pub missing_header: bool,
    /// The file the input was read from (None for in-memory tables).
    pub source: Option<SourceFile>,
}

impl Input {
    pub fn rows(&self) -> u64 {
        self.chunks.iter().map(|c| c.rows as u64).sum::<u64>() + self.unparsed.len() as u64
    }
}

/// A parsed chunk before its global offsets are known.
struct Parsed {
    chunk: Chunk,
    unparsed: Vec<Unparsed>,
    records: u64,
    lines: u64,
    extra_keys: Vec<String>,
    first_keys: Option<Vec<String>>,
}

fn unreadable(path: &Path, message: impl Into<String>) -> ValidateError {
    ValidateError::Unreadable { path: path.to_path_buf(), message: message.into() }
}

/// Reads until `buf` holds at least `want` bytes or the file ends. Returns true at EOF.
fn fill(file: &mut File, buf: &mut Vec<u8>, want: usize, path: &Path) -> Result<bool, ValidateError> {
    while buf.len() < want {
        let old = buf.len();
        buf.resize(want.max(old + 1), 0);
        let n = file.read(&mut buf[old..]).map_err(|e| unreadable(path, format!("read error at byte {old}: {e}")))?;
        buf.truncate(old + n);
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Line ends in `bytes`: LF, CRLF and a lone CR (Excel's "CSV (Macintosh)") each count
/// once. Callers never cut between the CR and the LF of a CRLF.
pub(crate) fn count_line_ends(bytes: &[u8]) -> u64 {
    if memchr::memchr(b'\r', bytes).is_none() {
        return memchr::memchr_iter(b'\n', bytes).count() as u64;
    }
    memchr::memchr2_iter(b'\r', b'\n', bytes)
        .filter(|&i| bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n'))
        .count() as u64
}

/// Record boundaries (offsets just after a line end that is not inside quotes) about every
/// CHUNK_BYTES, and the end of the last complete record. `terminator` is the file's line
/// end (`\n`, or `\r` for a file of lone CRs), decided once per file; a cut after a CR is
/// made only where no LF follows it.
fn split_points(buf: &[u8], csv_quotes: bool, terminator: u8, eof: bool) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut last = 0;
    let mut target = CHUNK_BYTES;
    // After a CR, a cut needs to see the next byte (it must not be the LF of a CRLF).
    let cuttable = |i: usize| terminator == b'\n' || buf.get(i + 1).map_or(eof, |&b| b != b'\n');
    if csv_quotes {
        let mut in_quotes = false;
        for i in memchr::memchr2_iter(b'"', terminator, buf) {
            if buf[i] == b'"' {
                in_quotes = !in_quotes;
            } else if in_quotes || !cuttable(i) {
                continue;
            } else if i + 1 >= target {
                cuts.push(i + 1);
                last = i + 1;
                target = i + 1 + CHUNK_BYTES;
            } else {
                last = i + 1;
            }
        }
    } else {
        let mut start = 0;
        while start + CHUNK_BYTES < buf.len() {
            match memchr::memchr(b'\n', &buf[start + CHUNK_BYTES..]) {
                Some(i) => {
                    start += CHUNK_BYTES + i + 1;
                    cuts.push(start);
                }
                None => break,
            }
        }
        last = memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1);
    }
    let end = if eof { buf.len() } else { last };
    cuts.retain(|&c| c < end);
    if end > 0 {
        cuts.push(end);
    }
    cuts
}

#[cfg(test)]
pub(crate) fn split_points_for_test(buf: &[u8], terminator: u8, eof: bool) -> Vec<usize> {
    split_points(buf, true, terminator, eof)
}

/// Streams a text file in blocks and parses each block's chunks in parallel.
fn stream_text(
    path: &Path,
    csv_quotes: bool,
    terminator: u8,
    mut skip_prefix: impl FnMut(&[u8], bool) -> Result<Option<usize>, ValidateError>,
    parse: impl Fn(&[u8]) -> Parsed + Sync,
) -> Result<(Vec<Parsed>, u64), ValidateError> {
    let mut file = File::open(path).map_err(|e| unreadable(path, e.to_string()))?;
    let block = CHUNK_BYTES * rayon::current_num_threads().max(1) * 2;
    let mut buf: Vec<u8> = Vec::with_capacity(block + CHUNK_BYTES);
    let mut parts = Vec::new();
    let mut prefix_lines = 0u64;
    let mut prefix_done = false;
    let mut want = block;
    // The file offset of `buf[0]`.
    let mut offset = 0u64;
    loop {
        let eof = fill(&mut file, &mut buf, want, path)?;
        let mut start = 0;
        if !prefix_done {
            match skip_prefix(&buf, eof)? {
                Some(n) => {
                    prefix_lines = count_line_ends(&buf[..n]);
                    start = n;
                    prefix_done = true;
                }
                None if eof => return Ok((parts, 0)),
                None => {
                    // The header is longer than a block: read more.
                    want = buf.len() * 2;
                    continue;
                }
            }
        }
        let cuts = split_points(&buf[start..], csv_quotes, terminator, eof);
        let mut ranges = Vec::with_capacity(cuts.len());
        let mut from = start;
        for c in cuts {
            ranges.push(from..start + c);
            from = start + c;
        }
        let mut parsed: Vec<Parsed> = ranges.par_iter().map(|r| parse(&buf[r.clone()])).collect();
        for (p, r) in parsed.iter_mut().zip(&ranges) {
            if let Some(s) = &mut p.chunk.spans {
                s.base = offset + r.start as u64;
            }
        }
        parts.extend(parsed);
        if eof {
            break;
        }
        buf.drain(..from);
        offset += from as u64;
        // A record longer than a block: read more before trying again.
        want = if from == 0 { (buf.len() * 2).max(block) } else { block };
    }
    Ok((parts, prefix_lines))
}

/// Assigns global record and line numbers, in order.
fn assemble(parts: Vec<Parsed>, first_line: u64) -> (Vec<Chunk>, Vec<Unparsed>, Vec<String>, Option<Vec<String>>) {
    let mut chunks = Vec::with_capacity(parts.len());
    let mut unparsed = Vec::new();
    let mut extra = Vec::new();
    let mut first_keys = None;
    let (mut record, mut line) = (0u64, first_line);
    for mut p in parts {
        p.chunk.first_record = record;
        p.chunk.first_line = line;
        for mut u in p.unparsed {
            u.record += record;
            u.line = u.line.map(|l| l + line);
            unparsed.push(u);
        }
        for k in p.extra_keys {
            if !extra.contains(&k) {
                extra.push(k);
            }
        }
        if first_keys.is_none() {
            first_keys = p.first_keys;
        }
        record += p.records;
        line += p.lines;
        if p.chunk.rows > 0 {
            chunks.push(p.chunk);
        }
    }
    (chunks, unparsed, extra, first_keys)
}

/// A record's bytes as they were in the file, without its line end (the quarantine keeps
/// them exactly: `_raw_base64`).
fn raw_bytes(bytes: &[u8]) -> Vec<u8> {
    raw_slice(bytes).to_vec()
}

fn raw_slice(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !matches!(b, b'\r' | b'\n')).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// The span of a record's bytes (`bytes[start..end]`, its line end cut off) in its block.
fn span(bytes: &[u8], start: usize, end: usize) -> (u32, u32) {
    (start as u32, (start + raw_slice(&bytes[start..end]).len()) as u32)
}

// --- CSV ---------------------------------------------------------------------------------

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes)
}

/// The header record: its length in bytes (with its line end: LF, CRLF or a lone CR), the
/// column names and the record's bytes (without a BOM and the line end).
fn csv_header(buf: &[u8], eof: bool) -> Option<(usize, Vec<String>, &[u8])> {
    let mut in_quotes = false;
    let mut end = None;
    for i in memchr::memchr3_iter(b'"', b'\n', b'\r', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            end = match (buf[i], buf.get(i + 1)) {
                (b'\r', Some(b'\n')) => Some(i + 2),
                // A CR at the end of what was read: the LF of a CRLF may follow.
                (b'\r', None) if !eof => return None,
                _ => Some(i + 1),
            };
            break;
        }
    }
    let end = match end {
        Some(e) => e,
        None if eof => buf.len(),
        None => return None,
    };
    let body = buf[..end].strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf[..end]);
    let mut r = csv_reader(body);
    let mut rec = csv::ByteRecord::new();
    let names = match r.read_byte_record(&mut rec) {
        Ok(true) => rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect(),
        _ => Vec::new(),
    };
    Some((end, names, raw_slice(body)))
}

pub fn read_csv(path: &Path, contract: &Contract) -> Result<Input, ValidateError> {
    // The header first, so that every chunk knows which field is which column.
    let mut file = File::open(path).map_err(|e| unreadable(path, e.to_string()))?;
    let mut probe = Vec::new();
    let mut want = 1 << 16;
    let (names, terminator, header) = loop {
        let eof = fill(&mut file, &mut probe, want, path)?;
        if let Some((end, names, header)) = csv_header(&probe, eof) {
            // The header's line end says the file's, once per file: records are still split
            // by the csv state machine at any line end, this only picks the cut points.
            let lone_cr = end > 0 && probe[end - 1] == b'\r';
            break (names, if lone_cr { b'\r' } else { b'\n' }, header.to_vec());
        }
        want *= 4;
    };
    drop(file);
    let source = SourceFile::of(path, Some(header))?;
    // A repeated header name maps only its first field (the plan reports the repeat).
    let mapping: Vec<Option<usize>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| contract.column_index(n).filter(|_| !names[..i].contains(n)))
        .collect();
    let width = names.len();
    let skip = |buf: &[u8], eof: bool| -> Result<Option<usize>, ValidateError> {
        Ok(csv_header(buf, eof).map(|(end, _, _)| end))
    };
    let ncols = contract.columns.len();
    let (parts, header_lines) =
        stream_text(path, true, terminator, skip, |bytes| parse_csv_chunk(bytes, &mapping, width, ncols))?;
    let has_columns = !names.is_empty();
    let (chunks, unparsed, _, _) = assemble(parts, 1 + header_lines);
    Ok(Input {
        chunks,
        unparsed,
        input_columns: names,
        has_columns,
        missing_header: !has_columns,
        source: Some(source),
    })
}

fn parse_csv_chunk(bytes: &[u8], mapping: &[Option<usize>], width: usize, ncols: usize) -> Parsed {
    // Most files have no quotes and no carriage returns: then a record is a line and a
    // field is what lies between commas, and a plain split is exact (and several times
    // faster than the general state machine, which handles everything else).
    if memchr::memchr2(b'"', b'\r', bytes).is_none() {
        return parse_plain_csv_chunk(bytes, mapping, width, ncols);
    }
    parse_quoted_csv_chunk(bytes, mapping, width, ncols)
}

/// Appends one CSV record's fields to the builders of the contract columns they map to;
/// an empty field is a null. The caller has checked that every field is UTF-8.
fn append_csv_fields<'a>(
    fields: impl Iterator<Item = &'a [u8]>,
    mapping: &[Option<usize>],
    builders: &mut [Option<StringBuilder>],
) {
    for (i, field) in fields.enumerate() {
        if let Some(Some(c)) = mapping.get(i) {
            if let Some(b) = &mut builders[*c] {
                if field.is_empty() {
                    b.append_null();
                } else {
                    // SAFETY: the caller validated the record as UTF-8; fields split at ASCII bytes.
                    b.append_value(unsafe { std::str::from_utf8_unchecked(field) });
                }
            }
        }
    }
}

/// The parsed CSV block: the built columns plus what could not be parsed.
fn finish_csv_chunk(
    bytes: &[u8],
    builders: Vec<Option<StringBuilder>>,
    rows: usize,
    records: u64,
    unparsed: Vec<Unparsed>,
    local_records: Vec<u32>,
    lines: Vec<u32>,
    spans: RowSpans,
) -> Parsed {
    let chunk = Chunk {
        columns: builders.into_iter().map(|b| b.map(|mut b| std::sync::Arc::new(b.finish()) as ArrayRef)).collect(),
        rows,
        first_record: 0,
        local_records: (!unparsed.is_empty()).then_some(local_records),
        first_line: 0,
        lines: Some(lines),
        spans: Some(spans),
    };
    Parsed {
        chunk,
        unparsed,
        records,
        lines: count_line_ends(bytes),
        extra_keys: Vec::new(),
        first_keys: None,
    }
}

fn parse_plain_csv_chunk(bytes: &[u8], mapping: &[Option<usize>], width: usize, ncols: usize) -> Parsed {
    let estimate = bytes.len() / 100 + 16;
    let mut builders: Vec<Option<StringBuilder>> = (0..ncols)
        .map(|c| mapping.contains(&Some(c)).then(|| StringBuilder::with_capacity(estimate, bytes.len() / ncols.max(1))))
        .collect();
    let mut lines = Vec::with_capacity(estimate);
    let mut local_records: Vec<u32> = Vec::new();
    let mut unparsed = Vec::new();
    let (mut records, mut rows) = (0u64, 0usize);
    let mut fields: Vec<&[u8]> = Vec::with_capacity(width + 1);
    let mut spans = RowSpans { base: 0, spans: Vec::with_capacity(estimate), respell: Vec::new() };
    let mut line_start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain((bytes.last() != Some(&b'\n')).then_some(bytes.len()));
    for (line_no, end) in ends.enumerate() {
        let line = &bytes[line_start..end];
        let line_span = (line_start as u32, end as u32);
        line_start = end + 1;
        if line.is_empty() {
            continue;
        }
        fields.clear();
        let mut start = 0;
        for i in memchr::memchr_iter(b',', line) {
            fields.push(&line[start..i]);
            start = i + 1;
        }
        fields.push(&line[start..]);
        let reject = if fields.len() != width {
            Some(format!("expected {width} fields, found {}", fields.len()))
        } else if let Err(e) = std::str::from_utf8(line) {
            let at = e.valid_up_to();
            let field = line[..at].iter().filter(|&&b| b == b',').count();
            let field_start = line[..at].iter().rposition(|&b| b == b',').map_or(0, |p| p + 1);
            Some(format!("invalid UTF-8 in field {} at byte {} of the field", field + 1, at - field_start))
        } else {
            None
        };
        if let Some(reason) = reject {
            if local_records.is_empty() {
                local_records.extend(0..rows as u32);
            }
            unparsed.push(Unparsed { record: records, line: Some(line_no as u64), raw: raw_bytes(line), reason });
            records += 1;
            continue;
        }
        // Checked above: the whole line is UTF-8, and commas are ASCII.
        append_csv_fields(fields.iter().copied(), mapping, &mut builders);
        if !unparsed.is_empty() {
            local_records.push(records as u32);
        }
        lines.push(line_no as u32);
        spans.spans.push(line_span);
        rows += 1;
        records += 1;
    }
    finish_csv_chunk(bytes, builders, rows, records, unparsed, local_records, lines, spans)
}

fn parse_quoted_csv_chunk(bytes: &[u8], mapping: &[Option<usize>], width: usize, ncols: usize) -> Parsed {
    let estimate = bytes.len() / 100 + 16;
    let mut builders: Vec<Option<StringBuilder>> = (0..ncols)
        .map(|c| mapping.contains(&Some(c)).then(|| StringBuilder::with_capacity(estimate, bytes.len() / ncols.max(1))))
        .collect();
    // The reader reads `bytes[base..]`; it starts again after a line with an unclosed quote.
    let mut base = 0usize;
    let mut reader = csv_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    let mut lines = Vec::with_capacity(estimate);
    let mut local_records: Vec<u32> = Vec::new();
    let mut unparsed = Vec::new();
    let mut records = 0u64;
    let mut rows = 0usize;
    let mut spans = RowSpans { base: 0, spans: Vec::with_capacity(estimate), respell: Vec::new() };
    // Line numbers are counted here (LF, CRLF and lone CR alike): the csv crate counts LFs only.
    let (mut counted_to, mut line) = (0usize, 0u64);
    loop {
        let start = base + reader.position().byte() as usize;
        let read = reader.read_byte_record(&mut rec);
        let end = (base + reader.position().byte() as usize).min(bytes.len());
        // The csv crate reports a record after blank lines at the first blank line.
        let mut record_start = match &read {
            Ok(_) => rec.position().map_or(start, |p| base + p.byte() as usize),
            Err(_) => start,
        };
        while record_start < end && matches!(bytes[record_start], b'\n' | b'\r') {
            record_start += 1;
        }
        line += count_line_ends(&bytes[counted_to..record_start.max(counted_to)]);
        counted_to = counted_to.max(record_start);
        let reject = match read {
            Ok(false) => break,
            // csv only fails on I/O or UTF-8 in string records; keep the raw text.
            Err(e) => Some(e.to_string()),
            Ok(true) if rec.len() != width => {
                // A quote that never closes folds the lines after it into this record:
                // quarantine only the line the quote opened on and read on from the next.
                let spanning = rec.iter().position(|f| memchr::memchr2(b'\n', b'\r', f).is_some());
                if let (Some(field), Some(eol)) = (spanning, memchr::memchr2(b'\n', b'\r', &bytes[record_start..end])) {
                    let eol = record_start + eol;
                    let next = eol + 1 + usize::from(bytes[eol] == b'\r' && bytes.get(eol + 1) == Some(&b'\n'));
                    if local_records.is_empty() {
                        local_records.extend(0..rows as u32);
                    }
                    unparsed.push(Unparsed {
                        record: records,
                        line: Some(line),
                        raw: raw_bytes(&bytes[record_start..eol]),
                        reason: format!(
                            "unterminated quote: field {} opens a quote on this line that does not close before the next line \
                             (read as one record it has {} fields, expected {width}); the line is quarantined alone",
                            field + 1,
                            rec.len()
                        ),
                    });
                    records += 1;
                    base = next;
                    reader = csv_reader(&bytes[next..]);
                    continue;
                }
                Some(format!("expected {width} fields, found {}", rec.len()))
            }
            Ok(true) if std::str::from_utf8(rec.as_slice()).is_err() => {
                let (field, valid) = rec
                    .iter()
                    .enumerate()
                    .find_map(|(i, f)| std::str::from_utf8(f).err().map(|e| (i, e.valid_up_to())))
                    .unwrap_or((0, 0));
                Some(format!("invalid UTF-8 in field {} at byte {} of the field", field + 1, valid))
            }
            Ok(true) => None,
        };
        if let Some(reason) = reject {
            unparsed.push(Unparsed { record: records, line: Some(line), raw: raw_bytes(&bytes[record_start.min(end)..end]), reason });
            if local_records.is_empty() {
                local_records.extend(0..rows as u32);
            }
            records += 1;
            continue;
        }
        // Checked above: the whole record is UTF-8.
        append_csv_fields(rec.iter(), mapping, &mut builders);
        if !unparsed.is_empty() {
            local_records.push(records as u32);
        }
        lines.push(line as u32);
        let record_span = span(bytes, record_start, end);
        // `""` reads as a null here (an empty field) but as an empty string to other readers.
        let raw = &bytes[record_span.0 as usize..record_span.1 as usize];
        if rec.iter().any(<[u8]>::is_empty) && memchr::memchr(b'"', raw).is_some() {
            spans.respell.push(rows as u32);
        }
        spans.spans.push(record_span);
        rows += 1;
        records += 1;
    }
    finish_csv_chunk(bytes, builders, rows, records, unparsed, local_records, lines, spans)
}

// --- JSON Lines ---------------------------------------------------------------------------

/// One JSON value as text: strings as they are, numbers and booleans as written.
enum Cell<'a> {
    Null,
    Text(Cow<'a, str>, JsonType),
}

/// The JSON type of a value that is not null.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum JsonType {
    String,
    Number,
    Bool,
}

impl JsonType {
    /// The JSON type a contract column's values have in a JSON Lines file that readers type
    /// by the contract (the one the JSON Lines writer uses).
    fn of(ty: super::contract::ColumnType) -> Self {
        use super::contract::ColumnType;
        match ty {
            ColumnType::String | ColumnType::Date | ColumnType::Timestamp => JsonType::String,
            ColumnType::Int64 | ColumnType::Float64 => JsonType::Number,
            ColumnType::Bool => JsonType::Bool,
        }
    }
}

impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Borrowed(v), JsonType::String))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v.to_string()), JsonType::String))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v), JsonType::String))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Borrowed(if v { "true" } else { "false" }), JsonType::Bool))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v.to_string()), JsonType::Number))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Cell::Text(Cow::Owned(v.to_string()), JsonType::Number))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                // `{:?}` keeps a float a float (`1.0`, not `1`): a bool column then judges
                // JSON 1.0 as it judges a Parquet float 1.0.
                Ok(Cell::Text(Cow::Owned(format!("{v:?}")), JsonType::Number))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Cell::Null)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object with its keys in order.
struct Object<'a>(Vec<(Cow<'a, str>, Cell<'a>)>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some(key) = map.next_key::<Cell<'de>>()? {
                    let key = match key {
                        Cell::Text(k, _) => k,
                        Cell::Null => return Err(de::Error::custom("null key")),
                    };
                    out.push((key, map.next_value::<Cell<'de>>()?));
                }
                Ok(Object(out))
            }
        }
        d.deserialize_map(V)
    }
}

pub fn read_json(path: &Path, contract: &Contract) -> Result<Input, ValidateError> {
    let names: Vec<&str> = contract.columns.iter().map(|c| c.name.as_str()).collect();
    let types: Vec<JsonType> = contract.columns.iter().map(|c| JsonType::of(c.column_type)).collect();
    let columns = JsonColumns { names: &names, types: &types };
    let bom = |buf: &[u8]| if buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    // One look at the first byte decides the layout: `[` is one JSON array of records,
    // anything else JSON Lines.
    let mut head = Vec::new();
    let mut file = File::open(path).map_err(|e| unreadable(path, e.to_string()))?;
    let mut want = 1 << 12;
    let is_array = loop {
        let eof = fill(&mut file, &mut head, want, path)?;
        match head[bom(&head)..].iter().find(|b| !b.is_ascii_whitespace()) {
            Some(&b) => break b == b'[',
            None if eof => break false,
            None => want *= 4,
        }
    };
    drop(file);
    let parts = if is_array {
        // Records of an array can span lines and cannot be cut apart without parsing: the
        // file is read whole and parsed in order.
        let bytes = std::fs::read(path).map_err(|e| unreadable(path, e.to_string()))?;
        vec![parse_json_array(&bytes[bom(&bytes)..], &columns)]
    } else {
        let skip = |buf: &[u8], _eof: bool| -> Result<Option<usize>, ValidateError> { Ok(Some(bom(buf))) };
        stream_text(path, false, b'\n', skip, |bytes| parse_json_chunk(bytes, &columns))?.0
    };
    let source = Some(SourceFile::of(path, None)?);
    let (chunks, unparsed, extra, first_keys) = assemble(parts, 1);
    let mut input_columns = first_keys.unwrap_or_default();
    for c in &chunks {
        for (i, col) in c.columns.iter().enumerate() {
            if col.is_some() && !input_columns.iter().any(|n| n == names[i]) {
                input_columns.push(names[i].to_string());
            }
        }
    }
    for e in extra {
        if !input_columns.contains(&e) {
            input_columns.push(e);
        }
    }
    // The keys of its records are the file's columns, so a file without records has none,
    // like a CSV without a header: a file-level schema failure, whatever the row count.
    let any_records = !chunks.is_empty();
    Ok(Input { chunks, unparsed, input_columns, has_columns: any_records, missing_header: !any_records, source })
}

/// The contract's columns as a JSON reader needs them.
struct JsonColumns<'n> {
    names: &'n [&'n str],
    types: &'n [JsonType],
}

/// The rows of a JSON block as they are built, one record at a time.
struct JsonRows<'a, 'n> {
    columns: &'n JsonColumns<'n>,
    builders: Vec<StringBuilder>,
    seen: Vec<bool>,
    /// The columns the current record has set (a key given twice is caught).
    in_record: Vec<bool>,
    /// Each row's line in the block (None for an array, whose records are not lines).
    spans: Option<RowSpans>,
    /// One record's values, reused.
    row: Vec<Option<Cow<'a, str>>>,
    lines: Vec<u32>,
    local_records: Vec<u32>,
    unparsed: Vec<Unparsed>,
    extra_keys: Vec<String>,
    first_keys: Option<Vec<String>>,
    records: u64,
    rows: usize,
}

impl<'a, 'n> JsonRows<'a, 'n> {
    fn new(columns: &'n JsonColumns<'n>, bytes: usize, lines: bool) -> Self {
        let ncols = columns.names.len();
        let estimate = bytes / 200 + 16;
        JsonRows {
            columns,
            builders: (0..ncols).map(|_| StringBuilder::with_capacity(estimate, bytes / ncols.max(1))).collect(),
            seen: vec![false; ncols],
            in_record: vec![false; ncols],
            spans: lines.then(|| RowSpans { base: 0, spans: Vec::with_capacity(estimate), respell: Vec::new() }),
            row: vec![None; ncols],
            lines: Vec::with_capacity(estimate),
            local_records: Vec::new(),
            unparsed: Vec::new(),
            extra_keys: Vec::new(),
            first_keys: None,
            records: 0,
            rows: 0,
        }
    }

    fn reject(&mut self, line: u32, raw: &[u8], reason: String) {
        self.unparsed.push(Unparsed { record: self.records, line: Some(line as u64), raw: raw_bytes(raw), reason });
        if self.local_records.is_empty() {
            self.local_records.extend(0..self.rows as u32);
        }
        self.records += 1;
    }

    /// Adds a record; `span` is its line in the block (JSON Lines only).
    fn push(&mut self, obj: Object<'a>, line: u32, span: Option<(u32, u32)>) {
        if self.first_keys.is_none() {
            self.first_keys = Some(obj.0.iter().map(|(k, _)| k.to_string()).collect());
        }
        for slot in self.row.iter_mut() {
            *slot = None;
        }
        self.in_record.fill(false);
        // Whether the line says its values as the valid file must (see `RowSpans::respell`).
        let mut as_written = true;
        for (k, v) in obj.0 {
            match self.columns.names.iter().position(|n| *n == k) {
                Some(i) => {
                    self.seen[i] = true;
                    as_written &= !self.in_record[i];
                    self.in_record[i] = true;
                    self.row[i] = match v {
                        Cell::Text(t, ty) => {
                            as_written &= ty == self.columns.types[i];
                            Some(t)
                        }
                        Cell::Null => None,
                    };
                }
                None => {
                    as_written = false;
                    if !self.extra_keys.iter().any(|e| *e == k) {
                        self.extra_keys.push(k.into_owned());
                    }
                }
            }
        }
        if let (Some(spans), Some(span)) = (&mut self.spans, span) {
            if !as_written {
                spans.respell.push(self.rows as u32);
            }
            spans.spans.push(span);
        }
        for (b, v) in self.builders.iter_mut().zip(self.row.iter()) {
            b.append_option(v.as_deref());
        }
        if !self.unparsed.is_empty() {
            self.local_records.push(self.records as u32);
        }
        self.lines.push(line);
        self.rows += 1;
        self.records += 1;
    }

    fn finish(self, lines: u64) -> Parsed {
        let has_unparsed = !self.unparsed.is_empty();
        let chunk = Chunk {
            columns: self
                .builders
                .into_iter()
                .zip(self.seen)
                .map(|(mut b, seen)| seen.then(|| std::sync::Arc::new(b.finish()) as ArrayRef))
                .collect(),
            rows: self.rows,
            first_record: 0,
            local_records: has_unparsed.then_some(self.local_records),
            first_line: 0,
            lines: Some(self.lines),
            spans: self.spans,
        };
        Parsed {
            chunk,
            unparsed: self.unparsed,
            records: self.records,
            lines,
            extra_keys: self.extra_keys,
            first_keys: self.first_keys,
        }
    }
}

fn parse_json_chunk(bytes: &[u8], columns: &JsonColumns) -> Parsed {
    let mut out = JsonRows::new(columns, bytes.len(), true);
    let mut line_start = 0usize;
    for (line_no, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line_no as u32;
        let start = line_start;
        line_start += raw_line.len() + 1;
        let text = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let s = match std::str::from_utf8(text) {
            Ok(s) => s,
            Err(e) => {
                out.reject(line, text, format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()));
                continue;
            }
        };
        match serde_json::from_str::<Object>(s) {
            Ok(obj) => out.push(obj, line, Some((start as u32, (start + text.len()) as u32))),
            Err(e) => out.reject(line, text, format!("malformed JSON: {e}")),
        }
    }
    out.finish(memchr::memchr_iter(b'\n', bytes).count() as u64)
}

/// A file holding one JSON array of records (`[{...}, {...}]`): each element is a row;
/// an element that is not an object is quarantined alone; from a syntax error on, the
/// rest of the file is one quarantined record (its elements cannot be told apart).
fn parse_json_array(bytes: &[u8], columns: &JsonColumns) -> Parsed {
    let mut out = JsonRows::new(columns, bytes.len(), false);
    let skip_ws = |mut p: usize| {
        while p < bytes.len() && bytes[p].is_ascii_whitespace() {
            p += 1;
        }
        p
    };
    let (mut counted_to, mut line) = (0usize, 0u32);
    let mut line_at = |p: usize| {
        line += memchr::memchr_iter(b'\n', &bytes[counted_to..p]).count() as u32;
        counted_to = p;
        line
    };
    // Just after the opening `[` (the caller saw it first).
    let mut pos = skip_ws(0) + 1;
    let mut expect_element = true;
    loop {
        pos = skip_ws(pos);
        let at = line_at(pos.min(bytes.len()));
        match bytes.get(pos) {
            None => {
                out.reject(at, b"", "the JSON array does not close: `]` is missing at the end of the file".into());
                break;
            }
            Some(b']') => {
                pos += 1;
                break;
            }
            Some(b',') if !expect_element => {
                pos += 1;
                expect_element = true;
                continue;
            }
            Some(_) if expect_element => {}
            Some(_) => {
                out.reject(at, &bytes[pos..], "malformed JSON array: expected `,` or `]` after an element; the rest of the file is one record".into());
                pos = bytes.len();
                break;
            }
        }
        let mut records = serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<Object>();
        match records.next() {
            Some(Ok(obj)) => {
                out.push(obj, at, None);
                pos += records.byte_offset();
            }
            Some(Err(e)) => {
                let mut any = serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<de::IgnoredAny>();
                match any.next() {
                    Some(Ok(_)) => {
                        let end = pos + any.byte_offset();
                        out.reject(at, &bytes[pos..end], format!("array element is not a JSON object: {e}"));
                        pos = end;
                    }
                    _ => {
                        out.reject(at, &bytes[pos..], format!("malformed JSON: {e}; the rest of the file is one record"));
                        pos = bytes.len();
                        break;
                    }
                }
            }
            None => break,
        }
        expect_element = false;
    }
    let rest = skip_ws(pos.min(bytes.len()));
    if rest < bytes.len() {
        let at = line_at(rest);
        out.reject(at, &bytes[rest..], "text after the end of the JSON array".into());
    }
    out.finish(memchr::memchr_iter(b'\n', bytes).count() as u64)
}

// --- Parquet and Arrow ---------------------------------------------------------------------

/// Maps a batch's columns onto the contract's by name.
pub fn chunk_from_batch(batch: &RecordBatch, contract: &Contract, first_record: u64) -> Chunk {
    let schema = batch.schema();
    let columns = contract
        .columns
        .iter()
        .map(|c| schema.index_of(&c.name).ok().map(|i| batch.column(i).clone()))
        .collect();
    Chunk { columns, rows: batch.num_rows(), first_record, local_records: None, first_line: 0, lines: None, spans: None }
}

pub fn read_batches(batches: &[RecordBatch], input_columns: Vec<String>, contract: &Contract) -> Input {
    let mut first = 0u64;
    let mut chunks = Vec::with_capacity(batches.len());
    for b in batches {
        if b.num_rows() > 0 {
            chunks.push(chunk_from_batch(b, contract, first));
        }
        first += b.num_rows() as u64;
    }
    Input { chunks, unparsed: Vec::new(), input_columns, has_columns: true, missing_header: false, source: None }
}

pub fn read_parquet(path: &Path, contract: &Contract) -> Result<Input, ValidateError> {
    let open = || File::open(path).map_err(|e| unreadable(path, e.to_string()));
    let source = SourceFile::of(path, None)?;
    let size = source.len;
    let builder = ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(|e| {
        unreadable(path, format!("not a readable Parquet file: the footer at byte {size} (end of file) is invalid: {e}"))
    })?;
    let input_columns: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let groups: Vec<(usize, u64, i64)> = {
        let meta = builder.metadata();
        let mut start = 0u64;
        (0..meta.num_row_groups())
            .map(|i| {
                let n = meta.row_group(i).num_rows();
                let g = (i, start, n);
                start += n as u64;
                g
            })
            .collect()
    };
    drop(builder);
    let per_group: Vec<Vec<RecordBatch>> = groups
        .par_iter()
        .map(|&(i, start, n)| {
            let fail = |e: String| unreadable(path, format!("row group {i} (rows {start}..{}): {e}", start + n as u64));
            let reader = ParquetRecordBatchReaderBuilder::try_new(open()?)
                .map_err(|e| fail(e.to_string()))?
                .with_row_groups(vec![i])
                .with_batch_size(65_536)
                .build()
                .map_err(|e| fail(e.to_string()))?;
            let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(|e| fail(e.to_string()))?;
            let got: usize = batches.iter().map(|b| b.num_rows()).sum();
            if got as i64 != n {
                return Err(fail(format!("expected {n} rows, decoded {got}")));
            }
            Ok(batches)
        })
        .collect::<Result<_, ValidateError>>()?;
    let batches: Vec<RecordBatch> = per_group.into_iter().flatten().collect();
    Ok(Input { source: Some(source), ..read_batches(&batches, input_columns, contract) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    #[test]
    fn the_plain_csv_path_equals_the_general_one() {
        let good: &[u8] = b"a,b,c\n1,,x\n\n2,y\n3,\xc3\xa9,z\n4,\xff,q\n5,6,7";
        let mut bad = good.to_vec();
        bad[1] = 0xff;
        for input in [good.to_vec(), bad] {
            let mapping = [Some(0), None, Some(1)];
            let a = parse_plain_csv_chunk(&input, &mapping, 3, 2);
            let b = parse_quoted_csv_chunk(&input, &mapping, 3, 2);
            assert_eq!((a.records, a.lines, a.chunk.rows), (b.records, b.lines, b.chunk.rows));
            assert_eq!(a.chunk.lines, b.chunk.lines);
            assert_eq!(a.chunk.local_records, b.chunk.local_records);
            let au: Vec<_> = a.unparsed.iter().map(|u| (u.record, u.line, u.raw.clone(), u.reason.clone())).collect();
            let bu: Vec<_> = b.unparsed.iter().map(|u| (u.record, u.line, u.raw.clone(), u.reason.clone())).collect();
            assert_eq!(au, bu);
            for (x, y) in a.chunk.columns.iter().zip(&b.chunk.columns) {
                let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
                assert_eq!(x.as_string::<i32>(), y.as_string::<i32>());
            }
        }
    }
}
