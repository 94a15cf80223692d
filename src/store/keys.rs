//! Object keys and bucket names: validation, and the default bucket layout
//! (`../shared/spec/datasets.md`): `<kind>/<dataset>/ds=<ds>/<file>`.

use std::path::Path;

use super::StoreError;
use crate::datasets::parse_ds;

/// The three top-level prefixes of the bucket layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    ValidData,
    QuarantineData,
    DqReports,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::ValidData => "valid-data",
            Kind::QuarantineData => "quarantine-data",
            Kind::DqReports => "dq-reports",
        }
    }

    pub fn parse(value: &str) -> Result<Kind, StoreError> {
        match value {
            "valid-data" | "valid" => Ok(Kind::ValidData),
            "quarantine-data" | "quarantine" => Ok(Kind::QuarantineData),
            "dq-reports" | "report" | "reports" => Ok(Kind::DqReports),
            other => Err(StoreError::InvalidKey {
                key: other.to_string(),
                reason: "unknown kind; expected valid-data, quarantine-data or dq-reports".into(),
            }),
        }
    }

    /// The kind a file name implies: `*.report.json` / `report.json` are validation
    /// reports, `*.quarantine.*` quarantined rows, anything else valid data.
    pub fn infer(file_name: &str) -> Kind {
        if file_name == "report.json" || file_name.ends_with(".report.json") {
            Kind::DqReports
        } else if file_name.contains(".quarantine.") || file_name.contains("_quarantine.") {
            Kind::QuarantineData
        } else {
            Kind::ValidData
        }
    }
}

/// Longest key S3 accepts (bytes).
const MAX_KEY_BYTES: usize = 1024;

/// Rejects keys that could escape a prefix or confuse a store: empty, absolute, `.`/`..`
/// or empty segments, backslashes, control characters, too long.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| Err(StoreError::InvalidKey { key: key.to_string(), reason: reason.to_string() });
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute path (starts with '/')");
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("empty path segment ('//' or trailing '/')"),
            "." | ".." => return bad("contains a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// S3 bucket naming rules: 3-63 characters of lowercase letters, digits, '-' and '.',
/// starting and ending with a letter or digit, no '..', not an IP address.
pub fn validate_bucket(bucket: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| Err(StoreError::InvalidBucket { bucket: bucket.to_string(), reason: reason.to_string() });
    if !(3..=63).contains(&bucket.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return bad("only lowercase letters, digits, '-' and '.' are allowed");
    }
    let first = bucket.as_bytes()[0];
    let last = bucket.as_bytes()[bucket.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return bad("must not contain '..'");
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be an IP address");
    }
    Ok(())
}

/// Joins a prefix and a relative key, validating the result.
pub fn join_key(prefix: &str, rest: &str) -> Result<String, StoreError> {
    let prefix = prefix.trim_end_matches('/');
    let key = if prefix.is_empty() { rest.to_string() } else { format!("{prefix}/{rest}") };
    validate_key(&key)?;
    Ok(key)
}

/// `(dataset, ds)` from a file name `<dataset>_<ds>.<ext...>` (e.g.
/// `contacts_2025-05-25.csv`, `contacts_2025-05-25.quarantine.parquet`).
pub fn parse_file_name(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.split('.').next()?;
    let (dataset, ds) = stem.rsplit_once('_')?;
    if dataset.is_empty()
        || !dataset.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || parse_ds(ds).is_err()
    {
        return None;
    }
    Some((dataset.to_string(), ds.to_string()))
}

/// `(dataset, ds)` from a path already laid out as `.../<dataset>/ds=<ds>/<file>`.
fn parse_partition_dirs(path: &Path) -> Option<(String, String)> {
    let parent = path.parent()?;
    let ds = parent.file_name()?.to_str()?.strip_prefix("ds=")?;
    parse_ds(ds).ok()?;
    let dataset = parent.parent()?.file_name()?.to_str()?;
    Some((dataset.to_string(), ds.to_string()))
}

/// Where a file goes when nothing is given explicitly.
#[derive(Clone, Debug, Default)]
pub struct LayoutOverrides {
    pub kind: Option<Kind>,
    pub dataset: Option<String>,
    pub ds: Option<String>,
    /// A plain prefix: the key is `<prefix>/<file name>`, no dataset/ds partitioning.
    pub prefix: Option<String>,
}

/// The object key of one file, plus the dataset and ds it was filed under (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub key: String,
    pub dataset: Option<String>,
    pub ds: Option<String>,
}

/// The default layout: `<kind>/<dataset>/ds=<ds>/<file>`, where a report file is stored
/// as `report.json`. Dataset and ds come from the overrides, else the file name, else
/// the directories (`<dataset>/ds=<ds>/`).
pub fn place(path: &Path, layout: &LayoutOverrides) -> Result<Placement, StoreError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::InvalidKey {
            key: path.to_string_lossy().into_owned(),
            reason: "file name is not valid UTF-8".into(),
        })?;
    if let Some(prefix) = &layout.prefix {
        let key = join_key(prefix, file_name)?;
        return Ok(Placement { key, dataset: layout.dataset.clone(), ds: layout.ds.clone() });
    }
    let from_name = parse_file_name(file_name).or_else(|| parse_partition_dirs(path));
    let dataset = layout.dataset.clone().or_else(|| from_name.as_ref().map(|(d, _)| d.clone()));
    let ds = layout.ds.clone().or_else(|| from_name.as_ref().map(|(_, d)| d.clone()));
    let (Some(dataset), Some(ds)) = (dataset, ds) else {
        return Err(StoreError::InvalidKey {
            key: file_name.to_string(),
            reason: "cannot derive dataset and ds from the file name (expected <dataset>_<YYYY-MM-DD>.<ext>); \
                     pass dataset= and ds=, or prefix="
                .into(),
        });
    };
    if parse_ds(&ds).is_err() {
        return Err(StoreError::InvalidKey { key: ds, reason: "ds is not an ISO date YYYY-MM-DD".into() });
    }
    let kind = layout.kind.unwrap_or_else(|| Kind::infer(file_name));
    let object_name = if kind == Kind::DqReports { "report.json" } else { file_name };
    let key = join_key(kind.prefix(), &format!("{dataset}/ds={ds}/{object_name}"))?;
    Ok(Placement { key, dataset: Some(dataset), ds: Some(ds) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn default_layout_from_file_names() {
        let none = LayoutOverrides::default();
        let p = place(Path::new("data/contacts_2025-05-25.csv"), &none).unwrap();
        assert_eq!(p.key, "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
        assert_eq!(p.dataset.as_deref(), Some("contacts"));
        assert_eq!(p.ds.as_deref(), Some("2025-05-25"));
        let p = place(Path::new("website_activity_2025-05-25.json"), &none).unwrap();
        assert_eq!(p.key, "valid-data/website_activity/ds=2025-05-25/website_activity_2025-05-25.json");
        let p = place(Path::new("q/contacts_2025-05-25.quarantine.parquet"), &none).unwrap();
        assert_eq!(p.key, "quarantine-data/contacts/ds=2025-05-25/contacts_2025-05-25.quarantine.parquet");
        let p = place(Path::new("r/form_fills_2025-05-26.report.json"), &none).unwrap();
        assert_eq!(p.key, "dq-reports/form_fills/ds=2025-05-26/report.json");
        let p = place(Path::new("out/pages/ds=2025-05-25/report.json"), &none).unwrap();
        assert_eq!(p.key, "dq-reports/pages/ds=2025-05-25/report.json");
    }

    #[test]
    fn explicit_layout_wins() {
        let layout = LayoutOverrides {
            kind: Some(Kind::QuarantineData),
            dataset: Some("contacts".into()),
            ds: Some("2025-01-02".into()),
            prefix: None,
        };
        let p = place(&PathBuf::from("anything.parquet"), &layout).unwrap();
        assert_eq!(p.key, "quarantine-data/contacts/ds=2025-01-02/anything.parquet");
        let layout = LayoutOverrides { prefix: Some("raw/2025/".into()), ..Default::default() };
        assert_eq!(place(Path::new("x.bin"), &layout).unwrap().key, "raw/2025/x.bin");
    }

    #[test]
    fn unmappable_names_are_rejected() {
        let none = LayoutOverrides::default();
        assert!(matches!(place(Path::new("notes.txt"), &none), Err(StoreError::InvalidKey { .. })));
        assert!(place(Path::new("contacts_2025-13-40.csv"), &none).is_err());
        let bad_ds = LayoutOverrides { dataset: Some("c".into()), ds: Some("yesterday".into()), ..Default::default() };
        assert!(place(Path::new("x.csv"), &bad_ds).is_err());
    }

    #[test]
    fn bad_keys_are_rejected() {
        for key in ["", "/abs/key", "a/../b", "..", "a/./b", "a//b", "a/b/", "a\\b", "a\nb", "a\u{0}b", "tab\there"] {
            assert!(validate_key(key).is_err(), "{key:?} should be rejected");
        }
        assert!(validate_key(&"k".repeat(1025)).is_err());
        for key in ["a", "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv", "a b/ü.csv", "..a/b..", "x.y"] {
            assert!(validate_key(key).is_ok(), "{key:?} should be accepted");
        }
        let layout = LayoutOverrides { prefix: Some("../escape".into()), ..Default::default() };
        assert!(matches!(place(Path::new("x.csv"), &layout), Err(StoreError::InvalidKey { .. })));
        let layout = LayoutOverrides { dataset: Some("../x".into()), ds: Some("2025-01-01".into()), ..Default::default() };
        assert!(place(Path::new("x.csv"), &layout).is_err());
    }

    #[test]
    fn bucket_names() {
        for b in ["marketing-data", "abc", "a.b-c1", &"a".repeat(63)] {
            assert!(validate_bucket(b).is_ok(), "{b:?} should be accepted");
        }
        for b in ["ab", "Marketing", "under_score", "-abc", "abc-", "a..b", "192.168.1.1", &"a".repeat(64), "a/b", ""] {
            assert!(validate_bucket(b).is_err(), "{b:?} should be rejected");
        }
    }
}
