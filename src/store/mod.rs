//! Idempotent upload to an object store (S3 API or a local directory), with the bucket
//! itself as the source of truth: an object's MD5 lives in its user metadata, and new
//! objects are written create-only, so reruns and concurrent uploaders never write twice.
//!
//! - `keys`: key / bucket validation and the default bucket layout.
//! - `config`: which store, credentials (redacted everywhere), retries and timeouts.
//! - `upload`: the upload itself, with bounded concurrency and multipart for large files.
//! - `lease`: the lock that lets one uploader at a time complete a multipart upload to a key.
//! - `complete`: the conditional CompleteMultipartUpload object_store does not expose.
//! - `probe`: proves once per store that the server honours conditional writes.

mod complete;
pub mod config;
pub mod keys;
mod lease;
pub mod probe;
pub mod upload;

use std::path::PathBuf;
use std::sync::OnceLock;

use thiserror::Error;

pub use config::{ConditionalWrites, StoreConfig, StoreTarget};
pub use keys::{place, validate_bucket, validate_key, Kind, LayoutOverrides, Placement};
pub use upload::{upload, FileOutcome, Policy, Status, UploadItem, UploadOptions};

/// Errors of the storage area. Messages never contain credentials.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucket { bucket: String, reason: String },
    #[error("authentication failed: {message}")]
    Auth { message: String },
    #[error("conflict at {key}: {message}")]
    Conflict { key: String, message: String },
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid store configuration: {message}")]
    Config { message: String },
    #[error("storage backend error: {message}")]
    Backend { message: String },
}

/// The one tokio runtime of the store module; never exposed to Python.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("marketing-core-store")
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime of the store module")
    })
}

/// reqwest is built with rustls but no bundled provider (to avoid aws-lc's C build):
/// install ring once per process. Another library may have installed one already.
pub(crate) fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
