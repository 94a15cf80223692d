//! Bindings for the validation engine: argument parsing, GIL release, results. The public
//! API (contract loading, YAML, reference discovery, metadata) is `marketing_core.validation`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use super::errors::detach_catching;
use crate::datasets::{parse_ds, Dataset, FileFormat};
use crate::validate::{
    validate_batches, validate_path, Contract, Outcome, Reference, ValidateError,
    ValidateOptions,
};

/// (report as JSON, valid rows, quarantined rows); the tables only when `collect`.
type ValidateResult<'py> = (String, Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>);

fn references(refs: Option<BTreeMap<String, Bound<'_, PyAny>>>) -> PyResult<BTreeMap<String, Reference>> {
    let mut out = BTreeMap::new();
    for (name, value) in refs.into_iter().flatten() {
        let reference = match value.extract::<PathBuf>() {
            Ok(p) => Reference::Path(p),
            Err(_) => {
                let table: PyTable = value.extract()?;
                Reference::Batches(table.into_inner().0)
            }
        };
        out.insert(name, reference);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn options(
    ds: Option<&str>,
    valid_out: Option<PathBuf>,
    quarantine_out: Option<PathBuf>,
    output_format: Option<&str>,
    refs: Option<BTreeMap<String, Bound<'_, PyAny>>>,
    previous_rows: Option<u64>,
    collect: bool,
) -> PyResult<ValidateOptions> {
    Ok(ValidateOptions {
        ds: ds.map(parse_ds).transpose()?,
        valid_out,
        quarantine_out,
        output_format: output_format.map(str::parse::<FileFormat>).transpose()?,
        references: references(refs)?,
        previous_rows,
        collect,
    })
}

fn into_python(py: Python<'_>, outcome: Outcome) -> PyResult<ValidateResult<'_>> {
    let report = serde_json::to_string(&outcome.report)
        .map_err(|e| super::errors::InternalError::new_err(format!("cannot encode the report: {e}")))?;
    let valid = match outcome.valid {
        Some((schema, batches)) => Some(PyTable::try_new(batches, schema)?.into_pyarrow(py)?),
        None => None,
    };
    let quarantine = match outcome.quarantine {
        Some(q) => Some(PyTable::try_new(vec![q.clone()], q.schema())?.into_pyarrow(py)?),
        None => None,
    };
    Ok((report, valid, quarantine))
}

/// Validates a CSV / JSON Lines / Parquet file against a contract (JSON text).
#[pyfunction]
#[pyo3(signature = (path, contract, *, ds=None, valid_out=None, quarantine_out=None, output_format=None, references=None, previous_rows=None, collect=false))]
#[allow(clippy::too_many_arguments)]
pub fn validate_file<'py>(
    py: Python<'py>,
    path: PathBuf,
    contract: &str,
    ds: Option<&str>,
    valid_out: Option<PathBuf>,
    quarantine_out: Option<PathBuf>,
    output_format: Option<&str>,
    references: Option<BTreeMap<String, Bound<'py, PyAny>>>,
    previous_rows: Option<u64>,
    collect: bool,
) -> PyResult<ValidateResult<'py>> {
    let contract = Contract::from_json(contract)?;
    let opts = options(ds, valid_out, quarantine_out, output_format, references, previous_rows, collect)?;
    let outcome = detach_catching(py, "validate", move || validate_path(&path, &contract, &opts))?;
    into_python(py, outcome)
}

/// Validates an in-memory Arrow table (anything with `__arrow_c_stream__`).
#[pyfunction]
#[pyo3(signature = (table, contract, *, ds=None, valid_out=None, quarantine_out=None, output_format=None, references=None, previous_rows=None, source="<table>"))]
#[allow(clippy::too_many_arguments)]
pub fn validate_table<'py>(
    py: Python<'py>,
    table: PyTable,
    contract: &str,
    ds: Option<&str>,
    valid_out: Option<PathBuf>,
    quarantine_out: Option<PathBuf>,
    output_format: Option<&str>,
    references: Option<BTreeMap<String, Bound<'py, PyAny>>>,
    previous_rows: Option<u64>,
    source: &str,
) -> PyResult<ValidateResult<'py>> {
    let contract = Contract::from_json(contract)?;
    let opts = options(ds, valid_out, quarantine_out, output_format, references, previous_rows, true)?;
    let (batches, schema) = table.into_inner();
    let source = source.to_string();
    let outcome = detach_catching(py, "validate", move || {
        validate_batches(&batches, &schema, &contract, &opts, &source)
    })?;
    into_python(py, outcome)
}

/// The shipped default contract of a dataset (derived from the marketing domain), as JSON text.
#[pyfunction]
pub fn default_contract(dataset: &str) -> PyResult<String> {
    let d: Dataset = dataset.parse()?;
    Ok(Contract::default_for(d)?.to_json())
}

/// Checks a contract (JSON text) and returns it normalised (defaults filled in).
#[pyfunction]
pub fn check_contract(contract: &str) -> PyResult<String> {
    Ok(Contract::from_json(contract).map_err(PyErr::from)?.to_json())
}

impl From<ValidateError> for PyErr {
    fn from(err: ValidateError) -> PyErr {
        use super::errors::{ContractError, FileError, ValidationError};
        match err {
            ValidateError::Contract(m) => ContractError::new_err(m),
            e @ ValidateError::Unreadable { .. } => ValidationError::new_err(e.to_string()),
            ValidateError::Argument(e) => e.into(),
            ValidateError::Io(e) => FileError::new_err(super::errors::full_message(&e)),
            e @ ValidateError::Internal(_) => super::errors::InternalError::new_err(e.to_string()),
        }
    }
}
