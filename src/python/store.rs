//! Bindings for the idempotent upload: argument parsing, GIL release, results.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;

use super::errors::detach_catching;
use crate::layout::{check_unique_keys, parse_key, place, Kind, LayoutOverrides};
use crate::store::upload::{collect_sources, FileOutcome, Progress, UploadItem, UploadOptions};
use crate::store::StoreConfig;

/// What `upload` did with one file.
#[pyclass(frozen, get_all, module = "marketing_core._core")]
pub struct FileUpload {
    pub source: String,
    pub key: String,
    pub uri: String,
    pub dataset: Option<String>,
    pub ds: Option<String>,
    pub status: String,
    pub bytes: u64,
    pub bytes_sent: u64,
    pub seconds: f64,
    pub md5: Option<String>,
    pub multipart: bool,
    pub replaced: bool,
    pub write_requests: u32,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub started_at: f64,
    pub finished_at: f64,
}

#[pymethods]
impl FileUpload {
    fn __repr__(&self) -> String {
        format!(
            "FileUpload(uri={:?}, status={:?}, bytes={}, seconds={:.3}, md5={:?}{})",
            self.uri,
            self.status,
            self.bytes,
            self.seconds,
            self.md5,
            self.error.as_ref().map(|e| format!(", error={e:?}")).unwrap_or_default()
        )
    }
}

impl From<FileOutcome> for FileUpload {
    fn from(o: FileOutcome) -> Self {
        FileUpload {
            source: o.source.to_string_lossy().into_owned(),
            key: o.key,
            uri: o.uri,
            dataset: o.dataset,
            ds: o.ds,
            status: o.status.as_str().to_string(),
            bytes: o.bytes,
            bytes_sent: o.bytes_sent,
            seconds: o.seconds,
            md5: o.md5,
            multipart: o.multipart,
            replaced: o.replaced,
            write_requests: o.write_requests,
            error: o.error,
            error_kind: o.error_kind.map(|k| k.as_str().to_string()),
            started_at: o.started_at,
            finished_at: o.finished_at,
        }
    }
}

/// The files under `sources` (hidden entries skipped) and their keys in the layout:
/// a list of `(path, key, dataset, ds)`. Raises `InvalidKeyError` for a file that cannot
/// be placed or a key that is not safe.
#[pyfunction]
#[pyo3(signature = (sources, *, kind=None, dataset=None, ds=None, prefix=None))]
pub fn plan_upload(
    sources: Vec<PathBuf>,
    kind: Option<&str>,
    dataset: Option<String>,
    ds: Option<String>,
    prefix: Option<String>,
) -> PyResult<Vec<(String, String, Option<String>, Option<String>)>> {
    let layout = LayoutOverrides { kind: kind.map(Kind::parse).transpose()?, dataset, ds, prefix };
    let files = collect_sources(&sources)?;
    let mut planned = Vec::with_capacity(files.len());
    for file in files {
        let p = place(&file, &layout)?;
        planned.push((file.to_string_lossy().into_owned(), p.key, p.dataset, p.ds));
    }
    check_unique_keys(planned.iter().map(|(path, key, _, _)| (std::path::Path::new(path), key.as_str())))?;
    Ok(planned)
}

/// Checks an object key (raises `InvalidKeyError`).
#[pyfunction]
pub fn validate_key(key: &str) -> PyResult<()> {
    Ok(crate::store::validate_key(key)?)
}

/// Checks a bucket name (raises `InvalidBucketError`).
#[pyfunction]
pub fn validate_bucket(bucket: &str) -> PyResult<()> {
    Ok(crate::store::validate_bucket(bucket)?)
}

/// Uploads `(path, key, dataset, ds)` items; see `marketing_core.storage.upload`.
/// `store_options` and `upload_options` are `(key, value)` strings over the Rust
/// defaults (`StoreConfig::from_options`, `UploadOptions::from_options`).
#[pyfunction]
#[pyo3(signature = (items, *, bucket, store_url, store_options=Vec::new(), upload_options=Vec::new(), progress=None))]
pub fn upload_files(
    py: Python<'_>,
    items: Vec<(PathBuf, String, Option<String>, Option<String>)>,
    bucket: &str,
    store_url: &str,
    store_options: Vec<(String, String)>,
    upload_options: Vec<(String, String)>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Vec<FileUpload>> {
    let cfg = StoreConfig::from_options(store_url, store_options.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let opts = UploadOptions::from_options(upload_options.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    check_unique_keys(items.iter().map(|(source, key, _, _)| (source.as_path(), key.as_str())))?;
    // A key in the layout says its dataset and day (for the audit log), unless given.
    let items: Vec<UploadItem> = items
        .into_iter()
        .map(|(source, key, dataset, ds)| {
            let parts = parse_key(&key);
            let dataset = dataset.or_else(|| parts.as_ref().map(|p| p.dataset.clone()));
            let ds = ds.or_else(|| parts.map(|p| p.ds));
            UploadItem { source, key, dataset, ds }
        })
        .collect();
    // Progress is reported from the store's worker threads; an exception in the callback
    // is ignored (it must not break an upload half-way).
    let progress: Option<Progress> = progress.map(|cb| {
        let cb = Arc::new(cb);
        Arc::new(move |bytes: u64, files: u64| {
            Python::attach(|py| {
                let _ = cb.call1(py, (bytes, files));
            })
        }) as Progress
    });
    let bucket = bucket.to_string();
    let outcomes = detach_catching(py, "upload", move || crate::store::upload(&cfg, &bucket, items, &opts, progress))?;
    Ok(outcomes.into_iter().map(Into::into).collect())
}
