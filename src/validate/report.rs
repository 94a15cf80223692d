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
    /// (failures at or below the tolerance), `skipped` (see `message`) or `error` (the
    /// check could not run, e.g. its reference data is unreadable; see `message`).
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
        matches!(self.status.as_str(), "failed" | "warn" | "tolerated" | "error")
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
    /// `passed`, `warn`, `failed` (any check with status `failed`) or `error` (any check
    /// with status `error`: the file could not be fully judged).
    pub status: String,
    pub checks: Vec<CheckResult>,
    pub valid_path: Option<String>,
    pub quarantine_path: Option<String>,
    /// What the run chose not to do, e.g. "no quarantine file written to ...: no invalid rows".
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// A sample value of a `pii` column as it may leave the file: every run of letters and
/// digits keeps its first character (when it has two or more) and the rest become `*`;
/// punctuation, spaces and an email's top-level domain stay, so the shape of a defect is
/// still visible (`jane doe@example.com` -> `j*** d**@e******.com`). Length is kept in
/// characters. Never the full value: one that would come out unchanged is all `*`.
pub fn mask_sample(value: &str) -> String {
    // The top-level domain of something email-like: after the last '.' after the last '@'.
    let tld_start = value.rfind('@').and_then(|at| value[at..].rfind('.').map(|d| at + d + 1));
    let mut out = String::with_capacity(value.len());
    let mut run = 0usize;
    for (i, ch) in value.char_indices() {
        if tld_start.is_some_and(|t| i >= t) {
            out.push_str(&value[i..]);
            break;
        }
        if ch.is_alphanumeric() {
            let next_is_alnum = value[i + ch.len_utf8()..].chars().next().is_some_and(char::is_alphanumeric);
            // The first of a run of two or more stays; a lone character is masked.
            out.push(if run == 0 && next_is_alnum { ch } else { '*' });
            run += 1;
        } else {
            out.push(ch);
            run = 0;
        }
    }
    if out == value && !value.is_empty() {
        return "*".repeat(value.chars().count());
    }
    out
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

    #[test]
    fn masked_samples_keep_the_shape_but_never_the_value() {
        assert_eq!(mask_sample("jane.doe@example.com"), "j***.d**@e******.com");
        assert_eq!(mask_sample("jane doe@example.com"), "j*** d**@e******.com");
        assert_eq!(mask_sample("jane.doe.example.com"), "j***.d**.e******.c**");
        assert_eq!(mask_sample("a@b.co"), "*@*.co");
        assert_eq!(mask_sample("Al"), "A*");
        assert_eq!(mask_sample("X"), "*");
        assert_eq!(mask_sample("José Müller"), "J*** M*****");
        assert_eq!(mask_sample("@.com"), "*****");
        assert_eq!(mask_sample(""), "");
        for v in ["jane.doe@example.com", "Al", "X", "@@", "a b", "élan@ü.de"] {
            let m = mask_sample(v);
            assert_ne!(m, v);
            assert_eq!(m.chars().count(), v.chars().count(), "{v}");
        }
    }
}
