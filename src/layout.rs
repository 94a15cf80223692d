//! The one place that spells the bucket layout (`../shared/spec/datasets.md`) and the
//! file-name grammar: Rust (validation outputs, upload keys), Python
//! (`marketing_core.layout`), the DAGs and the dbt loaders all ask this module, or a test
//! proves they agree with it.
//!
//! - a data file is named `<dataset>_<ds>.<ext>` (`contacts_2025-05-25.csv`);
//! - an object (and a validation output under `out_dir`) lives at
//!   `<kind>/<dataset>/ds=<ds>/<file>`, where `kind` is `valid-data`, `quarantine-data` or
//!   `dq-reports`, and a DQ report's file is always `report.json`;
//! - the quarantine file keeps the data file's name; its folder says what it is. A loose
//!   file may still say it by name (`*.quarantine.*`, `*.report.json`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::datasets::parse_ds;
use crate::store::keys::join_key;
use crate::store::StoreError;

/// The three top-level prefixes of the bucket layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    ValidData,
    QuarantineData,
    DqReports,
}

/// Every kind, in pipeline order.
pub const KINDS: [Kind; 3] = [Kind::ValidData, Kind::QuarantineData, Kind::DqReports];

/// The object name of a DQ report, whatever the local file is called.
pub const REPORT_FILE: &str = "report.json";

/// The partition folder's marker: `ds=<ds>`.
const DS_PREFIX: &str = "ds=";

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::ValidData => "valid-data",
            Kind::QuarantineData => "quarantine-data",
            Kind::DqReports => "dq-reports",
        }
    }

    /// The kind a folder name is, if it is one (`valid-data`, ...).
    pub fn from_prefix(value: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.prefix() == value)
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

    /// The kind a bare file name implies: `*.report.json` / `report.json` are validation
    /// reports, `*.quarantine.*` quarantined rows, anything else valid data. Only used
    /// when no folder of the path names a kind (see [`kind_of_path`]).
    pub fn infer(file_name: &str) -> Kind {
        if file_name == REPORT_FILE || file_name.ends_with(".report.json") {
            Kind::DqReports
        } else if file_name.contains(".quarantine.") || file_name.contains("_quarantine.") {
            Kind::QuarantineData
        } else {
            Kind::ValidData
        }
    }
}

/// `<dataset>_<ds>.<ext>`.
pub fn data_file_name(dataset: &str, ds: &str, ext: &str) -> String {
    format!("{dataset}_{ds}.{ext}")
}

/// `(dataset, ds, rest)` from a file name `<dataset>_<ds>.<rest>` (`rest` is everything
/// after the first dot: `csv`, `quarantine.parquet`, `report.json`).
pub fn parse_file_name(file_name: &str) -> Option<(String, String, String)> {
    let (stem, rest) = file_name.split_once('.')?;
    let (dataset, ds) = stem.rsplit_once('_')?;
    if dataset.is_empty()
        || !dataset.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || parse_ds(ds).is_err()
        || rest.is_empty()
    {
        return None;
    }
    Some((dataset.to_string(), ds.to_string(), rest.to_string()))
}

/// `<kind>/<dataset>/ds=<ds>`: one dataset's day in the bucket (or under an `out_dir`).
/// Not validated, so a template (`{{ ds }}`) or a glob (`*`) can stand for a part.
pub fn day_prefix(kind: Kind, dataset: &str, ds: &str) -> String {
    format!("{}/{dataset}/{DS_PREFIX}{ds}", kind.prefix())
}

/// The object name a file is stored under in a kind's folder.
pub fn object_name(kind: Kind, file_name: &str) -> &str {
    if kind == Kind::DqReports {
        REPORT_FILE
    } else {
        file_name
    }
}

/// `<kind>/<dataset>/ds=<ds>/<file>` (a report's file is `report.json`), validated.
pub fn object_key(kind: Kind, dataset: &str, ds: &str, file_name: &str) -> Result<String, StoreError> {
    if parse_ds(ds).is_err() {
        return Err(StoreError::InvalidKey { key: ds.to_string(), reason: "ds is not an ISO date YYYY-MM-DD".into() });
    }
    join_key(&day_prefix(kind, dataset, ds), object_name(kind, file_name))
}

/// The parts of a key in the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    pub kind: Kind,
    pub dataset: String,
    pub ds: String,
    pub file_name: String,
}

/// `<kind>/<dataset>/ds=<ds>/<file>` back into its parts; None for a key outside the
/// layout. A leading prefix (`raw/2025/valid-data/...`) is allowed: the layout is
/// recognised by its last four segments.
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let segments: Vec<&str> = key.split('/').collect();
    let [.., kind, dataset, ds, file_name] = segments.as_slice() else {
        return None;
    };
    let kind = Kind::from_prefix(kind)?;
    let ds = ds.strip_prefix(DS_PREFIX)?;
    parse_ds(ds).ok()?;
    if dataset.is_empty() || file_name.is_empty() {
        return None;
    }
    Some(KeyParts { kind, dataset: dataset.to_string(), ds: ds.to_string(), file_name: file_name.to_string() })
}

/// The kind named by the nearest folder of `path` (`.../quarantine-data/contacts/ds=.../x.csv`).
pub fn kind_of_path(path: &Path) -> Option<Kind> {
    path.parent()?
        .components()
        .rev()
        .find_map(|c| match c {
            Component::Normal(name) => name.to_str().and_then(Kind::from_prefix),
            _ => None,
        })
}

/// `(dataset, ds)` from a path already laid out as `.../<dataset>/ds=<ds>/<file>`.
fn parse_partition_dirs(path: &Path) -> Option<(String, String)> {
    let parent = path.parent()?;
    let ds = parent.file_name()?.to_str()?.strip_prefix(DS_PREFIX)?;
    parse_ds(ds).ok()?;
    let dataset = parent.parent()?.file_name()?.to_str()?;
    Some((dataset.to_string(), ds.to_string()))
}

/// Where one validation run writes under `out_dir`: the valid rows, the quarantine (both
/// named after the input, with `ext`) and the report. An unknown day is `ds=unknown`.
pub fn output_paths(out_dir: &Path, dataset: &str, ds: Option<&str>, input_file_name: &str, ext: &str) -> [PathBuf; 3] {
    let ds = ds.unwrap_or("unknown");
    let stem = input_file_name.split_once('.').map_or(input_file_name, |(stem, _)| stem);
    let file_name = format!("{stem}.{ext}");
    let at = |kind: Kind| out_dir.join(day_prefix(kind, dataset, ds)).join(object_name(kind, &file_name));
    [at(Kind::ValidData), at(Kind::QuarantineData), at(Kind::DqReports)]
}

/// Upload overrides: what the caller fixed instead of the layout's defaults.
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

/// The key of a local file in the default layout. The kind comes from the overrides,
/// else the nearest `valid-data/` / `quarantine-data/` / `dq-reports/` folder, else the
/// file name; dataset and ds from the overrides, else the file name, else the folders
/// (`<dataset>/ds=<ds>/`). A file name and folders that disagree are an error: one of
/// them is wrong and guessing would publish the file under the wrong day.
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
    let from_name = parse_file_name(file_name).map(|(d, ds, _)| (d, ds));
    let from_dirs = parse_partition_dirs(path);
    if let (Some(name), Some(dirs)) = (&from_name, &from_dirs) {
        if name != dirs && layout.dataset.is_none() && layout.ds.is_none() {
            return Err(StoreError::InvalidKey {
                key: path.to_string_lossy().into_owned(),
                reason: format!(
                    "the file name says dataset {} ds {} but its folders say dataset {} ds {}",
                    name.0, name.1, dirs.0, dirs.1
                ),
            });
        }
    }
    let derived = from_name.or(from_dirs);
    let dataset = layout.dataset.clone().or_else(|| derived.as_ref().map(|(d, _)| d.clone()));
    let ds = layout.ds.clone().or_else(|| derived.as_ref().map(|(_, d)| d.clone()));
    let (Some(dataset), Some(ds)) = (dataset, ds) else {
        return Err(StoreError::InvalidKey {
            key: file_name.to_string(),
            reason: "cannot derive dataset and ds from the file name (expected <dataset>_<YYYY-MM-DD>.<ext>); \
                     pass dataset= and ds=, or prefix="
                .into(),
        });
    };
    let kind = layout.kind.or_else(|| kind_of_path(path)).unwrap_or_else(|| Kind::infer(file_name));
    let key = object_key(kind, &dataset, &ds, file_name)?;
    Ok(Placement { key, dataset: Some(dataset), ds: Some(ds) })
}

/// Refuses two local files mapped to one key in one upload (the second would overwrite
/// or conflict with the first), before any request is sent.
pub fn check_unique_keys<'a>(items: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Result<(), StoreError> {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for (path, key) in items {
        if let Some(first) = seen.insert(key, path) {
            if first != path {
                return Err(StoreError::InvalidKey {
                    key: key.to_string(),
                    reason: format!("two files map to this key: {} and {}", first.display(), path.display()),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_folder_names_the_kind_before_the_file_name() {
        let none = LayoutOverrides::default();
        let [valid, quarantine, report] =
            output_paths(Path::new("/out"), "contacts", Some("2025-05-25"), "contacts_2025-05-25.csv", "csv");
        // The valid and the quarantine file share a name: only the folder tells them apart.
        assert_eq!(valid.file_name(), quarantine.file_name());
        assert_eq!(place(&valid, &none).unwrap().key, "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
        assert_eq!(place(&quarantine, &none).unwrap().key, "quarantine-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
        assert_eq!(place(&report, &none).unwrap().key, "dq-reports/contacts/ds=2025-05-25/report.json");
        // A folder beats a misleading name; an explicit kind beats both.
        let p = Path::new("x/quarantine-data/contacts_2025-05-25.csv");
        assert_eq!(place(p, &none).unwrap().key, "quarantine-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
        let forced = LayoutOverrides { kind: Some(Kind::ValidData), ..Default::default() };
        assert_eq!(place(p, &forced).unwrap().key, "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
    }

    #[test]
    fn names_and_folders_that_disagree_are_refused() {
        let p = Path::new("valid-data/contacts/ds=2025-05-26/contacts_2025-05-25.csv");
        let err = place(p, &LayoutOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("ds 2025-05-25") && err.contains("ds 2025-05-26"), "{err}");
    }

    #[test]
    fn explicit_layout_wins() {
        let layout = LayoutOverrides {
            kind: Some(Kind::QuarantineData),
            dataset: Some("contacts".into()),
            ds: Some("2025-01-02".into()),
            prefix: None,
        };
        let p = place(Path::new("anything.parquet"), &layout).unwrap();
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
        let layout = LayoutOverrides { prefix: Some("../escape".into()), ..Default::default() };
        assert!(matches!(place(Path::new("x.csv"), &layout), Err(StoreError::InvalidKey { .. })));
        let layout = LayoutOverrides { dataset: Some("../x".into()), ds: Some("2025-01-01".into()), ..Default::default() };
        assert!(place(Path::new("x.csv"), &layout).is_err());
    }

    #[test]
    fn keys_parse_back_into_their_parts() {
        for kind in KINDS {
            let key = object_key(kind, "form_fills", "2025-05-25", "form_fills_2025-05-25.parquet").unwrap();
            let parts = parse_key(&key).unwrap();
            assert_eq!((parts.kind, parts.dataset.as_str(), parts.ds.as_str()), (kind, "form_fills", "2025-05-25"));
            assert!(key.starts_with(&format!("{}/", day_prefix(kind, "form_fills", "2025-05-25"))));
        }
        assert_eq!(parse_key("raw/valid-data/pages/ds=2025-05-25/p.json").unwrap().dataset, "pages");
        for key in ["valid-data/contacts/2025-05-25/x.csv", "other/contacts/ds=2025-05-25/x.csv", "x.csv", "valid-data/c/ds=May/x"] {
            assert_eq!(parse_key(key), None, "{key}");
        }
        assert_eq!(parse_file_name("contacts_2025-05-25.quarantine.csv").unwrap().2, "quarantine.csv");
        assert_eq!(parse_file_name(&data_file_name("website_activity", "2025-05-25", "json")).unwrap().0, "website_activity");
        assert_eq!(parse_file_name("contacts_2025-05-25"), None);
    }

    #[test]
    fn two_files_for_one_key_are_refused() {
        let (a, b) = (Path::new("out/valid-data/c_2025-01-01.csv"), Path::new("elsewhere/c_2025-01-01.csv"));
        let err = check_unique_keys([(a, "k"), (b, "k")]).unwrap_err().to_string();
        assert!(err.contains("out/valid-data/c_2025-01-01.csv") && err.contains("elsewhere/c_2025-01-01.csv"), "{err}");
        assert!(check_unique_keys([(a, "k"), (a, "k"), (b, "other")]).is_ok());
    }
}
