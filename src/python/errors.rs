//! One mapping from the Rust error enums to the Python exception hierarchy, which is
//! defined in `marketing_core/exceptions.py` (so it can inherit from ValueError/OSError).

use pyo3::prelude::*;

use crate::datasets::ArgumentError;
use crate::generate::GenerateError;
use crate::io::IoError;
use crate::store::StoreError;

pyo3::import_exception!(marketing_core.exceptions, MarketingCoreError);
pyo3::import_exception!(marketing_core.exceptions, InvalidArgumentError);
pyo3::import_exception!(marketing_core.exceptions, ResourceLimitError);
pyo3::import_exception!(marketing_core.exceptions, FileError);
pyo3::import_exception!(marketing_core.exceptions, CancelledError);
pyo3::import_exception!(marketing_core.exceptions, InternalError);
pyo3::import_exception!(marketing_core.exceptions, ContractError);
pyo3::import_exception!(marketing_core.exceptions, DomainError);
pyo3::import_exception!(marketing_core.exceptions, ValidationError);
pyo3::import_exception!(marketing_core.exceptions, StorageError);
pyo3::import_exception!(marketing_core.exceptions, AuthenticationError);
pyo3::import_exception!(marketing_core.exceptions, ConflictError);
pyo3::import_exception!(marketing_core.exceptions, InvalidKeyError);
pyo3::import_exception!(marketing_core.exceptions, InvalidBucketError);

/// The message of an error and of every error in its source chain.
pub fn full_message(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

impl From<ArgumentError> for PyErr {
    fn from(err: ArgumentError) -> PyErr {
        InvalidArgumentError::new_err(err.to_string())
    }
}

impl From<IoError> for PyErr {
    fn from(err: IoError) -> PyErr {
        FileError::new_err(full_message(&err))
    }
}

impl From<GenerateError> for PyErr {
    fn from(err: GenerateError) -> PyErr {
        match err {
            GenerateError::Argument(e) => e.into(),
            GenerateError::Io(e) => e.into(),
            e @ GenerateError::Cancelled { .. } => CancelledError::new_err(e.to_string()),
            e @ GenerateError::Assemble { .. } => InternalError::new_err(e.to_string()),
            e @ GenerateError::TooLarge { .. } => ResourceLimitError::new_err(e.to_string()),
        }
    }
}

impl From<StoreError> for PyErr {
    fn from(err: StoreError) -> PyErr {
        let message = full_message(&err);
        match err {
            StoreError::InvalidKey { .. } => InvalidKeyError::new_err(message),
            StoreError::InvalidBucket { .. } => InvalidBucketError::new_err(message),
            StoreError::Auth { .. } => AuthenticationError::new_err(message),
            StoreError::Conflict { .. } => ConflictError::new_err(message),
            StoreError::Io { .. } => FileError::new_err(message),
            StoreError::Config { .. } => InvalidArgumentError::new_err(message),
            StoreError::NotFound { .. } | StoreError::Backend { .. } => StorageError::new_err(message),
        }
    }
}

/// Runs `work` without the GIL and turns a panic into `InternalError`, so no panic ever
/// crosses the FFI boundary.
pub fn detach_catching<T, E>(py: Python<'_>, what: &str, work: impl FnOnce() -> Result<T, E> + Send) -> PyResult<T>
where
    T: Send,
    E: Into<PyErr> + Send,
{
    let outcome = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    match outcome {
        Ok(result) => result.map_err(Into::into),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!("internal error in {what}: {detail}")))
        }
    }
}
