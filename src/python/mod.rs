//! The thin binding layer: argument parsing, GIL release and error mapping only.

mod domain;
mod errors;
mod generate;
mod layout;
mod validate;
mod store;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<generate::GenerateResult>()?;
    m.add_function(wrap_pyfunction!(generate::generate, m)?)?;
    m.add_function(wrap_pyfunction!(generate::generate_table, m)?)?;
    m.add_function(wrap_pyfunction!(generate::check_output_size, m)?)?;
    m.add_function(wrap_pyfunction!(generate::dataset_names, m)?)?;
    m.add_function(wrap_pyfunction!(generate::dataset_info, m)?)?;
    m.add_function(wrap_pyfunction!(generate::defect_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(validate::validate_file, m)?)?;
    m.add_function(wrap_pyfunction!(validate::validate_table, m)?)?;
    m.add_function(wrap_pyfunction!(validate::default_contract, m)?)?;
    m.add_function(wrap_pyfunction!(validate::check_contract, m)?)?;
    m.add_class::<domain::PyDomain>()?;
    m.add_class::<domain::PyDomainDataset>()?;
    m.add_function(wrap_pyfunction!(domain::load_domain, m)?)?;
    m.add_function(wrap_pyfunction!(domain::shipped_domain, m)?)?;
    m.add_function(wrap_pyfunction!(domain::shipped_domain_names, m)?)?;
    m.add_class::<store::FileUpload>()?;
    m.add_function(wrap_pyfunction!(store::plan_upload, m)?)?;
    m.add_function(wrap_pyfunction!(store::upload_files, m)?)?;
    m.add_function(wrap_pyfunction!(store::validate_key, m)?)?;
    m.add_function(wrap_pyfunction!(store::validate_bucket, m)?)?;
    m.add_function(wrap_pyfunction!(layout::layout_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(layout::layout_report_file, m)?)?;
    m.add_function(wrap_pyfunction!(layout::data_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(layout::parse_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(layout::day_prefix, m)?)?;
    m.add_function(wrap_pyfunction!(layout::object_key, m)?)?;
    m.add_function(wrap_pyfunction!(layout::parse_key, m)?)?;
    m.add_function(wrap_pyfunction!(layout::output_paths, m)?)?;
    Ok(())
}
