//! Engine tests against the generator's fault injection and hand-made bad files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;

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
