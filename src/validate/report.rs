//! The validation report and failure signatures.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `not_null`, `unique`, `pattern`, `accepted_values`, `range`, `foreign_key`,
    /// `freshness`, `row_rule`, `type`, `schema`, `row_count` or `parse`.
    pub check: String,
    pub column: Option<String>,
    /// The check's parameters in canonical form (what the signature covers).
    pub rule: String,
    /// The name used in the quarantine's `_failed_checks`, e.g. `pattern:email`.
    pub label: String,
    pub severity: String,
    pub tolerance: f64,
    /// `passed`, `failed`, `warn` (a warn-severity check found failures), `tolerated`
    /// (failures at or below the tolerance) or `skipped` (see `message`).
    pub status: String,
    pub rows_failed: u64,
    pub failed_fraction: f64,
    /// A file-level check (column order, missing header, row count): it has a status but
    /// does not mark rows.
    pub file_level: bool,
    pub samples: Vec<Option<String>>,
    /// MD5 over (dataset, check, column, rule): stable across runs and days, independent
    /// of the failing values, so a recurring defect keeps its signature.
    pub signature: String,
    pub message: Option<String>,
}

impl CheckResult {
    pub fn is_failure(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "warn" | "tolerated")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub dataset: String,
    pub ds: Option<String>,
    /// The input file, or a name for an in-memory table.
    pub source: String,
    pub format: Option<String>,
    pub contract_version: u32,
    pub rows_in: u64,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    /// `passed`, `warn` or `failed` (any check with status `failed`).
    pub status: String,
    pub checks: Vec<CheckResult>,
    pub valid_path: Option<String>,
    pub quarantine_path: Option<String>,
    /// What the run chose not to do, e.g. "no quarantine file written to ...: no invalid rows".
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// The canonical string a signature is computed from.
pub fn signature_input(dataset: &str, check: &str, column: Option<&str>, rule: &str) -> String {
    format!("{dataset}\u{1f}{check}\u{1f}{}\u{1f}{rule}", column.unwrap_or(""))
}

pub fn signature(dataset: &str, check: &str, column: Option<&str>, rule: &str) -> String {
    let digest = Md5::digest(signature_input(dataset, check, column, rule).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_md5_of_the_canonical_parameters() {
        let s = signature("contacts", "not_null", Some("email"), "");
        assert_eq!(s.len(), 32);
        assert_eq!(s, signature("contacts", "not_null", Some("email"), ""));
        assert_ne!(s, signature("contacts", "not_null", Some("email_"), ""));
        assert_ne!(s, signature("form_fills", "not_null", Some("email"), ""));
        // Known MD5 value, computed independently.
        let d = Md5::digest(b"abc");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "900150983cd24fb0d6963f7d28e17f72");
    }
}
