//! The idempotent upload.
//!
//! Per file: one HEAD of the key decides, then the local file is hashed only if the
//! comparison needs it. An object's content is named by the MD5 of its bytes (user
//! metadata `md5`, or a single-part ETag; for a local store the MD5 of the stored file),
//! or, for an object this module wrote in parts straight to its key, by its multipart
//! ETag (the MD5 of its parts' MD5s) with the part size in user metadata `part-size`.
//! - The object exists with the same content → `skipped`, no body sent.
//! - It exists with other content → `conflict` (policy `refuse`), or a write conditional
//!   on the ETag seen by the HEAD (policy `replace`).
//! - It does not exist → a create-only write (`If-None-Match: *`). The loser of a race
//!   sees the winner's object: `skipped` if the content matches, `conflict` otherwise.
//!   A new large file is not hashed before it is sent: its parts' ETags, returned by the
//!   server as they are stored, name the object (no pre-pass over the file).
//!
//! Large files (multipart, parts in parallel with bounded memory, aborted on failure;
//! parts are invisible until the completion, so the key is never visible half-written).
//! Who may complete is decided by one of (the store option `multipart_publish`):
//! - `lock` (the default on S3): a lease on the key (`lease.rs`), won by an atomic
//!   create-only PUT of a small lock object; the holder completes straight to the key
//!   (`complete.rs`, still conditional), losers wait and then compare MD5s. One upload
//!   of the bytes, no server-side copy: as fast as an unconditional multipart upload.
//! - `copy`: parts to a temporary key under `_marketing_core_tmp/`, published by one
//!   conditional server-side copy (`If-None-Match: *` / `If-Match: <etag>`), then the
//!   temporary object is deleted. Correct without any lease, but the copy costs about
//!   as much as the upload. Also the fallback when the direct completion is unusable
//!   (virtual-hosted-style requests) and the local store's path (a hard link there).
//! - `complete`: the conditional completion alone, for servers that evaluate it
//!   atomically (AWS S3); SeaweedFS does not (two racing completions both succeed).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use md5::{Digest, Md5};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, UpdateVersion, WriteMultipart,
};
use tokio::io::AsyncReadExt;

use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};

use super::complete::{Condition, DirectS3};
use super::lease::{self, Acquired, Lease};
use super::config::{ConditionalWrites, MultipartPublish, StoreConfig, StoreTarget};
use super::probe::{self, Support};
use super::keys::{validate_bucket, validate_key};
use super::StoreError;

/// The user-metadata key holding the MD5 (hex) of the object's content (`x-amz-meta-md5`).
pub const MD5_METADATA_KEY: &str = "md5";
/// The user-metadata key holding the part size (bytes) of an object written in parts
/// straight to its key (`x-amz-meta-part-size`): its multipart ETag names its content.
pub const PART_SIZE_METADATA_KEY: &str = "part-size";
/// Where multipart uploads are staged before the conditional copy to their key.
pub const TMP_PREFIX: &str = "_marketing_core_tmp";

/// What to do when the key exists with different content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Leave the object alone and report a conflict (the default).
    Refuse,
    /// Overwrite it, conditional on the version seen (ETag), so a concurrent change is
    /// not overwritten blindly.
    Replace,
}

impl Policy {
    pub fn parse(value: &str) -> Result<Policy, StoreError> {
        match value {
            "refuse" => Ok(Policy::Refuse),
            "replace" => Ok(Policy::Replace),
            other => Err(StoreError::Config { message: format!("unknown policy {other:?}; expected refuse or replace") }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Uploaded,
    Skipped,
    Conflict,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uploaded => "uploaded",
            Status::Skipped => "skipped",
            Status::Conflict => "conflict",
            Status::Failed => "failed",
        }
    }
}

/// Why a file failed (maps to the Python exception raised for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Auth,
    NotFound,
    Io,
    Conflict,
    /// The local file changed while it was being uploaded; nothing was published.
    Changed,
    Backend,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Io => "io",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Changed => "changed",
            ErrorKind::Backend => "backend",
        }
    }
}

/// One file to upload to one key.
#[derive(Clone, Debug)]
pub struct UploadItem {
    pub source: PathBuf,
    pub key: String,
    pub dataset: Option<String>,
    pub ds: Option<String>,
}

#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// Files uploaded at once.
    pub concurrency: usize,
    /// Files larger than this go multipart.
    pub multipart_threshold: u64,
    /// Size of one multipart part (S3: at least 5 MiB).
    pub part_size: usize,
    /// Parts of one file in flight at once (memory ≈ part_size × (this + 1) per file).
    pub part_concurrency: usize,
    pub policy: Policy,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            concurrency: 16,
            multipart_threshold: 16 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            part_concurrency: 8,
            policy: Policy::Refuse,
        }
    }
}

impl UploadOptions {
    pub const KEYS: [&'static str; 5] = ["concurrency", "multipart_threshold", "part_size", "part_concurrency", "policy"];

    /// The defaults with `options` over them; an unknown key or a bad value is a
    /// `Config` error naming it.
    pub fn from_options<'a>(options: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<UploadOptions, StoreError> {
        let mut opts = UploadOptions::default();
        for (key, value) in options {
            let count = || -> Result<u64, StoreError> {
                value.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| StoreError::Config {
                    message: format!("{key} must be a whole number > 0, got {value:?}"),
                })
            };
            match key {
                "concurrency" => opts.concurrency = count()? as usize,
                "multipart_threshold" => opts.multipart_threshold = count()?,
                "part_size" => opts.part_size = count()? as usize,
                "part_concurrency" => opts.part_concurrency = count()? as usize,
                "policy" => opts.policy = Policy::parse(value)?,
                _ => {
                    return Err(StoreError::Config {
                        message: format!("unknown upload option {key:?}; expected one of {}", Self::KEYS.join(", ")),
                    })
                }
            }
        }
        Ok(opts)
    }
}

impl UploadOptions {
    fn check(&self) -> Result<(), StoreError> {
        let bad = |m: &str| Err(StoreError::Config { message: m.to_string() });
        if self.concurrency == 0 || self.part_concurrency == 0 {
            return bad("concurrency and part_concurrency must be >= 1");
        }
        if self.part_size < 5 * 1024 * 1024 {
            return bad("part_size must be at least 5 MiB (the S3 minimum)");
        }
        if self.multipart_threshold < self.part_size as u64 {
            return bad("multipart_threshold must be >= part_size");
        }
        Ok(())
    }
}

/// What happened to one file.
#[derive(Clone, Debug)]
pub struct FileOutcome {
    pub source: PathBuf,
    pub key: String,
    pub uri: String,
    pub dataset: Option<String>,
    pub ds: Option<String>,
    pub status: Status,
    /// Size of the file.
    pub bytes: u64,
    /// Bytes actually sent to the store (0 when skipped).
    pub bytes_sent: u64,
    pub seconds: f64,
    pub md5: Option<String>,
    pub multipart: bool,
    /// The object existed with other content and was replaced (policy `replace`).
    pub replaced: bool,
    /// Write requests sent for this file (PUTs, parts, copies).
    pub write_requests: u32,
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// Seconds since the Unix epoch.
    pub started_at: f64,
    pub finished_at: f64,
}

/// Progress callback: (bytes read and sent since last call, files finished since last call).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Files under `sources` (files, or directories walked recursively, in name order),
/// skipping hidden files and directories (names starting with `.`).
pub fn collect_sources(sources: &[PathBuf]) -> Result<Vec<PathBuf>, StoreError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
        let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
        let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|source| StoreError::Io { path: path.clone(), source })?;
            if meta.is_dir() {
                walk(&path, out)?;
            } else if meta.is_file() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for source in sources {
        let meta = std::fs::metadata(source).map_err(|e| StoreError::Io { path: source.clone(), source: e })?;
        if meta.is_dir() {
            walk(source, &mut out)?;
        } else {
            out.push(source.clone());
        }
    }
    Ok(out)
}

enum Backend {
    S3,
    /// The bucket's directory on disk, to hash stored objects.
    Local { dir: PathBuf },
}

struct Ctx {
    backend: Backend,
    store: Arc<dyn ObjectStore>,
    /// The same S3 store, for the low-level multipart calls.
    s3: Option<Arc<AmazonS3>>,
    /// The conditional multipart completion, when usable (path-style requests).
    direct: Option<DirectS3>,
    publish: MultipartPublish,
    /// How long an upload lock may go without a heartbeat before it is taken over.
    lock_ttl: std::time::Duration,
    cfg: StoreConfig,
    bucket: String,
    opts: UploadOptions,
    progress: Option<Progress>,
    /// Set after an authentication failure: the remaining files are not attempted.
    auth_failed: AtomicBool,
    unique: AtomicU64,
}

/// A failure inside one file's upload.
struct Failure {
    kind: ErrorKind,
    message: String,
}

impl Failure {
    fn store(ctx: &Ctx, err: object_store::Error) -> Failure {
        let kind = match &err {
            object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. } => ErrorKind::Auth,
            object_store::Error::NotFound { .. } => ErrorKind::NotFound,
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => ErrorKind::Conflict,
            _ => ErrorKind::Backend,
        };
        Failure { kind, message: ctx.cfg.redact(&crate_message(&err)) }
    }

    fn io(path: &Path, err: std::io::Error) -> Failure {
        Failure { kind: ErrorKind::Io, message: format!("cannot read {}: {err}", path.display()) }
    }

    fn changed(path: &Path, what: &str) -> Failure {
        Failure {
            kind: ErrorKind::Changed,
            message: format!(
                "{} changed during upload ({what}); nothing was published: upload it again once nothing writes to it",
                path.display()
            ),
        }
    }
}

/// What identifies a file's content on disk without reading it. Any difference between
/// the stamp taken before hashing and the one taken before publishing means the file was
/// written to (or replaced) meanwhile; ctime catches a write whose mtime was reset.
#[derive(Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    async fn read(path: &Path) -> Result<FileStamp, Failure> {
        Ok(FileStamp::of(&tokio::fs::metadata(path).await.map_err(|e| Failure::io(path, e))?))
    }

    /// Fails with "changed during upload" unless `path` still has this stamp.
    async fn check(&self, path: &Path) -> Result<(), Failure> {
        let now = FileStamp::read(path).await?;
        if now.len != self.len {
            return Err(Failure::changed(path, &format!("size {} bytes, then {}", self.len, now.len)));
        }
        if now != *self {
            return Err(Failure::changed(path, "modification time, change time or inode differ"));
        }
        Ok(())
    }
}

/// MD5 of the bytes actually sent, computed beside the upload on the blocking pool: the
/// parts are read from disk again after the first hashing pass, so this is what proves
/// the object's bytes are the ones its `md5` metadata names. The channel is bounded so a
/// slow hasher holds back reading (memory stays bounded).
struct SentHasher {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<(String, u64)>,
}

impl SentHasher {
    fn start(capacity: usize) -> SentHasher {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(capacity.max(1));
        let task = tokio::task::spawn_blocking(move || {
            let mut hasher = Md5::new();
            let mut total = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                total += chunk.len() as u64;
            }
            (hex(&hasher.finalize()), total)
        });
        SentHasher { tx, task }
    }

    async fn feed(&self, chunk: Bytes) {
        // The receiver lives until `verify`; a send error would mean it panicked, which
        // `verify` reports.
        let _ = self.tx.send(chunk).await;
    }

    /// Fails with "changed during upload" unless the bytes sent hash to `md5` and the
    /// file still has the stamp taken before its first hashing pass.
    async fn verify(self, source: &Path, md5: &str, stamp: &FileStamp) -> Result<(), Failure> {
        let SentHasher { tx, task } = self;
        drop(tx);
        let (sent_md5, sent_len) =
            task.await.map_err(|e| Failure { kind: ErrorKind::Backend, message: format!("hashing task failed: {e}") })?;
        if sent_len != stamp.len {
            return Err(Failure::changed(source, &format!("{} bytes hashed, {sent_len} bytes sent", stamp.len)));
        }
        if sent_md5 != md5 {
            return Err(Failure::changed(source, &format!("MD5 {md5} when hashed, {sent_md5} as sent")));
        }
        stamp.check(source).await
    }
}

fn crate_message(err: &dyn std::error::Error) -> String {
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


fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// MD5 of a file, streamed in 8 MiB reads (bounded memory).
fn md5_of_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 8 * 1024 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

async fn md5_of_file_async(path: PathBuf) -> std::io::Result<(String, u64)> {
    tokio::task::spawn_blocking(move || md5_of_file(&path))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// What a HEAD found at a key.
struct Existing {
    md5: Option<String>,
    /// The part size of an object named by its multipart ETag.
    part_size: Option<u64>,
    e_tag: Option<String>,
    version: Option<String>,
}

impl Existing {
    /// The stored object's multipart ETag (`<hex>-<parts>`, lower case), when its
    /// part size is known.
    fn multipart_e_tag(&self) -> Option<(u64, String)> {
        let tag = self.e_tag.as_deref()?.trim_matches('"').to_ascii_lowercase();
        let (hex_part, count) = tag.split_once('-')?;
        let valid = hex_part.len() == 32 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) && count.parse::<u64>().is_ok();
        Some((self.part_size?, tag)).filter(|_| valid)
    }

    /// What names the stored content, for messages.
    fn describe(&self) -> String {
        match (&self.md5, self.multipart_e_tag()) {
            (Some(md5), _) => format!("MD5 {md5}"),
            (None, Some((part_size, tag))) => format!("multipart ETag {tag} of {part_size}-byte parts"),
            (None, None) => "unknown".into(),
        }
    }
}

/// The multipart ETag of parts with these MD5s: the MD5 of the MD5s, `-<count>`.
fn multipart_e_tag_of_digests(digests: &[[u8; 16]]) -> String {
    format!("{}-{}", md5_hex(digests.concat().as_slice()), digests.len())
}

/// The multipart ETag S3 gives parts with these ETags. None when a part's ETag is not an
/// MD5 (SSE-KMS, other servers): then the object is named by nothing we can recompute,
/// and a rerun reports it as other content, never as the same.
fn multipart_e_tag_of_parts(part_e_tags: &[&str]) -> Option<String> {
    let digests = part_e_tags
        .iter()
        .map(|tag| {
            let tag = tag.trim_matches('"');
            let mut digest = [0u8; 16];
            (tag.len() == 32).then_some(())?;
            for (i, byte) in digest.iter_mut().enumerate() {
                *byte = u8::from_str_radix(tag.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            Some(digest)
        })
        .collect::<Option<Vec<_>>>()?;
    Some(multipart_e_tag_of_digests(&digests))
}

/// The multipart ETag the file would get in parts of `part_size` bytes: the parts are
/// hashed in parallel (positioned reads, bounded memory: one part per rayon thread).
fn multipart_e_tag_of_file(path: &Path, part_size: u64, len: u64) -> std::io::Result<String> {
    use rayon::prelude::*;
    let file = std::fs::File::open(path)?;
    let count = len.div_ceil(part_size.max(1)).max(1);
    let digests: Vec<[u8; 16]> = (0..count)
        .into_par_iter()
        .map(|i| {
            let want = part_size.min(len - i * part_size) as usize;
            let buf = read_at_most(&file, i * part_size, want)?;
            if buf.len() < want {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file became shorter"));
            }
            Ok(Md5::digest(&buf).into())
        })
        .collect::<std::io::Result<_>>()?;
    Ok(multipart_e_tag_of_digests(&digests))
}

/// What is known of the local file's content, each name computed once, when needed.
struct LocalContent<'a> {
    source: &'a Path,
    size: u64,
    md5: Option<String>,
    multipart: Option<(u64, String)>,
}

impl LocalContent<'_> {
    async fn md5(&mut self) -> Result<String, Failure> {
        if let Some(md5) = &self.md5 {
            return Ok(md5.clone());
        }
        let (md5, hashed) = md5_of_file_async(self.source.to_path_buf()).await.map_err(|e| Failure::io(self.source, e))?;
        if hashed != self.size {
            return Err(Failure::changed(self.source, &format!("size {} bytes, then {hashed} hashed", self.size)));
        }
        self.md5 = Some(md5.clone());
        Ok(md5)
    }

    async fn multipart_e_tag(&mut self, part_size: u64) -> Result<String, Failure> {
        if let Some((size, tag)) = &self.multipart {
            if *size == part_size {
                return Ok(tag.clone());
            }
        }
        let (source, len) = (self.source.to_path_buf(), self.size);
        let tag = tokio::task::spawn_blocking(move || multipart_e_tag_of_file(&source, part_size, len))
            .await
            .map_err(|e| Failure { kind: ErrorKind::Backend, message: format!("hashing task failed: {e}") })?
            .map_err(|e| Failure::io(self.source, e))?;
        self.multipart = Some((part_size, tag.clone()));
        Ok(tag)
    }

    /// Whether the stored object holds this content, hashing the file only as far as
    /// the object's name needs; and the local name compared.
    async fn matches(&mut self, existing: &Existing) -> Result<(bool, String), Failure> {
        if let Some(stored) = &existing.md5 {
            let local = self.md5().await?;
            return Ok((local == *stored, format!("MD5 {local}")));
        }
        if let Some((part_size, stored)) = existing.multipart_e_tag() {
            let local = self.multipart_e_tag(part_size).await?;
            return Ok((local == stored, format!("multipart ETag {local}")));
        }
        Ok((false, "content that cannot be compared with it".into()))
    }

    /// The name reported for the file (`FileOutcome::md5`).
    fn name(&self) -> Option<String> {
        self.md5.clone().or_else(|| self.multipart.as_ref().map(|(_, tag)| tag.clone()))
    }
}

/// One HEAD request (S3), or a stat plus a hash of the stored file (local).
async fn head_existing(ctx: &Ctx, path: &ObjectPath, local_size: u64) -> Result<Option<Existing>, Failure> {
    match &ctx.backend {
        Backend::S3 => {
            let options = GetOptions { head: true, ..Default::default() };
            match ctx.store.get_opts(path, options).await {
                Ok(result) => {
                    let md5 = result
                        .attributes
                        .get(&Attribute::Metadata(MD5_METADATA_KEY.into()))
                        .map(|v| v.as_ref().to_ascii_lowercase())
                        .or_else(|| {
                            // Written by another tool: a single-part upload's ETag is its MD5.
                            let e_tag = result.meta.e_tag.as_deref()?.trim_matches('"').to_ascii_lowercase();
                            (e_tag.len() == 32 && e_tag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(e_tag)
                        });
                    let part_size = result
                        .attributes
                        .get(&Attribute::Metadata(PART_SIZE_METADATA_KEY.into()))
                        .and_then(|v| v.as_ref().trim().parse::<u64>().ok())
                        .filter(|n| *n > 0);
                    Ok(Some(Existing { md5, part_size, e_tag: result.meta.e_tag, version: result.meta.version }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(Failure::store(ctx, e)),
            }
        }
        Backend::Local { dir } => {
            // LocalFileSystem keeps no user metadata; the stored file itself is hashed
            // (only when the sizes match: a different size is a different content).
            let file = dir.join(path.as_ref());
            match tokio::fs::metadata(&file).await {
                Ok(meta) if meta.is_file() => {
                    let md5 = if meta.len() == local_size {
                        Some(md5_of_file_async(file.clone()).await.map_err(|e| Failure::io(&file, e))?.0)
                    } else {
                        None
                    };
                    Ok(Some(Existing { md5, part_size: None, e_tag: None, version: None }))
                }
                Ok(_) => Err(Failure { kind: ErrorKind::Conflict, message: format!("{} is a directory", file.display()) }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Failure::io(&file, e)),
            }
        }
    }
}

/// How to write: create-only, or replace one version.
enum WriteMode {
    Create,
    Replace { e_tag: Option<String>, version: Option<String> },
}

struct Written {
    bytes_sent: u64,
    write_requests: u32,
}

fn md5_attributes(ctx: &Ctx, md5: &str) -> Attributes {
    let mut attributes = Attributes::new();
    if matches!(ctx.backend, Backend::S3) {
        attributes.insert(Attribute::Metadata(MD5_METADATA_KEY.into()), md5.to_string().into());
    }
    attributes
}

async fn write_single(ctx: &Ctx, path: &ObjectPath, data: Bytes, md5: &str, mode: &WriteMode) -> Result<Written, object_store::Error> {
    let len = data.len() as u64;
    let mode = match (mode, &ctx.backend) {
        (WriteMode::Create, _) => PutMode::Create,
        (WriteMode::Replace { e_tag, version }, Backend::S3) => {
            PutMode::Update(UpdateVersion { e_tag: e_tag.clone(), version: version.clone() })
        }
        // LocalFileSystem has no conditional update: an atomic rename over the old file.
        (WriteMode::Replace { .. }, Backend::Local { .. }) => PutMode::Overwrite,
    };
    let options = PutOptions { mode, attributes: md5_attributes(ctx, md5), ..Default::default() };
    ctx.store.put_opts(path, PutPayload::from(data), options).await?;
    if let Some(p) = &ctx.progress {
        p(len, 0);
    }
    Ok(Written { bytes_sent: len, write_requests: 1 })
}

async fn write_multipart(
    ctx: &Ctx,
    source: &Path,
    stamp: &FileStamp,
    path: &ObjectPath,
    local: &mut LocalContent<'_>,
    mode: &WriteMode,
) -> Result<Written, Failure> {
    if let (Some(s3), Some(direct)) = (&ctx.s3, &ctx.direct) {
        let write = DirectWrite { s3, direct, source, stamp, path, mode };
        let sent = match ctx.publish {
            MultipartPublish::Lock => Some(write_multipart_leased(ctx, &write).await),
            MultipartPublish::Complete => Some(write_multipart_direct(ctx, &write, None).await),
            MultipartPublish::Copy => None,
        };
        if let Some(sent) = sent {
            let (written, e_tag) = sent?;
            if let Some(e_tag) = e_tag {
                local.multipart = Some((ctx.opts.part_size as u64, e_tag));
            }
            return Ok(written);
        }
    }
    // The staged copy carries the MD5 in its metadata from its creation: hashed first.
    let md5 = local.md5().await?;
    let md5 = md5.as_str();
    let unique = ctx.unique.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tmp = ObjectPath::from(format!("{TMP_PREFIX}/{}-{nanos}-{unique}/{}", std::process::id(), path.as_ref()));
    let options = PutMultipartOptions { attributes: md5_attributes(ctx, md5), ..Default::default() };
    let upload = ctx.store.put_multipart_opts(&tmp, options).await.map_err(|e| Failure::store(ctx, e))?;
    let part_size = ctx.opts.part_size;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    let mut file = match tokio::fs::File::open(source).await {
        Ok(f) => f,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(Failure::io(source, e));
        }
    };
    let mut sent = 0u64;
    let mut parts = 0u32;
    let hasher = SentHasher::start(ctx.opts.part_concurrency);
    loop {
        if let Err(e) = writer.wait_for_capacity(ctx.opts.part_concurrency).await {
            let _ = writer.abort().await;
            return Err(Failure::store(ctx, e));
        }
        let mut buf = BytesMut::with_capacity(part_size);
        while buf.len() < part_size {
            match file.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Failure::io(source, e));
                }
            }
        }
        if buf.is_empty() {
            break;
        }
        let n = buf.len() as u64;
        sent += n;
        parts += 1;
        let chunk = buf.freeze();
        hasher.feed(chunk.clone()).await;
        writer.put(chunk);
        if let Some(p) = &ctx.progress {
            p(n, 0);
        }
    }
    // Before the staged object is completed: a file changed since it was hashed is not
    // published, and its parts are dropped.
    if let Err(changed) = hasher.verify(source, md5, stamp).await {
        let _ = writer.abort().await;
        remove_local_staging(ctx, &tmp).await;
        return Err(changed);
    }
    // `finish` aborts the upload itself when a part or the completion fails.
    if let Err(e) = writer.finish().await {
        remove_local_staging(ctx, &tmp).await;
        return Err(Failure::store(ctx, e));
    }
    let published = publish(ctx, &tmp, path, mode).await;
    // The temporary object is removed whatever happened (best effort; a crash here
    // leaves it under TMP_PREFIX, never at the final key).
    let _ = ctx.store.delete(&tmp).await;
    remove_local_staging(ctx, &tmp).await;
    published.map_err(|e| Failure::store(ctx, e))?;
    Ok(Written { bytes_sent: sent, write_requests: parts + 2 })
}

/// LocalFileSystem leaves the staging directories behind; removes this upload's.
async fn remove_local_staging(ctx: &Ctx, tmp: &ObjectPath) {
    if let Backend::Local { dir } = &ctx.backend {
        if let Some(unique_dir) = tmp.as_ref().split('/').nth(1) {
            let _ = tokio::fs::remove_dir_all(dir.join(TMP_PREFIX).join(unique_dir)).await;
        }
    }
}

/// Up to `len` bytes of `file` at `offset`: one positioned read straight into the part's
/// buffer on the blocking pool (tokio's `File` reads in 2 MiB steps through a buffer of
/// its own, an extra copy and four thread hand-offs per 8 MiB part).
async fn read_part(file: Arc<std::fs::File>, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || read_at_most(&file, offset, len))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Up to `len` bytes of `file` at `offset` by positioned reads (fewer only at its end).
fn read_at_most(file: &std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        #[cfg(unix)]
        let read = std::os::unix::fs::FileExt::read_at(file, &mut buf[filled..], offset + filled as u64);
        #[cfg(windows)]
        let read = std::os::windows::fs::FileExt::seek_read(file, &mut buf[filled..], offset + filled as u64);
        match read {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The completion's condition for a write mode: create-only, or replace the ETag seen.
fn completion_condition(mode: &WriteMode) -> Result<Condition<'_>, Failure> {
    match mode {
        WriteMode::Create => Ok(Condition::Create),
        WriteMode::Replace { e_tag: Some(e_tag), .. } => Ok(Condition::Replace { e_tag }),
        WriteMode::Replace { e_tag: None, .. } => {
            Err(Failure { kind: ErrorKind::Conflict, message: "the existing object has no ETag to replace conditionally".into() })
        }
    }
}

/// One multipart write straight to its key: the S3 clients, the file, the key and the
/// write mode.
struct DirectWrite<'a> {
    s3: &'a Arc<AmazonS3>,
    direct: &'a DirectS3,
    source: &'a Path,
    /// The file as it was before the upload started.
    stamp: &'a FileStamp,
    path: &'a ObjectPath,
    mode: &'a WriteMode,
}

/// Multipart straight to the key, holding the key's lease (`lease.rs`): only the lease
/// holder uploads and completes; the others wait for its object and then compare their
/// file with it (the caller's conflict path: skipped or conflict), without sending bytes.
async fn write_multipart_leased(ctx: &Ctx, write: &DirectWrite<'_>) -> Result<(Written, Option<String>), Failure> {
    let &DirectWrite { path, mode, .. } = write;
    let expected = match completion_condition(mode)? {
        Condition::Create => None,
        Condition::Replace { e_tag } => Some(e_tag),
    };
    let changed = || Failure { kind: ErrorKind::Conflict, message: format!("{path} was written by another uploader") };
    let claim = ctx.cfg.object_uri(&ctx.bucket, path.as_ref());
    let acquired = lease::acquire(ctx.store.clone(), path, claim, expected, ctx.lock_ttl)
        .await
        .map_err(|e| Failure::store(ctx, e))?;
    let lease = match acquired {
        Acquired::Held(lease) => lease,
        Acquired::KeyChanged => return Err(changed()),
    };
    let result = async {
        // The previous holder may have completed just before this lease was won.
        if lease::key_changed(ctx.store.as_ref(), path, expected).await.map_err(|e| Failure::store(ctx, e))? {
            return Err(changed());
        }
        write_multipart_direct(ctx, write, Some(&lease)).await
    }
    .await;
    lease.release().await;
    result.map(|(w, e_tag)| (Written { write_requests: w.write_requests + 2, ..w }, e_tag))
}

/// Multipart straight to the key: parts in parallel (bounded), then one conditional
/// `CompleteMultipartUpload`; on any failure the upload is aborted (nothing visible).
/// With a `lease`, the lease is renewed (and checked) right before the completion.
/// The object is named by its multipart ETag, computed from the ETags the server gave its
/// parts (returned; None when they are not MD5s), with the part size in its metadata.
async fn write_multipart_direct(
    ctx: &Ctx,
    write: &DirectWrite<'_>,
    lease: Option<&Lease>,
) -> Result<(Written, Option<String>), Failure> {
    let &DirectWrite { s3, direct, source, stamp, path, mode } = write;
    let condition = completion_condition(mode)?;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::Metadata(PART_SIZE_METADATA_KEY.into()), ctx.opts.part_size.to_string().into());
    let options = PutMultipartOptions { attributes, ..Default::default() };
    let id = s3.create_multipart_opts(path, options).await.map_err(|e| Failure::store(ctx, e))?;
    let result = async {
        let file = Arc::new(std::fs::File::open(source).map_err(|e| Failure::io(source, e))?);
        let part_size = ctx.opts.part_size;
        let mut tasks: tokio::task::JoinSet<Result<(usize, PartId), object_store::Error>> = tokio::task::JoinSet::new();
        let mut parts: Vec<Option<PartId>> = Vec::new();
        let mut sent = 0u64;
        let join_one = |joined: Option<Result<Result<(usize, PartId), object_store::Error>, tokio::task::JoinError>>,
                            parts: &mut Vec<Option<PartId>>|
         -> Result<(), Failure> {
            match joined {
                Some(Ok(Ok((idx, part)))) => {
                    parts[idx] = Some(part);
                    Ok(())
                }
                Some(Ok(Err(e))) => Err(Failure::store(ctx, e)),
                Some(Err(e)) => Err(Failure { kind: ErrorKind::Backend, message: format!("part upload task failed: {e}") }),
                None => Ok(()),
            }
        };
        loop {
            while tasks.len() >= ctx.opts.part_concurrency {
                join_one(tasks.join_next().await, &mut parts)?;
            }
            let buf = read_part(file.clone(), sent, part_size).await.map_err(|e| Failure::io(source, e))?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len() as u64;
            let idx = parts.len();
            parts.push(None);
            let (s3, path, id) = (s3.clone(), path.clone(), id.clone());
            let data = PutPayload::from(Bytes::from(buf));
            tasks.spawn(async move { s3.put_part(&path, &id, idx, data).await.map(|p| (idx, p)) });
            sent += n;
            if let Some(p) = &ctx.progress {
                p(n, 0);
            }
        }
        while let Some(joined) = tasks.join_next().await {
            join_one(Some(joined), &mut parts)?;
        }
        let parts: Vec<PartId> = parts.into_iter().map(|p| p.expect("every part joined")).collect();
        // A file that changed while it was read is never completed (the upload is
        // aborted below): the bytes sent are the file as it was when the upload began.
        if sent != stamp.len {
            return Err(Failure::changed(source, &format!("{} bytes before the upload, {sent} bytes sent", stamp.len)));
        }
        stamp.check(source).await?;
        if let Some(lease) = lease {
            lease.confirm().await.map_err(|e| Failure::store(ctx, e))?;
        }
        direct.complete(path.as_ref(), &id, &parts, condition).await.map_err(|e| Failure::store(ctx, e))?;
        let e_tag = multipart_e_tag_of_parts(&parts.iter().map(|p| p.content_id.as_str()).collect::<Vec<_>>());
        Ok((Written { bytes_sent: sent, write_requests: parts.len() as u32 + 2 }, e_tag))
    }
    .await;
    if result.is_err() {
        // Best effort (the server may be gone); an incomplete upload is never visible.
        let _ = s3.abort_multipart(path, &id).await;
    }
    result
}

/// The conditional server-side copy from the staged object to its key.
async fn publish(ctx: &Ctx, tmp: &ObjectPath, path: &ObjectPath, mode: &WriteMode) -> Result<(), object_store::Error> {
    match (mode, &ctx.backend) {
        (WriteMode::Create, _) => ctx.store.copy_if_not_exists(tmp, path).await,
        (WriteMode::Replace { e_tag: Some(e_tag), .. }, Backend::S3) => {
            let store = ctx
                .cfg
                .build_s3(&ctx.bucket, ("If-Match", e_tag))
                .map_err(|e| object_store::Error::Generic { store: "S3", source: e.to_string().into() })?;
            store.copy_if_not_exists(tmp, path).await.map_err(|e| match e {
                object_store::Error::AlreadyExists { path, source } => object_store::Error::Precondition { path, source },
                other => other,
            })
        }
        (WriteMode::Replace { e_tag: None, .. }, Backend::S3) => Err(object_store::Error::Precondition {
            path: path.to_string(),
            source: "the existing object has no ETag to replace conditionally".into(),
        }),
        (WriteMode::Replace { .. }, Backend::Local { .. }) => ctx.store.copy(tmp, path).await,
    }
}

async fn upload_one(ctx: Arc<Ctx>, item: UploadItem) -> FileOutcome {
    let started_at = now();
    let clock = Instant::now();
    let mut outcome = FileOutcome {
        uri: ctx.cfg.object_uri(&ctx.bucket, &item.key),
        source: item.source.clone(),
        key: item.key.clone(),
        dataset: item.dataset.clone(),
        ds: item.ds.clone(),
        status: Status::Failed,
        bytes: 0,
        bytes_sent: 0,
        seconds: 0.0,
        md5: None,
        multipart: false,
        replaced: false,
        write_requests: 0,
        error: None,
        error_kind: None,
        started_at,
        finished_at: started_at,
    };
    let result = if ctx.auth_failed.load(Ordering::Relaxed) {
        Err(Failure { kind: ErrorKind::Auth, message: "not attempted: an earlier request failed authentication".into() })
    } else {
        upload_file(&ctx, &item, &mut outcome).await
    };
    if let Err(failure) = result {
        if failure.kind == ErrorKind::Auth {
            ctx.auth_failed.store(true, Ordering::Relaxed);
        }
        outcome.status = if failure.kind == ErrorKind::Conflict { Status::Conflict } else { Status::Failed };
        outcome.error = Some(failure.message);
        outcome.error_kind = Some(failure.kind);
    }
    outcome.seconds = clock.elapsed().as_secs_f64();
    outcome.finished_at = now();
    if let Some(p) = &ctx.progress {
        p(0, 1);
    }
    outcome
}

async fn upload_file(ctx: &Ctx, item: &UploadItem, outcome: &mut FileOutcome) -> Result<(), Failure> {
    let path = ObjectPath::parse(&item.key).map_err(|e| Failure { kind: ErrorKind::Backend, message: e.to_string() })?;
    let stamp = FileStamp::read(&item.source).await?;
    let size = stamp.len;
    outcome.bytes = size;
    let multipart = size > ctx.opts.multipart_threshold;
    outcome.multipart = multipart;
    let mut local = LocalContent { source: &item.source, size, md5: None, multipart: None };
    // A small file is read once into memory and hashed; the body sent is the very buffer
    // hashed, and a stamp check after the read catches a write during it (a torn read).
    // A large file is hashed only when the HEAD finds an object to compare it with, or
    // when its path needs the MD5 up front (the staged copy, whose object carries it).
    let data = if multipart {
        None
    } else {
        let data = Bytes::from(tokio::fs::read(&item.source).await.map_err(|e| Failure::io(&item.source, e))?);
        stamp.check(&item.source).await?;
        if data.len() as u64 != size {
            return Err(Failure::changed(&item.source, &format!("size {size} bytes, then {} read", data.len())));
        }
        local.md5 = Some(md5_hex(&data));
        Some(data)
    };

    let found = head_existing(ctx, &path, size).await?;
    let mode = match found {
        Some(existing) => {
            let (same, local_name) = local.matches(&existing).await?;
            outcome.md5 = local.name();
            if same {
                outcome.status = Status::Skipped;
                if let Some(p) = &ctx.progress {
                    p(size, 0);
                }
                return Ok(());
            }
            match ctx.opts.policy {
                Policy::Refuse => {
                    return Err(Failure {
                        kind: ErrorKind::Conflict,
                        message: format!(
                            "{} exists with different content (stored {}, local {local_name}); policy is 'refuse'",
                            outcome.uri,
                            existing.describe()
                        ),
                    })
                }
                Policy::Replace => WriteMode::Replace { e_tag: existing.e_tag, version: existing.version },
            }
        }
        None => WriteMode::Create,
    };

    let written = match data {
        Some(data) => {
            let md5 = local.md5.clone().expect("a small file is hashed when read");
            write_single(ctx, &path, data, &md5, &mode).await.map_err(|e| Failure::store(ctx, e))
        }
        None => write_multipart(ctx, &item.source, &stamp, &path, &mut local, &mode).await,
    };
    outcome.md5 = local.name();
    match written {
        Ok(w) => {
            outcome.bytes_sent = w.bytes_sent;
            outcome.write_requests = w.write_requests;
            outcome.replaced = matches!(mode, WriteMode::Replace { .. });
            outcome.status = Status::Uploaded;
            Ok(())
        }
        Err(f) if f.kind == ErrorKind::Conflict => {
            outcome.write_requests = 1;
            // Lost a race: another writer created (or replaced) the key between our HEAD
            // and our write. Fine if it wrote the same content.
            let same = match head_existing(ctx, &path, size).await? {
                Some(existing) => local.matches(&existing).await?.0,
                None => false,
            };
            outcome.md5 = local.name();
            if same {
                outcome.status = Status::Skipped;
                return Ok(());
            }
            Err(Failure {
                kind: ErrorKind::Conflict,
                message: match mode {
                    WriteMode::Create => format!("{} was created concurrently with different content", outcome.uri),
                    WriteMode::Replace { .. } => format!("{} changed since it was checked; not replaced", outcome.uri),
                },
            })
        }
        Err(f) => Err(f),
    }
}

/// Uploads `items` to `bucket`. Every key and the bucket name are validated before any
/// request is sent. Per-file failures are reported in the outcomes, not raised.
pub fn upload(
    cfg: &StoreConfig,
    bucket: &str,
    items: Vec<UploadItem>,
    opts: &UploadOptions,
    progress: Option<Progress>,
) -> Result<Vec<FileOutcome>, StoreError> {
    validate_bucket(bucket)?;
    opts.check()?;
    for item in &items {
        validate_key(&item.key)?;
        if item.key.starts_with(TMP_PREFIX) {
            return Err(StoreError::InvalidKey { key: item.key.clone(), reason: format!("{TMP_PREFIX}/ is reserved") });
        }
    }
    let rt = super::runtime();
    // The S3 client spawns its connection tasks: build it inside the runtime.
    let _guard = rt.enter();
    let (backend, store, s3, direct) = match &cfg.target {
        StoreTarget::S3 => {
            let s3 = cfg.build_s3(bucket, ("If-None-Match", "*"))?;
            let store: Arc<dyn ObjectStore> = s3.clone();
            let direct = DirectS3::new(cfg, bucket, &s3);
            (Backend::S3, store, Some(s3), direct)
        }
        StoreTarget::Local { .. } => {
            let (dir, store) = cfg.build_local(bucket)?;
            (Backend::Local { dir }, store, None, None)
        }
    };
    let ctx = Arc::new(Ctx {
        backend,
        store,
        s3,
        direct,
        publish: cfg.multipart_publish,
        lock_ttl: cfg.lock_ttl,
        cfg: cfg.clone(),
        bucket: bucket.to_string(),
        opts: opts.clone(),
        progress,
        auth_failed: AtomicBool::new(false),
        unique: AtomicU64::new(0),
    });
    let concurrency = opts.concurrency;
    let outcomes = rt.block_on(async move {
        // Exactly-once rests on conditional writes: proven once per store before the
        // first data object is written (`probe.rs`).
        if matches!(ctx.backend, Backend::S3) && ctx.cfg.conditional_writes == ConditionalWrites::Require && !items.is_empty() {
            let endpoint = ctx.cfg.resolved_endpoint();
            match probe::conditional_writes(ctx.store.as_ref(), &format!("{endpoint} {}", ctx.bucket)).await {
                Ok(Support::Honoured) => {}
                Ok(Support::Ignored { header }) => {
                    return Err(StoreError::Backend {
                        message: format!(
                            "the S3 server at {endpoint} ignores conditional writes (a PutObject with {header} that must \
                             answer 412 succeeded, probed under {}/ in bucket {}), so exactly-once upload cannot be \
                             guaranteed there; nothing was uploaded. Use a server that honours them (AWS S3, MinIO, \
                             SeaweedFS) or, accepting that racing uploaders may overwrite each other, set \
                             conditional_writes=\"assume\" (CLI: --conditional-writes assume)",
                            probe::PROBE_PREFIX,
                            ctx.bucket,
                        ),
                    })
                }
                // Credentials, network: every file fails with the reason, as it would
                // have on its own first request (authentication stays recognisable).
                Err(e) => {
                    let failure = Failure::store(&ctx, e);
                    let message = format!("not attempted: the conditional-write probe failed: {}", failure.message);
                    return Ok(items
                        .into_iter()
                        .map(|item| {
                            let uri = ctx.cfg.object_uri(&ctx.bucket, &item.key);
                            failed(item, uri, failure.kind, message.clone())
                        })
                        .collect());
                }
            }
        }
        let mut indexed: Vec<(usize, FileOutcome)> = stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| {
                let ctx = ctx.clone();
                let fallback = item.clone();
                let uri = ctx.cfg.object_uri(&ctx.bucket, &item.key);
                async move {
                    match tokio::spawn(upload_one(ctx, item)).await {
                        Ok(outcome) => (index, outcome),
                        Err(join) => {
                            (index, failed(fallback, uri, ErrorKind::Backend, format!("internal error: {join}")))
                        }
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        indexed.sort_by_key(|(i, _)| *i);
        Ok(indexed.into_iter().map(|(_, o)| o).collect::<Vec<_>>())
    })?;
    Ok(outcomes)
}

/// The outcome of a file that failed before (or without) its own upload started.
fn failed(item: UploadItem, uri: String, kind: ErrorKind, message: String) -> FileOutcome {
    let t = now();
    FileOutcome {
        source: item.source,
        key: item.key,
        uri,
        dataset: item.dataset,
        ds: item.ds,
        status: Status::Failed,
        bytes: 0,
        bytes_sent: 0,
        seconds: 0.0,
        md5: None,
        multipart: false,
        replaced: false,
        write_requests: 0,
        error: Some(message),
        error_kind: Some(kind),
        started_at: t,
        finished_at: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::StoreTarget;

    fn local_cfg(root: &Path) -> StoreConfig {
        StoreConfig { target: StoreTarget::Local { root: root.to_path_buf() }, ..StoreConfig::default() }
    }

    fn item(source: PathBuf, key: &str) -> UploadItem {
        UploadItem { source, key: key.into(), dataset: None, ds: None }
    }

    #[test]
    fn md5_matches_known_vector() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
    }

    #[test]
    fn local_store_is_idempotent_and_refuses_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("contacts_2025-05-25.csv");
        std::fs::write(&src, b"a,b\n1,2\n").unwrap();
        let cfg = local_cfg(&tmp.path().join("buckets"));
        let opts = UploadOptions::default();
        let items = vec![item(src.clone(), "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv")];
        let first = upload(&cfg, "marketing-data", items.clone(), &opts, None).unwrap();
        assert_eq!(first[0].status, Status::Uploaded, "{:?}", first[0].error);
        let stored = tmp.path().join("buckets/marketing-data/valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv");
        assert_eq!(std::fs::read(&stored).unwrap(), b"a,b\n1,2\n");
        let second = upload(&cfg, "marketing-data", items.clone(), &opts, None).unwrap();
        assert_eq!(second[0].status, Status::Skipped);
        assert_eq!(second[0].bytes_sent, 0);
        std::fs::write(&src, b"a,b\n1,3\n").unwrap();
        let third = upload(&cfg, "marketing-data", items.clone(), &opts, None).unwrap();
        assert_eq!(third[0].status, Status::Conflict);
        assert_eq!(std::fs::read(&stored).unwrap(), b"a,b\n1,2\n");
        let replace = UploadOptions { policy: Policy::Replace, ..UploadOptions::default() };
        let fourth = upload(&cfg, "marketing-data", items, &replace, None).unwrap();
        assert_eq!(fourth[0].status, Status::Uploaded);
        assert!(fourth[0].replaced);
        assert_eq!(std::fs::read(&stored).unwrap(), b"a,b\n1,3\n");
    }

    #[test]
    fn multipart_e_tags_are_the_md5_of_the_part_md5s() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("thirty.bin");
        std::fs::write(&file, b"abcdefghij".repeat(3)).unwrap();
        // hashlib: md5(b"".join(md5(data[i:i+8]).digest() ...)) + "-4"
        assert_eq!(multipart_e_tag_of_file(&file, 8, 30).unwrap(), "bf19053f67a527c7a78bb0a5d8816c98-4");
        let parts: Vec<String> = b"abcdefghij".repeat(3).chunks(8).map(md5_hex).collect();
        let quoted: Vec<String> = parts.iter().map(|p| format!("\"{p}\"")).collect();
        assert_eq!(
            multipart_e_tag_of_parts(&quoted.iter().map(String::as_str).collect::<Vec<_>>()).as_deref(),
            Some("bf19053f67a527c7a78bb0a5d8816c98-4")
        );
        // A part ETag that is no MD5 (SSE-KMS, another server) names nothing.
        assert_eq!(multipart_e_tag_of_parts(&["\"not-an-md5\""]), None);
        assert!(multipart_e_tag_of_file(&file, 8, 40).is_err(), "a file shorter than its stamp");
        let existing = |tag: &str, part_size| Existing { md5: None, part_size, e_tag: Some(tag.into()), version: None };
        assert!(existing("\"bf19053f67a527c7a78bb0a5d8816c98-4\"", Some(8)).multipart_e_tag().is_some());
        assert!(existing("\"bf19053f67a527c7a78bb0a5d8816c98-4\"", None).multipart_e_tag().is_none());
        assert!(existing("\"bf19053f67a527c7a78bb0a5d8816c98\"", Some(8)).multipart_e_tag().is_none());
    }

    #[test]
    fn bad_keys_fail_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("x.csv");
        std::fs::write(&src, b"x").unwrap();
        let cfg = local_cfg(&tmp.path().join("buckets"));
        let items = vec![item(src.clone(), "ok/x.csv"), item(src, "../escape.csv")];
        let err = upload(&cfg, "marketing-data", items, &UploadOptions::default(), None).unwrap_err();
        assert!(matches!(err, StoreError::InvalidKey { .. }));
        assert!(!tmp.path().join("buckets").exists(), "nothing may be created before validation");
    }

    #[test]
    fn collect_skips_hidden_entries() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".marketing_core")).unwrap();
        std::fs::create_dir_all(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join(".marketing_core/a.json"), b"{}").unwrap();
        std::fs::write(tmp.path().join(".hidden"), b"").unwrap();
        std::fs::write(tmp.path().join("b.csv"), b"").unwrap();
        std::fs::write(tmp.path().join("sub/a.csv"), b"").unwrap();
        let files = collect_sources(&[tmp.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files.iter().map(|p| p.strip_prefix(tmp.path()).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["b.csv", "sub/a.csv"]);
    }
}
