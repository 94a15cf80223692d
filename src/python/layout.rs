//! Bindings for the bucket layout (`crate::layout`): the one spelling of file names, keys
//! and day prefixes, asked by `marketing_core.layout`.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::layout::{self, Kind, KINDS, REPORT_FILE};

/// The kinds' folder names, in pipeline order: `("valid-data", "quarantine-data", "dq-reports")`.
#[pyfunction]
pub fn layout_kinds() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.prefix()).collect()
}

/// The object name of every DQ report (`report.json`).
#[pyfunction]
pub fn layout_report_file() -> &'static str {
    REPORT_FILE
}

/// `<dataset>_<ds>.<ext>`.
#[pyfunction]
pub fn data_file_name(dataset: &str, ds: &str, ext: &str) -> String {
    layout::data_file_name(dataset, ds, ext)
}

/// `(dataset, ds, rest after the first dot)` of a `<dataset>_<ds>.<ext>` name, or None.
#[pyfunction]
pub fn parse_file_name(file_name: &str) -> Option<(String, String, String)> {
    layout::parse_file_name(file_name)
}

/// `<kind>/<dataset>/ds=<ds>` (not validated: parts may be templates or globs).
#[pyfunction]
pub fn day_prefix(kind: &str, dataset: &str, ds: &str) -> PyResult<String> {
    Ok(layout::day_prefix(Kind::parse(kind)?, dataset, ds))
}

/// `<kind>/<dataset>/ds=<ds>/<file>` (a report is `report.json`); raises `InvalidKeyError`.
#[pyfunction]
pub fn object_key(kind: &str, dataset: &str, ds: &str, file_name: &str) -> PyResult<String> {
    Ok(layout::object_key(Kind::parse(kind)?, dataset, ds, file_name)?)
}

/// `(kind, dataset, ds, file_name)` of a key in the layout, or None.
#[pyfunction]
pub fn parse_key(key: &str) -> Option<(&'static str, String, String, String)> {
    layout::parse_key(key).map(|p| (p.kind.prefix(), p.dataset, p.ds, p.file_name))
}

/// `(valid, quarantine, report)` paths of one validation run under `out_dir`.
#[pyfunction]
#[pyo3(signature = (out_dir, dataset, ds, input_file_name, ext))]
pub fn output_paths(out_dir: PathBuf, dataset: &str, ds: Option<&str>, input_file_name: &str, ext: &str) -> Vec<String> {
    layout::output_paths(&out_dir, dataset, ds, input_file_name, ext).iter().map(|p| p.to_string_lossy().into_owned()).collect()
}
