//! Every format pattern the validator knows, in one place.
//!
//! Built-in names: `email`, `uuid`, `url`. Anything else is a user regular expression
//! (the `regex` crate: linear time, no backtracking blow-ups). `email` and `uuid` have hand
//! written matchers that are exactly equivalent to their regular expressions (a test
//! compares them on many generated strings); the regular expression is the definition.

use regex::Regex;

/// One `@`, no whitespace, a dot inside the domain part (stricter than the seed pipeline,
/// which let `jane doe@example.com` through).
pub const EMAIL_REGEX: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";
/// The canonical 8-4-4-4-12 hexadecimal form.
pub const UUID_REGEX: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// An absolute http(s) URL without whitespace.
pub const URL_REGEX: &str = r"^https?://[^\s/?#]+[^\s]*$";

#[derive(Clone, Debug)]
pub enum Pattern {
    Email,
    Uuid,
    Regex(Regex),
}

impl Pattern {
    /// A built-in name or a regular expression.
    pub fn compile(spec: &str) -> Result<Pattern, String> {
        match spec {
            "email" => Ok(Pattern::Email),
            "uuid" => Ok(Pattern::Uuid),
            "url" => Ok(Pattern::Regex(Regex::new(URL_REGEX).map_err(|e| e.to_string())?)),
            _ => Regex::new(spec)
                .map(Pattern::Regex)
                .map_err(|e| format!("invalid regex {spec:?}: {e}")),
        }
    }

    /// The regular expression that defines this pattern.
    pub fn regex_text(spec: &str) -> &str {
        match spec {
            "email" => EMAIL_REGEX,
            "uuid" => UUID_REGEX,
            "url" => URL_REGEX,
            other => other,
        }
    }

    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Email => is_email(s),
            Pattern::Uuid => is_uuid(s),
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

/// Exactly `EMAIL_REGEX`: `^[^@\s]+@[^@\s]+\.[^@\s]+$` where `\s` is Unicode White_Space
/// (the `regex` crate's `\s` and Rust's `char::is_whitespace` are both that property).
#[inline]
pub fn is_email(s: &str) -> bool {
    let b = s.as_bytes();
    let at = match memchr::memchr(b'@', b) {
        Some(i) => i,
        None => return false,
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    if local.is_empty() || domain.len() < 3 || memchr::memchr(b'@', domain).is_some() {
        return false;
    }
    // A dot with at least one character on each side, inside the domain part.
    if memchr::memchr(b'.', &domain[1..domain.len() - 1]).is_none() {
        return false;
    }
    if s.is_ascii() {
        // ASCII White_Space: \t \n \v \f \r and space.
        !b.iter().any(|&c| matches!(c, b' ' | b'\t'..=b'\r'))
    } else {
        !s.chars().any(char::is_whitespace)
    }
}

/// Exactly `UUID_REGEX`.
#[inline]
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator of awkward strings (no extra crates).
    fn strings(n: usize) -> Vec<String> {
        let alphabet: Vec<char> =
            "ab@.-_ 0f9A\t\u{a0}\u{2003}é\nZ".chars().chain("0123456789abcdef-".chars()).collect();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = (next() % 40) as usize;
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            })
            .collect()
    }

    #[test]
    fn hand_matchers_equal_their_regexes() {
        let email = Regex::new(EMAIL_REGEX).unwrap();
        let uuid = Regex::new(UUID_REGEX).unwrap();
        let mut cases = strings(200_000);
        cases.extend(
            [
                "jane.doe@example.com", "jane doe@example.com", "a@b.c", "a@.c", "a@b.", "@b.c", "a@@b.c",
                "a@b..c", "a@localhost", "a.b.c", "a@b\u{a0}.c", "é@ü.de", "a@b.c\n",
                "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
                "123e4567e89b-12d3-a456-426614174000-", "g23e4567-e89b-12d3-a456-426614174000",
            ]
            .map(String::from),
        );
        for s in &cases {
            assert_eq!(is_email(s), email.is_match(s), "email {s:?}");
            assert_eq!(is_uuid(s), uuid.is_match(s), "uuid {s:?}");
        }
        assert!(cases.iter().filter(|s| is_email(s)).count() > 10);
    }

    #[test]
    fn patterns_compile_or_explain() {
        assert!(Pattern::compile("url").unwrap().is_match("https://www.google.com/"));
        assert!(!Pattern::compile("url").unwrap().is_match("/pricing"));
        assert!(Pattern::compile(r"^CMP-\d{3}$").unwrap().is_match("CMP-001"));
        assert!(Pattern::compile("([").unwrap_err().contains("invalid regex"));
    }
}
