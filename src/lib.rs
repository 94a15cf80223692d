//! marketing_core: the Rust core of the marketing-data ELT pipeline.
//!
//! Plain Rust modules (`datasets`, `domain`, `generate`, `io`, `layout`, `validate`, `store`) testable with `cargo test`; the
//! Python extension `marketing_core._core` lives in `python/` behind the `python` feature.

pub mod datasets;
pub mod domain;
pub mod generate;
pub mod io;
pub mod layout;
pub mod settings;
pub mod validate;
pub mod store;

#[cfg(feature = "python")]
mod python;

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python::register(m)
}
