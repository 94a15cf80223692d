//! Object keys and bucket names: validation before any request.

use super::StoreError;

// The layout itself (kinds, file names, keys) lives in `crate::layout`; the store keeps
// its historical paths to it.
pub use crate::layout::{place, Kind, LayoutOverrides, Placement};

/// Longest key S3 accepts (bytes).
const MAX_KEY_BYTES: usize = 1024;

/// Rejects keys that could escape a prefix or confuse a store: empty, absolute, `.`/`..`
/// or empty segments, backslashes, control characters, too long.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| Err(StoreError::InvalidKey { key: key.to_string(), reason: reason.to_string() });
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute path (starts with '/')");
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("empty path segment ('//' or trailing '/')"),
            "." | ".." => return bad("contains a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// S3 bucket naming rules: 3-63 characters of lowercase letters, digits, '-' and '.',
/// starting and ending with a letter or digit, no '..', not an IP address.
pub fn validate_bucket(bucket: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| Err(StoreError::InvalidBucket { bucket: bucket.to_string(), reason: reason.to_string() });
    if !(3..=63).contains(&bucket.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return bad("only lowercase letters, digits, '-' and '.' are allowed");
    }
    let first = bucket.as_bytes()[0];
    let last = bucket.as_bytes()[bucket.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return bad("must not contain '..'");
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be an IP address");
    }
    Ok(())
}

/// Joins a prefix and a relative key, validating the result.
pub fn join_key(prefix: &str, rest: &str) -> Result<String, StoreError> {
    let prefix = prefix.trim_end_matches('/');
    let key = if prefix.is_empty() { rest.to_string() } else { format!("{prefix}/{rest}") };
    validate_key(&key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_rejected() {
        for key in ["", "/abs/key", "a/../b", "..", "a/./b", "a//b", "a/b/", "a\\b", "a\nb", "a\u{0}b", "tab\there"] {
            assert!(validate_key(key).is_err(), "{key:?} should be rejected");
        }
        assert!(validate_key(&"k".repeat(1025)).is_err());
        for key in ["a", "valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv", "a b/ü.csv", "..a/b..", "x.y"] {
            assert!(validate_key(key).is_ok(), "{key:?} should be accepted");
        }
    }

    #[test]
    fn bucket_names() {
        for b in ["marketing-data", "abc", "a.b-c1", &"a".repeat(63)] {
            assert!(validate_bucket(b).is_ok(), "{b:?} should be accepted");
        }
        for b in ["ab", "Marketing", "under_score", "-abc", "abc-", "a..b", "192.168.1.1", &"a".repeat(64), "a/b", ""] {
            assert!(validate_bucket(b).is_err(), "{b:?} should be rejected");
        }
    }
}
