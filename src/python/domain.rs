//! Domains for Python: load one from its documents (read by Python), or a shipped one.

use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;

use crate::domain::{shipped, shipped_names, Domain, DomainError, Partitioning, RowBasis, Source};

impl From<DomainError> for PyErr {
    fn from(err: DomainError) -> PyErr {
        super::errors::DomainError::new_err(err.to_string())
    }
}

/// A loaded, checked domain: its datasets in dependency order.
#[pyclass(frozen, module = "marketing_core._core", name = "Domain")]
pub struct PyDomain {
    inner: Arc<Domain>,
}

/// One dataset of a domain.
#[pyclass(frozen, module = "marketing_core._core", name = "DomainDataset")]
pub struct PyDomainDataset {
    domain: Arc<Domain>,
    index: usize,
}

impl PyDomainDataset {
    fn spec(&self) -> &crate::domain::DomainDataset {
        &self.domain.datasets[self.index]
    }
}

#[pymethods]
impl PyDomain {
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }
    #[getter]
    fn source(&self) -> &'static str {
        match self.inner.source {
            Source::Generate => "generate",
            Source::Landing => "landing",
        }
    }
    #[getter]
    fn partitioning(&self) -> &'static str {
        match self.inner.partitioning {
            Partitioning::Daily => "daily",
            Partitioning::Hourly => "hourly",
        }
    }
    /// The folder the domain was read from.
    #[getter]
    fn root(&self) -> &str {
        &self.inner.root
    }
    /// The dataset names in dependency order.
    #[getter]
    fn dataset_names(&self) -> Vec<String> {
        self.inner.datasets.iter().map(|d| d.name.clone()).collect()
    }
    /// The datasets in dependency order.
    #[getter]
    fn datasets(&self) -> Vec<PyDomainDataset> {
        (0..self.inner.datasets.len()).map(|index| PyDomainDataset { domain: self.inner.clone(), index }).collect()
    }
    fn dataset(&self, name: &str) -> PyResult<PyDomainDataset> {
        match self.inner.datasets.iter().position(|d| d.name == name) {
            Some(index) => Ok(PyDomainDataset { domain: self.inner.clone(), index }),
            None => Err(PyKeyError::new_err(format!(
                "domain {:?} has no dataset {name:?}; it has: {}",
                self.inner.name,
                self.inner.dataset_names().join(", ")
            ))),
        }
    }
    fn __repr__(&self) -> String {
        format!("Domain(name={:?}, source={:?}, datasets={:?})", self.inner.name, self.source(), self.dataset_names())
    }
}

#[pymethods]
impl PyDomainDataset {
    #[getter]
    fn name(&self) -> &str {
        &self.spec().name
    }
    #[getter]
    fn description(&self) -> &str {
        &self.spec().description
    }
    /// The spec file the dataset was read from.
    #[getter]
    fn spec_file(&self) -> &str {
        &self.spec().spec_file
    }
    #[getter]
    fn file_stem(&self) -> &str {
        &self.spec().file_stem
    }
    #[getter]
    fn format(&self) -> String {
        self.spec().format.to_string()
    }
    #[getter]
    fn key(&self) -> &str {
        &self.spec().key
    }
    /// `fixed` (a universe) or `scaled` (by scale_factor).
    #[getter]
    fn rows_basis(&self) -> &'static str {
        match self.spec().rows.basis {
            RowBasis::Fixed => "fixed",
            RowBasis::Scaled => "scaled",
        }
    }
    #[getter]
    fn base_rows(&self) -> u64 {
        self.spec().rows.base
    }
    #[getter]
    fn depends_on(&self) -> Vec<String> {
        self.spec().depends_on.clone()
    }
    /// Column names in file order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.spec().column_names().into_iter().map(String::from).collect()
    }
    /// Column types (`string`, `int64`, ...) in file order.
    #[getter]
    fn column_types(&self) -> Vec<&'static str> {
        self.spec().columns.iter().map(|c| c.spec.column_type.name()).collect()
    }
    #[getter]
    fn defects(&self) -> Vec<&'static str> {
        self.spec().defects.iter().map(|k| k.name()).collect()
    }
    /// Rows for one day at `scale_factor`.
    fn rows(&self, scale_factor: f64) -> PyResult<usize> {
        Ok(self.spec().rows.at_scale(crate::datasets::check_scale(scale_factor)?))
    }
    /// The dataset's contract (JSON text, every default filled in).
    fn contract_json(&self) -> String {
        self.spec().contract.to_json()
    }
    fn __repr__(&self) -> String {
        let s = self.spec();
        format!("DomainDataset(name={:?}, format={:?}, key={:?}, columns={})", s.name, s.format.to_string(), s.key, s.columns.len())
    }
}

/// Loads and checks a domain from its documents (JSON text; see `Domain::from_json`).
#[pyfunction]
pub fn load_domain(py: Python<'_>, documents: &str) -> PyResult<PyDomain> {
    let documents = documents.to_string();
    let domain = super::errors::detach_catching(py, "load_domain", move || Domain::from_json(&documents))?;
    Ok(PyDomain { inner: Arc::new(domain) })
}

/// A domain shipped in the package, by name.
#[pyfunction]
pub fn shipped_domain(name: &str) -> PyResult<PyDomain> {
    Ok(PyDomain { inner: Arc::new(shipped(name)?.clone()) })
}

/// The names of the shipped domains.
#[pyfunction]
pub fn shipped_domain_names() -> Vec<&'static str> {
    shipped_names()
}
