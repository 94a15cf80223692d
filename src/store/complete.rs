//! A conditional `CompleteMultipartUpload` — the one S3 call object_store does not expose
//! (it completes multipart uploads unconditionally). Parts are uploaded with object_store's
//! `MultipartStore`; the completion is sent here, signed with object_store's own SigV4
//! `AwsAuthorizer`, carrying `If-None-Match: *` (create) or `If-Match: <etag>` (replace).
//! AWS S3 (since 2024) honours both atomically; SeaweedFS honours them, but two racing
//! completions can both win there.
//!
//! Used behind a lease (`lease.rs`, the default), because SeaweedFS evaluates the
//! completion's condition non-atomically; alone with `MARKETING_CORE_MULTIPART_PUBLISH=complete`
//! (for servers known to honour it atomically, e.g. AWS). Path-style requests needed.

use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AwsAuthorizer, AwsCredentialProvider};
use object_store::client::HttpRequestBody;
use object_store::multipart::PartId;

use super::config::StoreConfig;

/// What the completion needs besides the parts.
pub(crate) struct DirectS3 {
    client: reqwest::Client,
    /// `<endpoint>/<bucket>` (path-style).
    base_url: String,
    credentials: AwsCredentialProvider,
    region: String,
    max_retries: usize,
    retry_timeout: Duration,
}

/// The condition of the completion.
pub(crate) enum Condition<'a> {
    Create,
    Replace { e_tag: &'a str },
}

/// Percent-encodes each segment of a key with the SigV4 unreserved set.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() * 3 / 2);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn body(parts: &[PartId]) -> String {
    let mut xml = String::from(r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    for (i, part) in parts.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            i + 1,
            xml_escape(&part.content_id)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

fn error_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(&text[start..end])
}

impl DirectS3 {
    /// `None` when the direct completion cannot be used (virtual-hosted-style requests,
    /// or plain HTTP not allowed). Signs with the store's own credential provider, so
    /// every credential source object_store supports works here too.
    pub(crate) fn new(cfg: &StoreConfig, bucket: &str, s3: &AmazonS3) -> Option<DirectS3> {
        if !cfg.path_style {
            return None;
        }
        let region = cfg.region.clone().unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = cfg.resolved_endpoint();
        if endpoint.starts_with("http://") && !cfg.allow_http {
            return None;
        }
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .build()
            .ok()?;
        Some(DirectS3 {
            client,
            base_url: format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            credentials: s3.credentials().clone(),
            region,
            max_retries: cfg.max_retries,
            retry_timeout: cfg.retry_timeout,
        })
    }

    /// Completes upload `upload_id` of `key` with `parts` (in part order), under
    /// `condition`. A failed condition is `Error::Precondition`.
    pub(crate) async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartId],
        condition: Condition<'_>,
    ) -> Result<(), object_store::Error> {
        let url = format!("{}/{}?uploadId={}", self.base_url, encode_key(key), encode_key(upload_id).replace('/', "%2F"));
        let xml = body(parts);
        let (header, value) = match condition {
            Condition::Create => ("if-none-match", "*".to_string()),
            Condition::Replace { e_tag } => ("if-match", e_tag.to_string()),
        };
        let started = Instant::now();
        let mut attempt = 0usize;
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = self.send(&url, &xml, header, &value).await;
            let retryable = match &outcome {
                Ok(_) => false,
                Err(Attempt::Retryable(_)) => true,
                Err(Attempt::Final(_)) => false,
            };
            if !retryable || attempt >= self.max_retries || started.elapsed() + backoff > self.retry_timeout {
                return match outcome {
                    Ok(()) => Ok(()),
                    Err(Attempt::Retryable(e)) | Err(Attempt::Final(e)) => Err(e),
                };
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn send(&self, url: &str, xml: &str, header: &str, value: &str) -> Result<(), Attempt> {
        let generic = |message: String| object_store::Error::Generic { store: "S3", source: message.into() };
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(url)
            .header("content-type", "application/xml")
            .header(header, value)
            .body(HttpRequestBody::from(xml.to_string()))
            .map_err(|e| Attempt::Final(generic(format!("cannot build CompleteMultipartUpload: {e}"))))?;
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(|e| Attempt::Final(generic(format!("no credentials to sign CompleteMultipartUpload: {e}"))))?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut request, None)
            .map_err(|e| Attempt::Final(generic(format!("cannot sign CompleteMultipartUpload: {e}"))))?;
        let (parts, _) = request.into_parts();
        let response = self
            .client
            .request(http::Method::POST, url)
            .headers(parts.headers)
            .body(xml.to_string())
            .send()
            .await
            .map_err(|e| Attempt::Retryable(generic(format!("CompleteMultipartUpload request failed: {e}"))))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Attempt::Retryable(generic(format!("CompleteMultipartUpload response lost: {e}"))))?;
        let code = error_code(&text).map(str::to_string);
        let path = url.split('?').next().unwrap_or(url).to_string();
        let describe = || format!("CompleteMultipartUpload: HTTP {} {}", status.as_u16(), code.as_deref().unwrap_or(""));
        match (status.as_u16(), code.as_deref()) {
            // S3 may answer 200 with an error document in the body.
            (200, None) => Ok(()),
            (412, _) | (409, _) | (_, Some("PreconditionFailed")) | (_, Some("ConditionalRequestConflict")) => {
                Err(Attempt::Final(object_store::Error::Precondition { path, source: describe().into() }))
            }
            (401, _) | (403, _) => Err(Attempt::Final(object_store::Error::PermissionDenied { path, source: describe().into() })),
            (429, _) | (500..=599, _) | (200, Some("InternalError" | "SlowDown" | "ServiceUnavailable")) => {
                Err(Attempt::Retryable(generic(describe())))
            }
            _ => Err(Attempt::Final(generic(describe()))),
        }
    }
}

enum Attempt {
    Retryable(object_store::Error),
    Final(object_store::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(encode_key("valid-data/contacts/ds=2025-05-25/a b.csv"), "valid-data/contacts/ds%3D2025-05-25/a%20b.csv");
        assert_eq!(encode_key("ü"), "%C3%BC");
    }

    #[test]
    fn completion_body_lists_parts_in_order() {
        let parts = vec![PartId { content_id: "\"a\"".into() }, PartId { content_id: "\"b\"".into() }];
        assert_eq!(
            body(&parts),
            r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"b"</ETag></Part></CompleteMultipartUpload>"#
        );
        assert_eq!(error_code("<Error><Code>PreconditionFailed</Code></Error>"), Some("PreconditionFailed"));
        assert_eq!(error_code("<CompleteMultipartUploadResult/>"), None);
    }
}
