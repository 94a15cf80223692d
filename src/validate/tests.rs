//! Engine tests against the generator's fault injection and hand-made bad files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::datasets::{parse_ds, Dataset};
use crate::generate::{write_dataset, DayParams, DefectRates};

const DS: &str = "2025-05-25";

fn day(dir: &Path, defects: &[(&str, f64)], formats: &[(Dataset, FileFormat)]) -> BTreeMap<Dataset, PathBuf> {
    let params = DayParams {
        seed: 11,
        ds: parse_ds(DS).unwrap(),
        scale_factor: 0.02,
        defects: DefectRates::parse(defects.iter().copied()).unwrap(),
    };
    let mut out = BTreeMap::new();
    for d in Dataset::ALL {
        let format = formats.iter().find(|(x, _)| *x == d).map(|(_, f)| *f);
        let s = write_dataset(d, &params, dir, format, false, &mut |_, _| true).unwrap();
        out.insert(d, s.path);
    }
    out
}

fn options(files: &BTreeMap<Dataset, PathBuf>) -> ValidateOptions {
    ValidateOptions {
        ds: Some(parse_ds(DS).unwrap()),
        references: files.iter().map(|(d, p)| (d.name().to_string(), Reference::Path(p.clone()))).collect(),
        collect: true,
        ..Default::default()
    }
}

fn label(kind: &str, column: &str) -> String {
    match kind {
        "null_key" => format!("not_null:{column}"),
        "duplicate_key" => format!("unique:{column}"),
        "bad_email" => format!("pattern:{column}"),
        "stale_date" => format!("freshness:{column}"),
        "orphan_foreign_key" => format!("foreign_key:{column}"),
        "out_of_range" => format!("range:{column}"),
        "inconsistent_bounce" => "row_rule:bounce_iff_single_page".into(),
        other => panic!("unknown kind {other}"),
    }
}

/// (row, check label) pairs the manifest says must fail.
fn expected(manifest: &Path) -> BTreeSet<(i64, String)> {
    let m: serde_json::Value = serde_json::from_slice(&fs::read(manifest).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for d in m["defects"].as_array().unwrap() {
        let l = label(d["kind"].as_str().unwrap(), d["column"].as_str().unwrap());
        out.insert((d["row"].as_i64().unwrap(), l.clone()));
        if let Some(p) = d.get("partner_row").and_then(|p| p.as_i64()) {
            out.insert((p, l));
        }
    }
    out
}

fn found(q: &RecordBatch) -> BTreeSet<(i64, String)> {
    let checks = q.column_by_name(FAILED_CHECKS).unwrap().as_string::<i32>();
    let rows = q.column_by_name(SOURCE_ROW).unwrap().as_primitive::<Int64Type>();
    let mut out = BTreeSet::new();
    for i in 0..q.num_rows() {
        for c in checks.value(i).split(';') {
            out.insert((rows.value(i), c.to_string()));
        }
    }
    out
}

#[test]
fn every_injected_defect_is_flagged_exactly_in_every_format() {
    let all = [
        ("null_key", 0.01),
        ("duplicate_key", 0.01),
        ("bad_email", 0.02),
        ("stale_date", 0.01),
        ("orphan_foreign_key", 0.02),
        ("out_of_range", 0.01),
        ("inconsistent_bounce", 0.01),
    ];
    for format in [FileFormat::Csv, FileFormat::Json, FileFormat::Parquet] {
        let dir = tempfile::tempdir().unwrap();
        let formats: Vec<_> = [Dataset::Contacts, Dataset::FormFills, Dataset::WebsiteActivity].map(|d| (d, format)).into();
        let files = day(dir.path(), &all, &formats);
        for d in [Dataset::Contacts, Dataset::FormFills, Dataset::WebsiteActivity] {
            let path = &files[&d];
            let contract = Contract::default_for(d).unwrap();
            let out = validate_path(path, &contract, &options(&files)).unwrap();
            let r = &out.report;
            let q = out.quarantine.unwrap();
            let manifest = crate::generate::defects_path(dir.path(), path.file_name().unwrap().to_str().unwrap());
            let want = expected(&manifest);
            assert!(!want.is_empty());
            assert_eq!(found(&q), want, "{d} as {format}");
            assert_eq!(r.rows_in, d.rows(0.02) as u64);
            assert_eq!(r.rows_valid + r.rows_invalid, r.rows_in);
            assert_eq!(r.rows_invalid as usize, want.iter().map(|(r, _)| r).collect::<BTreeSet<_>>().len());
            for c in &r.checks {
                let n = want.iter().filter(|(_, l)| *l == c.label).count() as u64;
                assert_eq!(c.rows_failed, n, "{d} {format} {}", c.label);
            }
            assert!(r.checks.iter().all(|c| c.status != "skipped"), "{:?}", r.checks);
        }
    }
}

#[test]
fn clean_days_pass_their_own_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let files = day(dir.path(), &[], &[]);
    for (d, path) in &files {
        let out = validate_path(path, &Contract::default_for(*d).unwrap(), &options(&files)).unwrap();
        assert_eq!(out.report.status, "passed", "{d}: {:?}", out.report.checks);
        assert_eq!(out.report.rows_invalid, 0);
    }
}

fn contacts_contract() -> Contract {
    Contract::default_for(Dataset::Contacts).unwrap()
}

const HEADER: &str = "contact_id,first_name,last_name,email,company,industry,lead_source,job_title,country,opted_in,signup_date\n";
const ROW: &str = "123e4567-e89b-12d3-a456-426614174000,Ann,Lee,ann.lee1@acme.com,Acme,Retail,Web,CTO,France,true,2025-05-25 10:00:00\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn run_file(path: &Path) -> Outcome {
    let opts = ValidateOptions { ds: Some(parse_ds(DS).unwrap()), collect: true, ..Default::default() };
    validate_path(path, &contacts_contract(), &opts).unwrap()
}

#[test]
fn ragged_and_non_utf8_csv_rows_are_quarantined_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let row2 = ROW.replace("123e4567", "223e4567");
    let mut bytes = format!("{HEADER}{ROW}a,b,c\n{row2}").into_bytes();
    bytes.extend_from_slice(b"323e4567-e89b-12d3-a456-426614174000,Bo\xff,Lee,b@x.io,A,Retail,Web,CTO,France,true,2025-05-25 10:00:00\n");
    bytes.extend_from_slice(ROW.replace("123e4567", "423e4567").trim_end().as_bytes()); // no final newline
    let path = write(dir.path(), "contacts_2025-05-25.csv", &bytes);
    let out = run_file(&path);
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (5, 3, 2));
    let q = out.quarantine.unwrap();
    let lines = q.column_by_name(SOURCE_LINE).unwrap().as_primitive::<Int64Type>();
    let errors = q.column_by_name(ERROR).unwrap().as_string::<i32>();
    assert_eq!((lines.value(0), lines.value(1)), (3, 5));
    assert_eq!(errors.value(0), "expected 11 fields, found 3");
    assert!(errors.value(1).contains("invalid UTF-8 in field 2"), "{}", errors.value(1));
    let raw = q.column_by_name(RAW).unwrap().as_string::<i32>();
    assert_eq!(raw.value(0), "a,b,c");
    let parse = r.checks.iter().find(|c| c.check == "parse").unwrap();
    assert_eq!((parse.rows_failed, parse.status.as_str()), (2, "failed"));
    assert_eq!(parse.samples[0].as_deref(), Some("line 3: expected 11 fields, found 3"));
}

#[test]
fn uncastable_values_are_type_failures_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ROW.replace("true,2025-05-25 10:00:00", "maybe,yesterday").replace("123e4567", "923e4567");
    let path = write(dir.path(), "contacts_2025-05-25.csv", format!("{HEADER}{ROW}{bad}").as_bytes());
    let out = run_file(&path);
    let q = out.quarantine.unwrap();
    assert_eq!(q.num_rows(), 1);
    let checks = q.column_by_name(FAILED_CHECKS).unwrap().as_string::<i32>();
    assert_eq!(checks.value(0), "type:opted_in;type:signup_date");
    let v = q.column_by_name("signup_date").unwrap().as_string::<i32>();
    assert_eq!(v.value(0), "yesterday", "the quarantine keeps the value as it was read");
}

#[test]
fn empty_and_header_only_files_are_reported_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = run_file(&write(dir.path(), "contacts_2025-05-25.csv", b""));
    assert_eq!(empty.report.rows_in, 0);
    assert_eq!(empty.report.status, "failed");
    let schema = empty.report.checks.iter().find(|c| c.check == "schema").unwrap();
    assert_eq!(schema.message.as_deref(), Some("the file has no header or columns"));
    let header_only = run_file(&write(dir.path(), "contacts_2025-05-26.csv", HEADER.as_bytes()));
    assert_eq!(header_only.report.rows_in, 0);
    let rc = header_only.report.checks.iter().find(|c| c.check == "row_count").unwrap();
    assert_eq!(rc.status, "failed");
    assert!(header_only.report.checks.iter().all(|c| c.check == "row_count" || c.status != "failed"));
}

#[test]
fn malformed_json_lines_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"contact_id":"123e4567-e89b-12d3-a456-426614174000","first_name":"A","last_name":"B","email":"a@b.co","company":"C","industry":"Retail","lead_source":"Web","job_title":"J","country":"F","opted_in":true,"signup_date":"2025-05-25T01:02:03"}"#;
    let text = format!("{good}\n{{\"contact_id\": \"x\",\n\n[1,2]\n{}\n", good.replace("123e", "223e"));
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.json", text.as_bytes()));
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (4, 2, 2), "{:?}", r.checks);
    let q = out.quarantine.unwrap();
    let lines = q.column_by_name(SOURCE_LINE).unwrap().as_primitive::<Int64Type>();
    assert_eq!((lines.value(0), lines.value(1)), (2, 4));
    let errors = q.column_by_name(ERROR).unwrap().as_string::<i32>();
    assert!(errors.value(0).starts_with("malformed JSON: EOF while parsing"), "{}", errors.value(0));
}

#[test]
fn a_corrupt_parquet_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = day(dir.path(), &[], &[(Dataset::Contacts, FileFormat::Parquet)]);
    let bytes = fs::read(&files[&Dataset::Contacts]).unwrap();
    let cut = write(dir.path(), "contacts_2025-05-27.parquet", &bytes[..bytes.len() / 2]);
    let err = validate_path(&cut, &contacts_contract(), &ValidateOptions::default()).err().unwrap().to_string();
    assert!(err.starts_with(&format!("cannot read {}", cut.display())), "{err}");
    assert!(err.contains("Parquet"), "{err}");
}

#[test]
fn schema_drift_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // opted_in missing, an extra column, email before last_name.
    let header = "contact_id,first_name,email,last_name,company,industry,lead_source,job_title,country,signup_date,utm\n";
    let row = "123e4567-e89b-12d3-a456-426614174000,Ann,ann@acme.com,Lee,Acme,Retail,Web,CTO,France,2025-05-25 10:00:00,x\n";
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.csv", format!("{header}{row}").as_bytes()));
    let by = |rule: &str| out.report.checks.iter().find(|c| c.check == "schema" && c.rule == rule).unwrap().clone();
    assert_eq!(by("missing").column.as_deref(), Some("opted_in"));
    assert_eq!(by("missing").status, "failed");
    assert_eq!(by("extra").column.as_deref(), Some("utm"));
    assert_eq!(by("extra").status, "warn");
    assert_eq!(by("order").status, "warn");
    assert_eq!(out.report.rows_invalid, 1);
}

// --- readers: line ends, unclosed quotes, JSON arrays, duplicate columns, raw bytes ------

fn rows_of(n: usize) -> Vec<String> {
    (0..n).map(|i| ROW.trim_end().replace("123e4567", &format!("{:08x}", 0x1000_0000 + i))).collect()
}

fn source_lines(q: &RecordBatch) -> Vec<i64> {
    q.column_by_name(SOURCE_LINE).unwrap().as_primitive::<Int64Type>().iter().map(|v| v.unwrap()).collect()
}

#[test]
fn cr_lf_and_crlf_line_ends_read_alike_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let header = HEADER.trim_end();
    let rows = rows_of(4);
    let bad = "only,three,fields";
    for (name, sep) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
        // Row 3 (line 4) is ragged: its line must be 4 whatever the line end.
        let text = [header, &rows[0], &rows[1], bad, &rows[2], &rows[3]].join(sep) + sep;
        let out = run_file(&write(dir.path(), &format!("contacts_2025-05-25_{name}.csv"), text.as_bytes()));
        let r = &out.report;
        assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (5, 4, 1), "{name}: {:?}", r.checks);
        assert_eq!(source_lines(&out.quarantine.unwrap()), vec![4], "{name}");
    }
    // Mixed in one file, with a blank line and a quoted field holding a CRLF.
    let quoted = rows[2].replacen(",Ann,", ",\"An\r\nn\",", 1);
    let text = format!("{header}\r{}\n{}\r\n\r\n{bad}\r{quoted}\n{bad}\r\n{}", rows[0], rows[1], rows[3]);
    let out = run_file(&write(dir.path(), "contacts_2025-05-25_mixed.csv", text.as_bytes()));
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (6, 4, 2), "{:?}", r.checks);
    // header 1, rows 2 and 3, blank 4, bad 5, quoted 6-7, bad 8, last row 9.
    assert_eq!(source_lines(&out.quarantine.unwrap()), vec![5, 8]);
}

#[test]
fn the_split_points_of_a_cr_file_never_cut_a_crlf() {
    let row = b"a,b\r".repeat(CHUNK_LINES);
    let mut buf = row.clone();
    buf.extend_from_slice(b"x,y\r\n");
    buf.extend_from_slice(&row);
    let cuts = read::split_points_for_test(&buf, b'\r', true);
    assert!(cuts.len() > 1, "a big CR file is cut for parallel parsing");
    for c in cuts {
        assert!(buf[c - 1] == b'\r' && buf.get(c) != Some(&b'\n'), "cut at {c}");
    }
}

const CHUNK_LINES: usize = (4 << 20) / 4 + 10;

#[test]
fn header_only_or_empty_files_fail_a_missing_required_column() {
    let dir = tempfile::tempdir().unwrap();
    let header = HEADER.replace(",email", "");
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.csv", header.as_bytes()));
    let missing = out.report.checks.iter().find(|c| c.check == "schema" && c.rule == "missing").unwrap();
    assert_eq!((missing.column.as_deref(), missing.status.as_str()), (Some("email"), "failed"));
    assert!(missing.file_level);
    assert_eq!(out.report.status, "failed");
    // A JSON Lines file without records has none of the columns.
    let out = run_file(&write(dir.path(), "contacts_2025-05-26.json", b"\n"));
    let failed: Vec<_> = out.report.checks.iter().filter(|c| c.status == "failed").map(|c| c.label.as_str()).collect();
    assert_eq!(failed, ["schema", "row_count"]);
}

#[test]
fn an_unclosed_quote_quarantines_its_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows_of(2000);
    let mut lines: Vec<String> = rows.clone();
    lines[9] = lines[9].replacen(",Ann,", ",\"Ann,", 1);
    let text = format!("{HEADER}{}\n", lines.join("\n"));
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.csv", text.as_bytes()));
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (2000, 1999, 1), "{:?}", r.checks);
    let q = out.quarantine.unwrap();
    assert_eq!(source_lines(&q), vec![11]);
    let error = q.column_by_name(ERROR).unwrap().as_string::<i32>().value(0).to_string();
    assert!(error.starts_with("unterminated quote: field 2 opens a quote on this line"), "{error}");
    let parse = r.checks.iter().find(|c| c.check == "parse").unwrap();
    assert!(parse.samples[0].as_deref().unwrap().starts_with("line 11: unterminated quote"), "{:?}", parse.samples);
}

#[test]
fn a_json_array_of_records_is_read_record_by_record() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"contact_id":"123e4567-e89b-12d3-a456-426614174000","first_name":"A","last_name":"B","email":"a@b.co","company":"C","industry":"Retail","lead_source":"Web","job_title":"J","country":"F","opted_in":true,"signup_date":"2025-05-25T01:02:03"}"#;
    let pretty = good.replace(",\"", ",\n    \"");
    let text = format!("[\n  {pretty},\n  42,\n  {}\n]\n", good.replace("123e", "223e"));
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.json", text.as_bytes()));
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (3, 2, 1), "{:?}", r.checks);
    let q = out.quarantine.unwrap();
    assert_eq!(source_lines(&q), vec![13]);
    let error = q.column_by_name(ERROR).unwrap().as_string::<i32>().value(0).to_string();
    assert!(error.starts_with("array element is not a JSON object"), "{error}");
    let valid = &out.valid.unwrap().1;
    assert_eq!(valid.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    // A broken array: what cannot be split is one record, not lost.
    let out = run_file(&write(dir.path(), "contacts_2025-05-26.json", format!("[{good}, {{\"a\": ]").as_bytes()));
    let r = &out.report;
    assert_eq!((r.rows_in, r.rows_valid, r.rows_invalid), (2, 1, 1), "{:?}", r.checks);
}

#[test]
fn a_duplicated_csv_column_is_a_file_level_schema_failure() {
    let dir = tempfile::tempdir().unwrap();
    let header = HEADER.trim_end().to_string() + ",email\n";
    let row = ROW.trim_end().to_string() + ",other@x.io\n";
    let row2 = row.replace("123e4567", "223e4567");
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.csv", format!("{header}{row}{row2}").as_bytes()));
    let r = &out.report;
    assert_eq!(r.rows_in, 2);
    assert_eq!(r.rows_valid + r.rows_invalid, 2);
    let dup = r.checks.iter().find(|c| c.rule == "duplicate").unwrap();
    assert_eq!((dup.column.as_deref(), dup.status.as_str(), dup.file_level), (Some("email"), "failed", true));
    assert_eq!(dup.message.as_deref(), Some("column \"email\" appears 2 times (columns 4, 12); only the first is read"));
    assert!(r.checks.iter().all(|c| c.rule != "order"), "{:?}", r.checks);
    let emails = out.valid.unwrap().1[0].column_by_name("email").unwrap().as_string::<i32>().value(0).to_string();
    assert_eq!(emails, "ann.lee1@acme.com");
}

#[test]
fn the_quarantine_keeps_the_exact_bytes_of_an_unparsed_record() {
    let dir = tempfile::tempdir().unwrap();
    let bad: &[u8] = b"323e4567-e89b-12d3-a456-426614174000,Bo\xff\xfe,Lee";
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(bad);
    bytes.extend_from_slice(b"\r\n");
    let out = run_file(&write(dir.path(), "contacts_2025-05-25.csv", &bytes));
    let q = out.quarantine.unwrap();
    let b64 = q.column_by_name(RAW_BASE64).unwrap().as_string::<i32>().value(0).to_string();
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), bad);
    assert!(q.column_by_name(RAW).unwrap().as_string::<i32>().value(0).contains('\u{FFFD}'));
}

#[test]
fn casts_are_exact_or_a_type_failure() {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, TimestampNanosecondArray};
    use checks::{cast_column, parse_int, parse_timestamp};
    assert_eq!(parse_int("1.0"), Some(1));
    assert_eq!(parse_int("1e3"), Some(1000));
    assert_eq!(parse_int("-0.0"), Some(0));
    assert_eq!(parse_int("9007199254740993"), Some(9_007_199_254_740_993));
    assert_eq!(parse_int("9007199254740993.0"), Some(9_007_199_254_740_993));
    for bad in ["1.9", "2.5", "7.99", "1e-1", "1e19", "9223372036854775808", "", ".", "e3", "1.0000000000000000001"] {
        assert_eq!(parse_int(bad), None, "{bad}");
    }
    assert_eq!(parse_timestamp("1970-01-01T02:00:00+02:00"), Some(0));
    assert_eq!(parse_timestamp("1970-01-01 00:00:00-0130"), Some(5_400_000_000));
    assert_eq!(parse_timestamp("1970-01-01T00:00:00.000001000Z"), Some(1));
    assert_eq!(parse_timestamp("1970-01-01T00:00:00.0000001"), None);
    let failed = |a: ArrayRef, ty| cast_column(&a, ty).1;
    let floats: ArrayRef = Arc::new(Float64Array::from(vec![1.9, 2.5, 7.99, 1.0, -0.0, 1e3, 1e19]));
    assert_eq!(failed(floats.clone(), ColumnType::Int64), vec![0, 1, 2, 6]);
    assert_eq!(failed(floats, ColumnType::Bool), vec![0, 1, 2, 3, 4, 5, 6]);
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 2, -1, 1 << 62]));
    assert_eq!(failed(ints.clone(), ColumnType::Bool), vec![2, 3, 4]);
    let (bools, _) = cast_column(&ints, ColumnType::Bool);
    assert_eq!(bools.as_boolean().value(1), true);
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 1_001]).with_timezone("+02:00"));
    let (ts, f) = cast_column(&ns, ColumnType::Timestamp);
    assert_eq!(f, vec![1]);
    assert_eq!(ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().value(0), 1);
    assert_eq!(failed(ns, ColumnType::Date), vec![0, 1]);
}

// --- valid text files are the valid lines as read ------------------------------------------

/// Validates `path` with its valid rows written to a file of its own format; returns the
/// outcome, the valid file's bytes, and the bytes the re-encoding writer makes of the same
/// valid rows (what the valid file held before it was a copy).
fn valid_copy(path: &Path, contract: &Contract, opts: &ValidateOptions) -> (Outcome, Option<Vec<u8>>, Vec<u8>) {
    let format = FileFormat::from_path(path).unwrap();
    let dir = path.parent().unwrap();
    let valid_out = dir.join(format!("valid.{format}"));
    let opts = ValidateOptions { valid_out: Some(valid_out.clone()), collect: true, ..opts.clone() };
    let out = validate_path(path, contract, &opts).unwrap();
    let (schema, batches) = out.valid.as_ref().unwrap();
    let parts: Vec<write::Part> = batches.iter().map(|batch| write::Part { batch, drop: &[] }).collect();
    let reencoded_path = dir.join(format!("reencoded.{format}"));
    write_output(&reencoded_path, format, schema.clone(), &parts).unwrap();
    let copied = fs::read(&valid_out).ok();
    (out, copied, fs::read(&reencoded_path).unwrap())
}

/// The input's records minus the quarantined lines, each ended by `\n` (for files whose
/// records are single `\n`-ended lines).
fn lines_without(input: &[u8], header: bool, quarantine: &RecordBatch) -> Vec<u8> {
    let dropped: BTreeSet<i64> = source_lines(quarantine).into_iter().collect();
    let mut out = Vec::new();
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = i as i64 + 1;
        if line.is_empty() || (dropped.contains(&line_no) && !(header && line_no == 1)) {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

#[test]
fn valid_text_files_are_the_valid_lines_for_every_defect_kind() {
    for kind in crate::generate::DefectKind::ALL {
        for format in [FileFormat::Csv, FileFormat::Json] {
            let dir = tempfile::tempdir().unwrap();
            let facts = [Dataset::Contacts, Dataset::FormFills, Dataset::WebsiteActivity];
            let files = day(dir.path(), &[(kind.name(), 0.03)], &facts.map(|d| (d, format)));
            for d in facts.into_iter().filter(|d| kind.applies_to(*d)) {
                let path = &files[&d];
                let sub = dir.path().join(d.name());
                fs::create_dir_all(&sub).unwrap();
                let input = sub.join(path.file_name().unwrap());
                fs::copy(path, &input).unwrap();
                let (out, copied, reencoded) = valid_copy(&input, &Contract::default_for(d).unwrap(), &options(&files));
                assert!(out.report.rows_invalid > 0, "{kind:?} {d} {format}: defects were injected");
                let copied = copied.unwrap();
                // The generator writes what the writer writes: the copy is byte for byte
                // what re-encoding made, and exactly the input without its bad lines.
                assert!(copied == reencoded, "{kind:?} {d} {format}: the copy differs from the re-encoded file");
                let q = out.quarantine.as_ref().unwrap();
                let want = lines_without(&fs::read(&input).unwrap(), format == FileFormat::Csv, q);
                assert!(copied == want, "{kind:?} {d} {format}: the copy is not the input's valid lines");
            }
        }
    }
}

/// A malformed or unusual CSV: the valid file holds these bytes exactly.
fn assert_csv_copy(name: &str, input: &[u8], want: &str, verdict: (u64, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "contacts_2025-05-25.csv", input);
    let opts = ValidateOptions { ds: Some(parse_ds(DS).unwrap()), ..Default::default() };
    let (out, copied, reencoded) = valid_copy(&path, &contacts_contract(), &opts);
    let r = &out.report;
    assert_eq!((r.rows_valid, r.rows_invalid), verdict, "{name}: {:?}", r.checks);
    let copied = copied.unwrap();
    assert_eq!(String::from_utf8_lossy(&copied), want, "{name}");
    // Read back, the copy holds the very rows today's re-encoded file holds.
    let again = |bytes: &[u8], file: &str| {
        let p = write(dir.path(), file, bytes);
        let o = run_file(&p);
        assert_eq!(o.report.rows_invalid, 0, "{name}: {:?}", o.report.checks);
        let (schema, batches) = o.valid.unwrap();
        arrow::compute::concat_batches(&schema, &batches).unwrap()
    };
    assert_eq!(again(&copied, "copied.csv"), again(&reencoded, "reencoded.csv"), "{name}");
}

#[test]
fn malformed_csv_inputs_copy_their_valid_records() {
    let h = HEADER.trim_end();
    let r1 = ROW.trim_end();
    let r2 = r1.replace("123e4567", "223e4567");
    let r3 = r1.replace("123e4567", "323e4567");
    let want = format!("{h}\n{r1}\n{r2}\n");
    assert_csv_copy("crlf", format!("{h}\r\n{r1}\r\n{r2}\r\n").as_bytes(), &want, (2, 0));
    assert_csv_copy("lone cr", format!("{h}\r{r1}\r{r2}\r").as_bytes(), &want, (2, 0));
    assert_csv_copy("no final line end", format!("{h}\n{r1}\n{r2}").as_bytes(), &want, (2, 0));
    assert_csv_copy("blank lines", format!("{h}\n\n{r1}\n\n\n{r2}\n\n").as_bytes(), &want, (2, 0));
    assert_csv_copy("bom", format!("\u{feff}{h}\n{r1}\n{r2}\n").as_bytes(), &want, (2, 0));
    assert_csv_copy("header only", HEADER.as_bytes(), &format!("{h}\n"), (0, 0));
    assert_csv_copy("header only crlf", format!("{h}\r\n").as_bytes(), &format!("{h}\n"), (0, 0));
    // A quoted field with line ends inside is one record, copied whole (its CRLF kept: it
    // is the value), and quotes the writer would not need stay.
    let multi = r2.replace(",Acme,", ",\"Acme\r\nInc, \"\"the\"\" best\",");
    let quoted = r3.replace(",Ann,", ",\"Ann\",");
    assert_csv_copy(
        "embedded line ends",
        format!("{h}\r\n{r1}\r\n{multi}\r\n{quoted}\r\n").as_bytes(),
        &format!("{h}\n{r1}\n{multi}\n{quoted}\n"),
        (3, 0),
    );
    // Bad records are left out; the records around them are copied.
    let unclosed = r2.replace(",Ann,", ",\"Ann,");
    assert_csv_copy("unclosed quote", format!("{h}\n{r1}\n{unclosed}\n{r3}\n").as_bytes(), &format!("{h}\n{r1}\n{r3}\n"), (2, 1));
    let mut bytes = format!("{h}\n{r1}\n").into_bytes();
    bytes.extend_from_slice(&r2.replace("Ann", "An\u{1}").into_bytes().iter().map(|&b| if b == 1 { 0xff } else { b }).collect::<Vec<_>>());
    bytes.extend_from_slice(format!("\n{r3}\n").as_bytes());
    assert_csv_copy("non-utf-8", &bytes, &format!("{h}\n{r1}\n{r3}\n"), (2, 1));
    let ragged = format!("{h}\n{r1}\na,b\n{r3}\n");
    assert_csv_copy("ragged", ragged.as_bytes(), &format!("{h}\n{r1}\n{r3}\n"), (2, 1));
    // A value the writer spells otherwise is written as the writer spells it; the rest is copied.
    let upper = r2.replace(",true,", ",TRUE,");
    let offset = r3.replace("2025-05-25 10:00:00", "2025-05-25T12:00:00+02:00");
    assert_csv_copy(
        "respelled values",
        format!("{h}\n{r1}\n{upper}\n{offset}\n").as_bytes(),
        &format!("{h}\n{r1}\n{r2}\n{r3}\n"),
        (3, 0),
    );
}

#[test]
fn a_csv_whose_header_is_not_the_contracts_is_written_in_the_contracts_columns() {
    let dir = tempfile::tempdir().unwrap();
    // Columns reordered (a warning): the valid file has the contract's order.
    let names: Vec<&str> = HEADER.trim_end().split(',').collect();
    let values: Vec<&str> = ROW.trim_end().split(',').collect();
    let swap = |v: &[&str]| {
        let mut v = v.to_vec();
        v.swap(1, 2);
        v.join(",")
    };
    let path = write(dir.path(), "contacts_2025-05-25.csv", format!("{}\n{}\n", swap(&names), swap(&values)).as_bytes());
    let opts = ValidateOptions { ds: Some(parse_ds(DS).unwrap()), ..Default::default() };
    let (out, copied, reencoded) = valid_copy(&path, &contacts_contract(), &opts);
    assert_eq!((out.report.rows_valid, out.report.status.as_str()), (1, "warn"));
    assert_eq!(copied.as_deref(), Some(reencoded.as_slice()));
    assert_eq!(String::from_utf8(reencoded).unwrap(), format!("{HEADER}{ROW}"));
    // An extra column (a warning by default): dropped from the valid file.
    let path = write(dir.path(), "contacts_2025-05-25.csv", format!("{},extra\n{},x\n", HEADER.trim_end(), ROW.trim_end()).as_bytes());
    let (out, copied, _) = valid_copy(&path, &contacts_contract(), &opts);
    assert_eq!((out.report.rows_valid, out.report.status.as_str()), (1, "warn"));
    assert_eq!(String::from_utf8(copied.unwrap()).unwrap(), format!("{HEADER}{ROW}"));
    // A missing column: as an error, no row is valid; the header is the contract's.
    let short = |line: &str| line.trim_end().rsplit_once(',').unwrap().0.to_string();
    let path = write(dir.path(), "contacts_2025-05-25.csv", format!("{}\n{}\n", short(HEADER), short(ROW)).as_bytes());
    let (out, copied, _) = valid_copy(&path, &contacts_contract(), &opts);
    assert_eq!((out.report.rows_valid, out.report.status.as_str()), (0, "failed"));
    assert_eq!(String::from_utf8(copied.unwrap()).unwrap(), HEADER);
}

#[test]
fn a_quoted_empty_csv_field_is_written_as_a_null() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{"dataset":"t","columns":[{"name":"id","type":"string"},{"name":"note","type":"string","required":false}]}"#;
    let contract = Contract::from_json(text).unwrap();
    let rest: String = (3..12).map(|i| format!("{i},\n")).collect();
    let path = write(dir.path(), "t.csv", format!("id,note\n1,\"\"\n2,\"a\"\n{rest}").as_bytes());
    let (out, copied, _) = valid_copy(&path, &contract, &ValidateOptions::default());
    assert_eq!(out.report.rows_valid, 11);
    // `""` is a null here and an empty string to other readers: that row is written anew.
    assert_eq!(String::from_utf8(copied.unwrap()).unwrap(), format!("id,note\n1,\n2,\"a\"\n{rest}"));
    // When most of a block's rows need it, the block is written anew whole.
    let path = write(dir.path(), "t.csv", b"id,note\n1,\"\"\n2,\"a\"\n3,\n");
    let (_, copied, reencoded) = valid_copy(&path, &contract, &ValidateOptions::default());
    assert_eq!(String::from_utf8(copied.unwrap()).unwrap(), "id,note\n1,\n2,a\n3,\n");
    assert_eq!(String::from_utf8(reencoded).unwrap(), "id,note\n1,\n2,a\n3,\n");
}

/// A JSON Lines input for `t` with a string, an int, a bool and a timestamp column.
fn json_copy(input: &[u8], extra: &str) -> (Outcome, Option<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{"dataset":"t","columns":[{{"name":"s","type":"string"}},{{"name":"n","type":"int64","required":false}},
            {{"name":"b","type":"bool","required":false}},{{"name":"t","type":"timestamp","required":false}}]{extra}}}"#
    );
    let contract = Contract::from_json(&text).unwrap();
    let path = write(dir.path(), "t.json", input);
    let (out, copied, reencoded) = valid_copy(&path, &contract, &ValidateOptions::default());
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out, copied.map(text), text(reencoded))
}

#[test]
fn malformed_json_lines_inputs_copy_their_valid_lines() {
    let a = r#"{"s":"a","n":1,"b":true,"t":"2025-05-25T10:00:00"}"#;
    let b = r#"{"t":null, "n":-2, "s":"b\"\u00e9"}"#; // keys in another order, spaces, escapes
    let want = format!("{a}\n{b}\n");
    for (name, input) in [
        ("lf", format!("{a}\n{b}\n")),
        ("crlf", format!("{a}\r\n{b}\r\n")),
        ("bom", format!("\u{feff}{a}\n{b}\n")),
        ("blank lines", format!("\n{a}\n  \n\r\n{b}")),
    ] {
        let (out, copied, _) = json_copy(input.as_bytes(), "");
        assert_eq!(out.report.rows_valid, 2, "{name}");
        assert_eq!(copied.as_deref(), Some(want.as_str()), "{name}");
    }
    // Bad lines are left out.
    let mut input = format!("{a}\n{{\"s\":\n").into_bytes();
    input.extend_from_slice(b"\xff\n");
    input.extend_from_slice(format!("{b}\n").as_bytes());
    let (out, copied, _) = json_copy(&input, "");
    assert_eq!((out.report.rows_valid, out.report.rows_invalid), (2, 2));
    assert_eq!(copied.as_deref(), Some(want.as_str()));
    // Values of another JSON type than the contract's, a repeated key: written anew.
    let input = format!("{a}\n{}\n{}\n{}\n", r#"{"s":5,"n":1}"#, r#"{"s":"c","n":1.0,"b":1}"#, r#"{"s":"d","s":"e"}"#);
    let (out, copied, reencoded) = json_copy(input.as_bytes(), "");
    assert_eq!(out.report.rows_valid, 4);
    let lines: Vec<&str> = reencoded.lines().collect();
    assert_eq!(copied.unwrap(), format!("{a}\n{}\n{}\n{}\n", lines[1], lines[2], lines[3]));
    assert_eq!(lines[1], r#"{"s":"5","n":1,"b":null,"t":null}"#);
    // An extra key, tolerated as a warning: that line is written without it.
    let input = format!("{a}\n{}\n", r#"{"s":"x","extra":1}"#);
    let (out, copied, _) = json_copy(input.as_bytes(), r#","extra_columns":"warn""#);
    assert_eq!((out.report.rows_valid, out.report.status.as_str()), (2, "warn"));
    assert_eq!(copied.unwrap(), format!("{a}\n{}\n", r#"{"s":"x","n":null,"b":null,"t":null}"#));
    // A JSON array is no lines: it is written anew, as JSON Lines.
    let (out, copied, reencoded) = json_copy(format!("[{a},\n {b}]").as_bytes(), "");
    assert_eq!(out.report.rows_valid, 2);
    assert_eq!(copied.unwrap(), reencoded);
    // No valid line: no file (an empty JSON Lines file cannot be read back).
    let (out, copied, _) = json_copy(b"{\"s\":null}\n", "");
    assert_eq!(out.report.rows_valid, 0);
    assert_eq!(copied, None);
    assert!(out.report.notes.iter().any(|n| n.contains("no valid file written")), "{:?}", out.report.notes);
}

#[test]
fn a_file_changed_during_validation_is_not_copied_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "contacts_2025-05-25.csv", format!("{HEADER}{ROW}").as_bytes());
    let input = read::read_csv(&path, &contacts_contract()).unwrap();
    fs::write(&path, format!("{HEADER}{ROW}{ROW}")).unwrap();
    let source = input.source.as_ref().unwrap();
    assert!(!source.unchanged());
    let out = dir.path().join("valid.csv");
    let contract = contacts_contract();
    let err = copy::write_valid_lines(source, &out, FileFormat::Csv, contract.schema(), &[], &[], &contract).unwrap_err();
    assert!(err.to_string().contains("changed while it was being validated"), "{err}");
    assert!(!out.exists());
}

// --- valid Parquet files copy their clean row groups -------------------------------------

/// Rewrites a Parquet file with row groups of `rows` rows (same schema).
fn regroup(path: &Path, out: &Path, rows: usize) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(rows)).build();
    let mut w = parquet::arrow::ArrowWriter::try_new(fs::File::create(out).unwrap(), schema, Some(props)).unwrap();
    for b in reader.build().unwrap() {
        w.write(&b.unwrap()).unwrap();
    }
    w.close().unwrap();
}

/// Each row group's column chunks, as their encoded bytes.
fn encoded_row_groups(path: &Path) -> Vec<Vec<Vec<u8>>> {
    let bytes = fs::read(path).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap()).unwrap().metadata().clone();
    meta.row_groups()
        .iter()
        .map(|g| {
            g.columns()
                .iter()
                .map(|c| {
                    let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset()) as usize;
                    bytes[start..start + c.compressed_size() as usize].to_vec()
                })
                .collect()
        })
        .collect()
}

fn decoded(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn clean_parquet_row_groups_are_copied_encoded_and_the_rest_re_encoded() {
    for kind in crate::generate::DefectKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let facts = [Dataset::Contacts, Dataset::FormFills, Dataset::WebsiteActivity];
        let files = day(dir.path(), &[(kind.name(), 0.005)], &facts.map(|d| (d, FileFormat::Parquet)));
        for d in facts.into_iter().filter(|d| kind.applies_to(*d)) {
            let sub = dir.path().join(d.name());
            fs::create_dir_all(&sub).unwrap();
            let input = sub.join(files[&d].file_name().unwrap());
            regroup(&files[&d], &input, 64);
            let valid = sub.join("valid.parquet");
            let opts = ValidateOptions { valid_out: Some(valid.clone()), ..options(&files) };
            let out = validate_path(&input, &Contract::default_for(d).unwrap(), &opts).unwrap();
            assert!(out.report.rows_invalid > 0, "{kind:?} {d}");
            // The rows are the valid rows, as today's re-encoding writes them.
            let (schema, batches) = out.valid.unwrap();
            assert_eq!(decoded(&valid), arrow::compute::concat_batches(&schema, &batches).unwrap(), "{kind:?} {d}");
            // Every input row group without a quarantined row is in the output, byte for byte.
            let q = out.quarantine.unwrap();
            let bad: BTreeSet<i64> = q.column_by_name(SOURCE_ROW).unwrap().as_primitive::<Int64Type>().values().iter().copied().collect();
            let written = encoded_row_groups(&valid);
            let groups = encoded_row_groups(&input);
            let clean: Vec<usize> = (0..groups.len()).filter(|g| !bad.iter().any(|r| (*r as usize) / 64 == *g)).collect();
            assert!(!clean.is_empty() && clean.len() < groups.len(), "{kind:?} {d}: {} clean of {}", clean.len(), groups.len());
            for g in clean {
                assert!(written.contains(&groups[g]), "{kind:?} {d}: clean row group {g} was not copied");
            }
        }
    }
}

#[test]
fn a_parquet_input_with_other_columns_than_the_contracts_is_encoded_anew() {
    let dir = tempfile::tempdir().unwrap();
    let files = day(dir.path(), &[], &[(Dataset::Contacts, FileFormat::Parquet)]);
    let table = decoded(&files[&Dataset::Contacts]);
    // The same rows with `opted_in` as text: cast to bool, so no column chunk can be copied.
    let mut columns = table.columns().to_vec();
    let at = table.schema().index_of("opted_in").unwrap();
    columns[at] = arrow::compute::cast(&columns[at], &arrow::datatypes::DataType::Utf8).unwrap();
    let mut fields: Vec<arrow::datatypes::Field> = table.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[at] = arrow::datatypes::Field::new("opted_in", arrow::datatypes::DataType::Utf8, true);
    let text = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
    let input = dir.path().join("in").join(files[&Dataset::Contacts].file_name().unwrap());
    crate::validate::write::write_parquet(&input, text.schema(), &[text]).unwrap();
    let valid = dir.path().join("valid.parquet");
    let opts = ValidateOptions { valid_out: Some(valid.clone()), ..options(&files) };
    let out = validate_path(&input, &contacts_contract(), &opts).unwrap();
    assert_eq!(out.report.rows_invalid, 0);
    let got = decoded(&valid);
    assert_eq!(got.schema().field(at).data_type(), &arrow::datatypes::DataType::Boolean);
    assert_eq!(got.columns(), table.columns());
}
