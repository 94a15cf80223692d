//! How big a generation run will be, and the limit it is checked against before anything
//! is allocated or written: a scale factor typed with too many zeros is refused with the
//! estimate in the message instead of filling the disk or aborting on allocation.
//!
//! One setting overrides the limit: an explicit `max_bytes` (`max_bytes=` in Python,
//! `--max-bytes` on the command line), else `$MARKETING_CORE_MAX_OUTPUT_BYTES`, else the
//! free space of the output directory (files) or half the available memory (in memory).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::datasets::{ArgumentError, Dataset, FileFormat};

use super::defects::{DefectKind, DefectRates};

/// The environment variable that sets the limit when no explicit `max_bytes` is given.
pub use crate::settings::MAX_OUTPUT_BYTES as MAX_BYTES_ENV;

/// The memory bound when the available memory cannot be read (not Linux).
const FALLBACK_MEMORY_BYTES: u64 = 8 << 30;

/// File bytes per row, measured from the generator (seed 42, 2025-05-25, scale 0.05: the
/// file size less `file_overhead` divided by the rows). A test compares these with freshly
/// written files.
fn file_bytes_per_row(dataset: Dataset, format: FileFormat) -> f64 {
    use Dataset::*;
    use FileFormat::*;
    match (dataset, format) {
        (Campaigns, Csv) => 25.0,
        (Campaigns, Json) => 65.0,
        (Campaigns, Parquet) => 20.0,
        (Forms, Csv) => 12.0,
        (Forms, Json) => 50.0,
        (Forms, Parquet) => 20.0,
        (Pages, Csv) => 32.0,
        (Pages, Json) => 77.0,
        (Pages, Parquet) => 35.0,
        (Contacts, Csv) => 170.0,
        (Contacts, Json) => 320.0,
        (Contacts, Parquet) => 68.0,
        (FormFills, Csv) => 250.0,
        (FormFills, Json) => 369.0,
        (FormFills, Parquet) => 78.0,
        (WebsiteActivity, Csv) => 163.0,
        (WebsiteActivity, Json) => 344.0,
        (WebsiteActivity, Parquet) => 56.0,
    }
}

/// The fixed part of a file: the CSV header, the Parquet footer.
fn file_overhead(format: FileFormat) -> f64 {
    match format {
        FileFormat::Csv => 100.0,
        FileFormat::Json => 0.0,
        FileFormat::Parquet => 1000.0,
    }
}

/// Arrow bytes per row in memory (the data of a generated table's buffers, pyarrow's
/// `nbytes`), measured like `file_bytes_per_row`. Builders may reserve somewhat more; the
/// default bound is half the available memory, which leaves room for that.
fn memory_bytes_per_row(dataset: Dataset) -> f64 {
    match dataset {
        Dataset::Campaigns => 35.0,
        Dataset::Forms => 30.0,
        Dataset::Pages => 44.0,
        Dataset::Contacts => 180.0,
        Dataset::FormFills => 260.0,
        Dataset::WebsiteActivity => 182.0,
    }
}

/// Bytes of one entry of the truth manifest (pretty-printed JSON), measured.
const MANIFEST_BYTES_PER_DEFECT: f64 = 100.0;

fn defect_rows(dataset: Dataset, rows: usize, defects: &DefectRates) -> f64 {
    let rate: f64 = DefectKind::ALL.iter().filter(|k| k.applies_to(dataset)).map(|k| defects.rate(*k)).sum();
    rows as f64 * rate
}

fn saturating_bytes(x: f64) -> u64 {
    // f64 -> u64 casts saturate; a huge scale gives u64::MAX, not a wrap-around.
    x.ceil() as u64
}

/// Estimated bytes `write_dataset` puts on disk: the data file and its truth manifest.
pub fn file_estimate(dataset: Dataset, format: FileFormat, scale_factor: f64, defects: &DefectRates) -> u64 {
    let rows = dataset.rows(scale_factor);
    saturating_bytes(
        rows as f64 * file_bytes_per_row(dataset, format)
            + defect_rows(dataset, rows, defects) * MANIFEST_BYTES_PER_DEFECT
            + file_overhead(format),
    )
}

/// Estimated bytes `generate_batches` holds in memory.
pub fn memory_estimate(dataset: Dataset, scale_factor: f64, defects: &DefectRates) -> u64 {
    let rows = dataset.rows(scale_factor);
    // Defect records are kept beside the batches (about 40 bytes each).
    saturating_bytes(rows as f64 * memory_bytes_per_row(dataset) + defect_rows(dataset, rows, defects) * 40.0)
}

/// Where a limit comes from, for the message.
#[derive(Clone, Debug, PartialEq)]
pub enum LimitSource {
    Explicit,
    Environment,
    FreeDisk(PathBuf),
    AvailableMemory,
}

/// A bound on the bytes a run may produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub bytes: u64,
    pub source: LimitSource,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = human_bytes(self.bytes);
        match &self.source {
            LimitSource::Explicit => write!(f, "the limit of {size} (max_bytes)"),
            LimitSource::Environment => write!(f, "the limit of {size} (${MAX_BYTES_ENV})"),
            LimitSource::FreeDisk(dir) => write!(f, "the {size} free on the disk of {}", dir.display()),
            LimitSource::AvailableMemory => write!(f, "the memory bound of {size} (half the available memory)"),
        }
    }
}

/// The explicit limit, else the one in the environment, else None (use the default).
pub fn configured_limit(explicit: Option<u64>) -> Result<Option<Limit>, ArgumentError> {
    if let Some(bytes) = explicit {
        return Ok(Some(Limit { bytes, source: LimitSource::Explicit }));
    }
    match crate::settings::get(MAX_BYTES_ENV) {
        Some(text) if !text.trim().is_empty() => {
            let bytes = text.trim().parse::<u64>().map_err(|_| {
                ArgumentError::Other(format!(
                    "${MAX_BYTES_ENV} must be a whole number of bytes, got {text:?}"
                ))
            })?;
            Ok(Some(Limit { bytes, source: LimitSource::Environment }))
        }
        _ => Ok(None),
    }
}

/// The limit for files written under `out_dir`: the configured one, else its free space
/// (of the nearest existing ancestor: the directory may not exist yet). None when the
/// free space cannot be told.
pub fn disk_limit(out_dir: &Path, explicit: Option<u64>) -> Result<Option<Limit>, ArgumentError> {
    if let Some(limit) = configured_limit(explicit)? {
        return Ok(Some(limit));
    }
    let absolute = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    let existing = absolute.ancestors().find(|p| p.exists()).map(Path::to_path_buf);
    Ok(existing.and_then(|dir| free_disk_bytes(&dir).map(|bytes| Limit { bytes, source: LimitSource::FreeDisk(dir) })))
}

/// The limit for a table built in memory: the configured one, else half the available
/// memory (so the caller's own copies still fit).
pub fn memory_limit(explicit: Option<u64>) -> Result<Limit, ArgumentError> {
    if let Some(limit) = configured_limit(explicit)? {
        return Ok(limit);
    }
    let bytes = available_memory_bytes().map(|b| b / 2).unwrap_or(FALLBACK_MEMORY_BYTES);
    Ok(Limit { bytes, source: LimitSource::AvailableMemory })
}

#[cfg(unix)]
fn free_disk_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a NUL-terminated path and a buffer of the right type; read only on success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    // Blocks available to unprivileged users, not the root reserve.
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_disk_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// `MemAvailable` from /proc/meminfo (Linux), in bytes.
fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// An estimate for messages: `20.0 TB (20000000000000 bytes)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", human_bytes(self.0), self.0)
    }
}

/// `1.5 GB`-style sizes for messages (powers of 1000, like `df -H`).
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < units.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_saturate_instead_of_overflowing() {
        let none = DefectRates::default();
        assert_eq!(file_estimate(Dataset::WebsiteActivity, FileFormat::Json, 1e300, &none), u64::MAX);
        assert!(file_estimate(Dataset::Contacts, FileFormat::Csv, 1e9, &none) > 10_000_000_000_000);
        // Dimensions do not scale.
        assert_eq!(
            file_estimate(Dataset::Pages, FileFormat::Csv, 1e9, &none),
            file_estimate(Dataset::Pages, FileFormat::Csv, 1.0, &none)
        );
        assert!(memory_estimate(Dataset::WebsiteActivity, 1e5, &none) > 1_000_000_000_000);
    }

    fn day(scale_factor: f64) -> crate::generate::DayParams {
        crate::generate::DayParams {
            seed: 42,
            ds: chrono::NaiveDate::from_ymd_opt(2025, 5, 25).unwrap(),
            scale_factor,
            defects: DefectRates::default(),
        }
    }

    /// The constant tables against real files and tables: within ±50%.
    #[test]
    fn estimates_are_within_half_of_real_output() {
        let dir = tempfile::tempdir().unwrap();
        let scale = 0.05;
        let params = day(scale);
        for dataset in Dataset::ALL {
            for format in [FileFormat::Csv, FileFormat::Json, FileFormat::Parquet] {
                let out = dir.path().join(format.extension());
                let written =
                    crate::generate::write_dataset(dataset, &params, &out, Some(format), true, &mut |_, _| true)
                        .unwrap();
                let estimate = file_estimate(dataset, format, scale, &params.defects) as f64;
                let ratio = estimate / written.bytes as f64;
                assert!((0.5..=1.5).contains(&ratio), "{dataset} {format}: estimate {estimate}, file {}", written.bytes);
            }
            let (_, batches, _) = crate::generate::generate_batches(dataset, &params).unwrap();
            // The bytes of the arrays' data (what pyarrow's `nbytes` reports).
            let held: usize = batches
                .iter()
                .flat_map(|b| b.columns().iter().map(|c| c.to_data().get_slice_memory_size().unwrap()))
                .sum();
            let estimate = memory_estimate(dataset, scale, &params.defects) as f64;
            let ratio = estimate / held as f64;
            assert!((0.5..=1.5).contains(&ratio), "{dataset} in memory: estimate {estimate}, held {held}");
        }
    }

    #[test]
    fn a_huge_scale_is_refused_before_anything_is_written() {
        use crate::generate::{check_memory_output, write_dataset, write_dataset_within, GenerateError};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let started = std::time::Instant::now();
        let err = write_dataset(Dataset::Contacts, &day(1e9), &out, None, false, &mut |_, _| true).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, GenerateError::TooLarge { .. }), "{message}");
        assert!(
            message.contains("contacts_2025-05-25.csv")
                && message.contains("100000000000000 rows")
                && message.contains("free on the disk"),
            "{message}"
        );
        assert!(!out.exists(), "nothing created");

        let err = check_memory_output(Dataset::WebsiteActivity, &day(1e5), None).unwrap_err().to_string();
        assert!(err.contains("building website_activity in memory") && err.contains("memory bound"), "{err}");
        assert!(started.elapsed().as_secs() < 5, "refused without building anything");

        let err = write_dataset_within(Dataset::Contacts, &day(0.01), &out, None, false, Some(1000), &mut |_, _| true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the limit of 1.0 kB (max_bytes)"), "{err}");
        assert!(!out.exists());
        let ok = write_dataset_within(Dataset::Contacts, &day(0.01), &out, None, false, Some(10_000_000), &mut |_, _| true)
            .unwrap();
        assert_eq!(ok.rows, 1000);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_bytes(u64::MAX), "18.4 EB");
    }

    #[test]
    fn free_disk_of_a_missing_directory_is_its_existing_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("a/b/c");
        let limit = disk_limit(&missing, None).unwrap().unwrap();
        assert_eq!(limit.source, LimitSource::FreeDisk(dir.path().to_path_buf()));
        assert!(limit.bytes > 0);
        let explicit = disk_limit(&missing, Some(123)).unwrap().unwrap();
        assert_eq!(explicit, Limit { bytes: 123, source: LimitSource::Explicit });
        assert!(!missing.exists(), "checking the limit creates nothing");
    }
}
