//! Store configuration: which store (`s3://` or `file://`), where, with which
//! credentials, retries and timeouts. Secrets never appear in `Debug` output, and
//! [`StoreConfig::redact`] scrubs them from any message that leaves this module.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::str::FromStr;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut, S3CopyIfNotExists};
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientConfigKey, ClientOptions, ObjectStore, RetryConfig};

use super::keys::validate_bucket;
use super::StoreError;

/// Where objects go.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreTarget {
    /// An S3 API (AWS, MinIO, SeaweedFS...).
    S3,
    /// A directory on local disk; each bucket is a subdirectory of `root`.
    Local { root: PathBuf },
}

/// Whether an upload first proves the S3 server honours conditional writes (`probe.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionalWrites {
    /// Probe once per endpoint and bucket; refuse to upload where they are ignored.
    Require,
    /// No probe: the user vouches for the server (or accepts losing exactly-once).
    Assume,
}

impl ConditionalWrites {
    pub fn parse(value: &str) -> Result<ConditionalWrites, StoreError> {
        match value {
            "require" => Ok(ConditionalWrites::Require),
            "assume" => Ok(ConditionalWrites::Assume),
            other => Err(StoreError::Config {
                message: format!("unknown conditional_writes {other:?}; expected require or assume"),
            }),
        }
    }
}

/// How a multipart upload becomes visible at its key (see `upload.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultipartPublish {
    /// A lease (lock object) around the conditional CompleteMultipartUpload at the key.
    Lock,
    /// Parts to a temporary key, published by one conditional server-side copy.
    Copy,
    /// The conditional CompleteMultipartUpload alone (servers that evaluate it atomically).
    Complete,
}

impl MultipartPublish {
    pub fn parse(value: &str) -> Result<MultipartPublish, StoreError> {
        match value {
            "lock" => Ok(MultipartPublish::Lock),
            "copy" => Ok(MultipartPublish::Copy),
            "complete" => Ok(MultipartPublish::Complete),
            other => Err(StoreError::Config {
                message: format!("unknown multipart_publish {other:?}; expected lock, copy or complete"),
            }),
        }
    }
}

/// Our own option keys; every other key is one of object_store's S3 or client keys
/// (`aws_endpoint`, `aws_region`, `aws_access_key_id`, `allow_http`, `timeout`, ...).
pub const OWN_OPTION_KEYS: [&str; 6] =
    ["max_retries", "retry_timeout", "conditional_writes", "multipart_publish", "lock_ttl", "sign_payload"];

/// object_store keys marketing_core sets itself: its exactly-once guarantee rests on them.
const RESERVED_KEYS: [&str; 3] = ["aws_bucket", "aws_conditional_put", "aws_copy_if_not_exists"];

/// One store's whole configuration, its defaults in [`Default`] (the only place they are
/// written). Built from string options with [`StoreConfig::from_options`].
#[derive(Clone)]
pub struct StoreConfig {
    pub target: StoreTarget,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`), what MinIO and SeaweedFS expect.
    pub path_style: bool,
    /// Whether the SigV4 signature covers the body (SHA-256 of every byte). `None`: only
    /// over plain HTTP, as the AWS SDKs do (TLS protects the body otherwise).
    pub sign_payload: Option<bool>,
    pub max_retries: usize,
    pub retry_timeout: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub conditional_writes: ConditionalWrites,
    pub multipart_publish: MultipartPublish,
    /// How long an upload lock may go without a heartbeat before it is taken over.
    pub lock_ttl: Duration,
    /// Further object_store S3 options (server-side encryption, checksums, ...), as given.
    pub extra: Vec<(AmazonS3ConfigKey, String)>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            target: StoreTarget::Local { root: PathBuf::from("object-store") },
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: false,
            path_style: true,
            sign_payload: None,
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
            conditional_writes: ConditionalWrites::Require,
            multipart_publish: MultipartPublish::Lock,
            lock_ttl: Duration::from_secs(60),
            extra: Vec::new(),
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, StoreError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(StoreError::Config { message: format!("{key} must be true or false, got {value:?}") }),
    }
}

fn parse_seconds(key: &str, value: &str) -> Result<Duration, StoreError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| StoreError::Config { message: format!("{key} must be a number of seconds >= 0, got {value:?}") })
}

const REDACTED: &str = "***";

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| REDACTED);
        f.debug_struct("StoreConfig")
            .field("target", &self.target)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &hidden(&self.access_key_id))
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("path_style", &self.path_style)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("conditional_writes", &self.conditional_writes)
            .field("multipart_publish", &self.multipart_publish)
            .field("lock_ttl", &self.lock_ttl)
            .field("extra", &self.extra.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>())
            .finish()
    }
}

impl StoreConfig {
    /// The store at `url` with `options` over the defaults. Keys are object_store's
    /// (`aws_endpoint`, `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_session_token`, `aws_virtual_hosted_style_request`, `aws_unsigned_payload`,
    /// `allow_http`, `timeout`, `connect_timeout`, and any other S3 key, passed on) or
    /// one of [`OWN_OPTION_KEYS`]. Seconds are plain numbers. An unknown key, a bad value
    /// or a key marketing_core sets itself is a `Config` error naming it.
    pub fn from_options<'a>(url: &str, options: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<StoreConfig, StoreError> {
        let mut cfg = StoreConfig { target: Self::parse_url(url)?, ..StoreConfig::default() };
        let mut allow_http = None;
        for (key, value) in options {
            if matches!(key, "allow_http" | "aws_allow_http") {
                allow_http = Some(parse_bool(key, value)?);
                continue;
            }
            match key {
                "max_retries" => {
                    cfg.max_retries = value.trim().parse().map_err(|_| StoreError::Config {
                        message: format!("max_retries must be a whole number >= 0, got {value:?}"),
                    })?
                }
                "retry_timeout" => cfg.retry_timeout = parse_seconds(key, value)?,
                "lock_ttl" => {
                    cfg.lock_ttl = parse_seconds(key, value)?;
                    if cfg.lock_ttl.is_zero() {
                        return Err(StoreError::Config { message: "lock_ttl must be more than 0 seconds".into() });
                    }
                }
                "conditional_writes" => cfg.conditional_writes = ConditionalWrites::parse(value)?,
                "multipart_publish" => cfg.multipart_publish = MultipartPublish::parse(value)?,
                "sign_payload" => cfg.sign_payload = Some(parse_bool(key, value)?),
                _ => cfg.set_object_store_option(key, value)?,
            }
        }
        // Plain HTTP only where asked for, or where the endpoint itself is http://.
        cfg.allow_http = allow_http.unwrap_or_else(|| cfg.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")));
        Ok(cfg)
    }

    fn set_object_store_option(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let parsed = AmazonS3ConfigKey::from_str(key).map_err(|_| StoreError::Config {
            message: format!(
                "unknown store option {key:?}: expected one of {} or an object_store S3 key (aws_endpoint, aws_region, ...)",
                OWN_OPTION_KEYS.join(", ")
            ),
        })?;
        let text = Some(value.to_string());
        match parsed {
            AmazonS3ConfigKey::Endpoint | AmazonS3ConfigKey::S3Endpoint => self.endpoint = text,
            AmazonS3ConfigKey::Region | AmazonS3ConfigKey::DefaultRegion => self.region = text,
            AmazonS3ConfigKey::AccessKeyId => self.access_key_id = text,
            AmazonS3ConfigKey::SecretAccessKey => self.secret_access_key = text,
            AmazonS3ConfigKey::Token => self.session_token = text,
            AmazonS3ConfigKey::VirtualHostedStyleRequest => self.path_style = !parse_bool(key, value)?,
            AmazonS3ConfigKey::UnsignedPayload => self.sign_payload = Some(!parse_bool(key, value)?),
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout) => self.request_timeout = parse_seconds(key, value)?,
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout) => self.connect_timeout = parse_seconds(key, value)?,
            other if RESERVED_KEYS.contains(&other.as_ref()) => {
                return Err(StoreError::Config {
                    message: format!("store option {key:?} is set by marketing_core (exactly-once uploads rest on it)"),
                })
            }
            other => self.extra.push((other, value.to_string())),
        }
        Ok(())
    }

    /// `s3://` (or `s3`) for an S3 API, `file:///abs/dir` or `file://rel/dir` for a local
    /// directory holding one subdirectory per bucket.
    pub fn parse_url(url: &str) -> Result<StoreTarget, StoreError> {
        if url == "s3" || url == "s3://" {
            return Ok(StoreTarget::S3);
        }
        if let Some(root) = url.strip_prefix("file://") {
            if root.is_empty() {
                return Err(StoreError::Config { message: "file:// needs a directory, e.g. file:///data/buckets".into() });
            }
            return Ok(StoreTarget::Local { root: PathBuf::from(root) });
        }
        Err(StoreError::Config {
            message: format!("unsupported store URL {url:?}: expected s3:// or file://<directory>"),
        })
    }

    /// A short description without secrets: `s3://bucket at http://host:port` or
    /// `file:///dir/bucket`.
    pub fn describe(&self, bucket: &str) -> String {
        match &self.target {
            StoreTarget::S3 => match &self.endpoint {
                Some(e) => format!("s3://{bucket} at {e}"),
                None => format!("s3://{bucket}"),
            },
            StoreTarget::Local { root } => format!("file://{}", root.join(bucket).display()),
        }
    }

    /// The URI of an object, as recorded in reports and the audit log.
    pub fn object_uri(&self, bucket: &str, key: &str) -> String {
        match &self.target {
            StoreTarget::S3 => format!("s3://{bucket}/{key}"),
            StoreTarget::Local { root } => format!("file://{}/{key}", root.join(bucket).display()),
        }
    }

    /// Replaces every secret (and the access key id) in `message` by `***`.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_string();
        for secret in [&self.secret_access_key, &self.session_token, &self.access_key_id].into_iter().flatten() {
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// The endpoint requests go to, as the S3 client resolves it (for messages and the
    /// probe cache): the configured one, else the AWS environment's, else AWS's own.
    pub(crate) fn resolved_endpoint(&self) -> String {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region.as_deref().unwrap_or("us-east-1")))
    }

    fn signs_payload(&self) -> bool {
        self.sign_payload.unwrap_or_else(|| self.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")))
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5), base: 2.0 },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.request_timeout)
    }

    /// The S3 store for `bucket`. `copy_condition` is the header sent with the
    /// server-side copy that publishes a multipart upload (`If-None-Match: *` to create,
    /// `If-Match: <etag>` to replace one version).
    pub(crate) fn build_s3(&self, bucket: &str, copy_condition: (&str, &str)) -> Result<Arc<AmazonS3>, StoreError> {
        validate_bucket(bucket)?;
        super::install_crypto_provider();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(self.allow_http)
            .with_virtual_hosted_style_request(!self.path_style)
            .with_unsigned_payload(!self.signs_payload())
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_copy_if_not_exists(S3CopyIfNotExists::Header(copy_condition.0.into(), copy_condition.1.into()))
            .with_retry(self.retry())
            .with_client_options(self.client_options());
        for (key, value) in &self.extra {
            builder = builder.with_config(*key, value);
        }
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        builder = builder.with_region(self.region.as_deref().unwrap_or("us-east-1"));
        if let Some(v) = &self.access_key_id {
            builder = builder.with_access_key_id(v);
        }
        if let Some(v) = &self.secret_access_key {
            builder = builder.with_secret_access_key(v);
        }
        if let Some(v) = &self.session_token {
            builder = builder.with_token(v);
        }
        let store = builder
            .build()
            .map_err(|e| StoreError::Config { message: self.redact(&e.to_string()) })?;
        Ok(Arc::new(store))
    }

    /// The local directory of `bucket` (created if missing) and its store.
    pub(crate) fn build_local(&self, bucket: &str) -> Result<(PathBuf, Arc<dyn ObjectStore>), StoreError> {
        validate_bucket(bucket)?;
        let StoreTarget::Local { root } = &self.target else {
            return Err(StoreError::Config { message: "not a file:// store".into() });
        };
        let dir = root.join(bucket);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        let dir = dir.canonicalize().map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| StoreError::Config { message: e.to_string() })?;
        Ok((dir, Arc::new(store)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secrets() -> StoreConfig {
        StoreConfig {
            target: StoreTarget::S3,
            endpoint: Some("http://127.0.0.1:9000".into()),
            access_key_id: Some("AKIAEXAMPLEKEY".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG".into()),
            session_token: Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
            ..StoreConfig::default()
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let cfg = with_secrets();
        let text = format!("{cfg:?}");
        assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
        assert!(!text.contains("AKIAEXAMPLEKEY"), "{text}");
        assert!(!text.contains("FwoGZXIvYXdzEXAMPLETOKEN"), "{text}");
        assert!(text.contains("127.0.0.1:9000"));
        assert!(text.contains("***"));
    }

    #[test]
    fn redact_scrubs_messages() {
        let cfg = with_secrets();
        let msg = "signature for AKIAEXAMPLEKEY with wJalrXUtnFEMI/K7MDENG and FwoGZXIvYXdzEXAMPLETOKEN failed";
        let out = cfg.redact(msg);
        assert_eq!(out, "signature for *** with *** and *** failed");
    }

    #[test]
    fn urls() {
        assert_eq!(StoreConfig::parse_url("s3://").unwrap(), StoreTarget::S3);
        assert_eq!(
            StoreConfig::parse_url("file:///tmp/b").unwrap(),
            StoreTarget::Local { root: PathBuf::from("/tmp/b") }
        );
        assert!(StoreConfig::parse_url("gs://x").is_err());
        assert!(StoreConfig::parse_url("file://").is_err());
        let cfg = with_secrets();
        assert_eq!(cfg.object_uri("marketing-data", "a/b.csv"), "s3://marketing-data/a/b.csv");
    }

    #[test]
    fn options_use_object_store_keys_and_defaults_stay_in_one_place() {
        let cfg = StoreConfig::from_options(
            "s3://",
            [
                ("aws_endpoint", "http://127.0.0.1:8333"),
                ("region", "eu-west-1"),
                ("aws_virtual_hosted_style_request", "false"),
                ("timeout", "30"),
                ("lock_ttl", "2.5"),
                ("multipart_publish", "copy"),
                ("aws_server_side_encryption", "AES256"),
            ],
        )
        .unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(cfg.region.as_deref(), Some("eu-west-1"));
        assert!(cfg.path_style && cfg.allow_http);
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));
        assert_eq!(cfg.lock_ttl, Duration::from_millis(2500));
        assert_eq!(cfg.multipart_publish, MultipartPublish::Copy);
        assert_eq!(cfg.extra.len(), 1);
        let defaults = StoreConfig::from_options("s3://", []).unwrap();
        assert_eq!(defaults.max_retries, StoreConfig::default().max_retries);
        assert_eq!(defaults.conditional_writes, ConditionalWrites::Require);
        assert!(!defaults.allow_http, "https unless the endpoint is http://");
        let https = StoreConfig::from_options("s3://", [("endpoint", "https://s3.example.com"), ("allow_http", "true")]);
        assert!(https.unwrap().allow_http);
    }

    #[test]
    fn bad_options_are_config_errors_naming_the_key() {
        for (key, value) in [
            ("aws_endpiont", "x"),
            ("lock_ttl", "0"),
            ("lock_ttl", "soon"),
            ("allow_http", "perhaps"),
            ("multipart_publish", "fast"),
            ("aws_conditional_put", "disabled"),
            ("max_retries", "-1"),
        ] {
            match StoreConfig::from_options("s3://", [(key, value)]) {
                Err(StoreError::Config { message }) => assert!(message.contains(key), "{key}: {message}"),
                other => panic!("{key}={value}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn bad_bucket_fails_before_building() {
        let cfg = with_secrets();
        assert!(matches!(cfg.build_s3("Bad_Bucket", ("If-None-Match", "*")), Err(StoreError::InvalidBucket { .. })));
    }
}
