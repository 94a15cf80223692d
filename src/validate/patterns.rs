//! Every format pattern the validator knows, in one place.
//!
//! Built-in names: `email`, `uuid`, `url`. Anything else is a user regular expression
//! (the `regex` crate: linear time, no backtracking blow-ups). `email` and `uuid` have hand
//! written matchers that are exactly equivalent to their regular expressions (a test
//! compares them on many generated strings); the regular expression is the definition.

use regex::Regex;

/// The WHATWG HTML standard's *valid e-mail address* (what `<input type=email>` accepts:
/// no quoted local parts, comments, control characters or `<...>`; domain labels of 1-63
/// letters, digits and inner hyphens), with one change: the domain needs a dot (two labels
/// or more), since a dotless host is no deliverable marketing address.
pub const EMAIL_REGEX: &str = r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$";
/// The WHATWG definition itself (a dotless domain allowed), for the corpus test.
#[cfg(test)]
const WHATWG_EMAIL_REGEX: &str = r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$";
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

/// Exactly `EMAIL_REGEX`, byte by byte (the pattern check is on the hot path).
#[inline]
pub fn is_email(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(at) = memchr::memchr(b'@', b) else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    let local_ok = |c: u8| c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c);
    if local.is_empty() || !local.iter().all(|&c| local_ok(c)) {
        return false;
    }
    let mut labels = 0;
    for label in domain.split(|&c| c == b'.') {
        let edges_ok = matches!((label.first(), label.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric());
        if label.len() > 63 || !edges_ok || !label.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
            return false;
        }
        labels += 1;
    }
    labels >= 2
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
        cases.extend(email_like(200_000));
        cases.extend(
            [
                "jane.doe@example.com", "jane doe@example.com", "a@b.c", "a@.c", "a@b.", "@b.c", "a@@b.c",
                "a@b..c", "a@localhost", "a.b.c", "a@b\u{a0}.c", "é@ü.de", "a@b.c\n", "a@b-.c", "a@-b.c", "a@b.c-",
                "a@b_c.d", "<a@b.com>", "a(comment)@b.com", "a@b.com (comment)", "a\u{1}b@c.de", "a@b.c\u{7f}",
                format!("a@{}.com", "x".repeat(63)).as_str(), format!("a@{}.com", "x".repeat(64)).as_str(), "a@b.c.", "a@.b.c",
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

    /// Strings of the characters that matter to an email address (so many are near misses).
    fn email_like(n: usize) -> Vec<String> {
        let alphabet: Vec<char> = "aZ9.-_@!+(){}<> \t\u{1}é".chars().collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = 3 + (next() % 14) as usize;
                let mut s: Vec<char> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                if next() % 2 == 0 {
                    s.insert(len / 3, '@');
                }
                s.into_iter().collect()
            })
            .collect()
    }

    /// The public corpus in tests/data/email_cases.json (Chromium's type=email cases): the
    /// WHATWG definition agrees with every case, and our pattern is that definition plus a
    /// dot in the domain.
    #[test]
    fn email_matches_the_whatwg_definition_on_a_public_corpus() {
        let doc: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/email_cases.json"))).unwrap();
        let whatwg = Regex::new(WHATWG_EMAIL_REGEX).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 50);
        for case in cases {
            let input = case["input"].as_str().unwrap();
            let valid = case["whatwg_valid"].as_bool().unwrap();
            assert_eq!(whatwg.is_match(input), valid, "WHATWG definition on {input:?}");
            let dotted = input.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'));
            assert_eq!(is_email(input), valid && dotted, "our pattern on {input:?}");
            assert_eq!(Pattern::compile("email").unwrap().is_match(input), valid && dotted, "{input:?}");
        }
        // What the issue named: control characters, empty or hyphen-edged labels, labels
        // over 63 characters, `_` in the domain, `<a@b.com>`, comments.
        for bad in ["a\u{0}@b.com", "a@b\u{7}.com", "a@b..com", "a@-b.com", "a@b-.com", format!("a@{}.com", "x".repeat(64)).as_str(),
            "a@b_c.com", "<a@b.com>", "a(x)@b.com", "a@b.com(x)", "jane doe@example.com", "a@localhost"] {
            assert!(!is_email(bad), "{bad:?}");
        }
        assert!(is_email(format!("a@{}.com", "x".repeat(63)).as_str()));
        assert!(is_email("jane.o'neil+news@mail-1.example.co.uk"));
    }

    #[test]
    fn patterns_compile_or_explain() {
        assert!(Pattern::compile("url").unwrap().is_match("https://www.google.com/"));
        assert!(!Pattern::compile("url").unwrap().is_match("/pricing"));
        assert!(Pattern::compile(r"^CMP-\d{3}$").unwrap().is_match("CMP-001"));
        assert!(Pattern::compile("([").unwrap_err().contains("invalid regex"));
    }
}
