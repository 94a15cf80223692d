//! Bindings for the generator: argument parsing, GIL release, results.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBool;
use pyo3_arrow::PyTable;

use super::errors::detach_catching;
use crate::datasets::{check_scale, parse_ds, ArgumentError, Dataset, FileFormat};
use crate::generate::{
    check_day_output, check_memory_output, generate_batches, write_dataset_within, DayParams, DefectKind, DefectRates,
    GenerateError, GenerateSummary,
};

/// What `generate` did for one dataset.
#[pyclass(frozen, get_all, module = "marketing_core._core")]
pub struct GenerateResult {
    pub dataset: String,
    pub ds: String,
    pub path: String,
    pub format: String,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub skipped: bool,
    pub defects_path: Option<String>,
    pub defect_counts: BTreeMap<String, u64>,
}

#[pymethods]
impl GenerateResult {
    fn __repr__(&self) -> String {
        format!(
            "GenerateResult(dataset={:?}, ds={:?}, path={:?}, rows={}, bytes={}, seconds={:.3}, skipped={})",
            self.dataset, self.ds, self.path, self.rows, self.bytes, self.seconds, self.skipped
        )
    }
}

impl From<GenerateSummary> for GenerateResult {
    fn from(s: GenerateSummary) -> Self {
        GenerateResult {
            dataset: s.dataset.to_string(),
            ds: s.ds,
            path: s.path.to_string_lossy().into_owned(),
            format: s.format.to_string(),
            rows: s.rows,
            bytes: s.bytes,
            seconds: s.seconds,
            skipped: s.skipped,
            defects_path: s.defects_path.map(|p| p.to_string_lossy().into_owned()),
            defect_counts: s.defect_counts.into_iter().map(|(k, v)| (k.name().to_string(), v)).collect(),
        }
    }
}

/// A whole number in 0..=u64::MAX (`seed`, `max_bytes`): an int or anything with
/// `__index__`, never a bool, float or string. `InvalidArgumentError` otherwise (PyO3's
/// own conversion would raise OverflowError or TypeError).
fn whole_number(value: &Bound<'_, PyAny>, name: &str) -> Result<u64, ArgumentError> {
    let bad = || {
        let shown = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
        let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        ArgumentError::Other(format!("{name} must be a whole number from 0 to {}, got {shown} ({type_name})", u64::MAX))
    };
    if value.is_instance_of::<PyBool>() {
        return Err(bad());
    }
    value.extract::<u64>().map_err(|_| bad())
}

fn optional_whole_number(value: Option<&Bound<'_, PyAny>>, name: &str) -> Result<Option<u64>, ArgumentError> {
    value.filter(|v| !v.is_none()).map(|v| whole_number(v, name)).transpose()
}

fn day_params(
    ds: &str,
    scale_factor: f64,
    seed: &Bound<'_, PyAny>,
    defects: Option<BTreeMap<String, f64>>,
) -> Result<DayParams, GenerateError> {
    let seed = whole_number(seed, "seed")?;
    let defects = DefectRates::parse(defects.iter().flatten().map(|(k, v)| (k.as_str(), *v)))?;
    Ok(DayParams { seed, ds: parse_ds(ds)?, scale_factor: check_scale(scale_factor)?, defects })
}

/// Writes one dataset for one day; see `marketing_core.generate`.
#[pyfunction]
#[pyo3(signature = (dataset, ds, out_dir, *, scale_factor=1.0, seed=None, format=None, force=false, defects=None, progress=None, max_bytes=None))]
#[allow(clippy::too_many_arguments)]
pub fn generate(
    py: Python<'_>,
    dataset: &str,
    ds: &str,
    out_dir: PathBuf,
    scale_factor: f64,
    seed: Option<&Bound<'_, PyAny>>,
    format: Option<&str>,
    force: bool,
    defects: Option<BTreeMap<String, f64>>,
    progress: Option<Py<PyAny>>,
    max_bytes: Option<&Bound<'_, PyAny>>,
) -> PyResult<GenerateResult> {
    let dataset: Dataset = dataset.parse()?;
    let format: Option<FileFormat> = format.map(str::parse).transpose()?;
    let params = day_params(ds, scale_factor, &seed_or_default(py, seed), defects)?;
    let max_bytes = optional_whole_number(max_bytes, "max_bytes")?;
    // A progress callback that raises (or Ctrl-C) cancels the run; the error is re-raised.
    let mut callback_error: Option<PyErr> = None;
    let summary = {
        let callback_error = &mut callback_error;
        let mut report = |done: u64, total: u64| -> bool {
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    *callback_error = Some(e);
                    return false;
                }
                if let Some(cb) = &progress {
                    if let Err(e) = cb.call1(py, (done, total)) {
                        *callback_error = Some(e);
                        return false;
                    }
                }
                true
            })
        };
        detach_catching(py, "generate", move || {
            write_dataset_within(dataset, &params, &out_dir, format, force, max_bytes, &mut report)
        })
    };
    match (summary, callback_error) {
        (Err(_), Some(e)) => Err(e),
        (result, _) => result.map(Into::into),
    }
}

/// One dataset for one day as a pyarrow.Table (handed over through the Arrow C stream
/// interface, without copying).
#[pyfunction]
#[pyo3(signature = (dataset, ds, *, scale_factor=1.0, seed=None, defects=None, max_bytes=None))]
pub fn generate_table<'py>(
    py: Python<'py>,
    dataset: &str,
    ds: &str,
    scale_factor: f64,
    seed: Option<&Bound<'py, PyAny>>,
    defects: Option<BTreeMap<String, f64>>,
    max_bytes: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let dataset: Dataset = dataset.parse()?;
    let params = day_params(ds, scale_factor, &seed_or_default(py, seed), defects)?;
    check_memory_output(dataset, &params, optional_whole_number(max_bytes, "max_bytes")?)?;
    let (schema, batches, _) =
        detach_catching(py, "generate_table", move || generate_batches(dataset, &params))?;
    PyTable::try_new(batches, schema)?.into_pyarrow(py)
}

/// The default seed when none (or None) is given.
const DEFAULT_SEED: u64 = 42;

fn seed_or_default<'py>(py: Python<'py>, seed: Option<&Bound<'py, PyAny>>) -> Bound<'py, PyAny> {
    match seed {
        Some(s) if !s.is_none() => s.clone(),
        _ => DEFAULT_SEED.into_pyobject(py).map(|s| s.into_any()).unwrap_or_else(|e| match e {}),
    }
}

/// Refuses a run of several datasets (`generate_day`) whose new files together would
/// exceed the limit, before the first one is written (see `check_day_output`). `formats` maps dataset to format (None:
/// the dataset's default).
#[pyfunction]
#[pyo3(signature = (datasets, ds, out_dir, *, scale_factor=1.0, seed=None, defects=None, max_bytes=None))]
#[allow(clippy::too_many_arguments)]
pub fn check_output_size(
    py: Python<'_>,
    datasets: Vec<(String, Option<String>)>,
    ds: &str,
    out_dir: PathBuf,
    scale_factor: f64,
    seed: Option<&Bound<'_, PyAny>>,
    defects: Option<BTreeMap<String, f64>>,
    max_bytes: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let params = day_params(ds, scale_factor, &seed_or_default(py, seed), defects)?;
    let max_bytes = optional_whole_number(max_bytes, "max_bytes")?;
    let items = datasets
        .iter()
        .map(|(d, f)| Ok((d.parse::<Dataset>()?, f.as_deref().map(str::parse::<FileFormat>).transpose()?)))
        .collect::<Result<Vec<(Dataset, Option<FileFormat>)>, ArgumentError>>()?;
    check_day_output(&items, &params, &out_dir, max_bytes)?;
    Ok(())
}

/// Dataset names in dependency order.
#[pyfunction]
pub fn dataset_names() -> Vec<&'static str> {
    Dataset::names()
}

/// The defect kinds `generate(defects=...)` accepts, in the generator's order: the one
/// list that DAG param schemas and CLI help derive from.
#[pyfunction]
pub fn defect_kinds() -> Vec<&'static str> {
    DefectKind::ALL.iter().map(|kind| kind.name()).collect()
}

/// Properties of a dataset: key column, default format, rows at scale 1, file name.
#[pyfunction]
pub fn dataset_info(dataset: &str, ds: &str, scale_factor: f64) -> PyResult<BTreeMap<&'static str, String>> {
    let d: Dataset = dataset.parse()?;
    let day = parse_ds(ds)?;
    let scale = check_scale(scale_factor)?;
    Ok(BTreeMap::from([
        ("name", d.name().to_string()),
        ("key_column", d.key_column().to_string()),
        ("default_format", d.default_format().to_string()),
        ("rows", d.rows(scale).to_string()),
        ("file_name", d.file_name(day, d.default_format())),
        ("is_dimension", d.is_dimension().to_string()),
    ]))
}
