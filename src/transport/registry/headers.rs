//! Parsers for the response headers the registry client acts on: `Link` (paging), `Location`
//! (uploads), `Content-Range` (resumed downloads), and the origin rule that decides which URLs
//! get credentials. Pure functions on untrusted text: every one accepts any input without
//! panicking, and the numbers they return are range-checked (`fuzz_checks::response_headers`
//! drives them with arbitrary bytes). `Retry-After` is in `transport::retry`, `WWW-Authenticate`
//! and token responses in `auth`.

/// The longest header text quoted in an error message; longer values are cut with `…`.
pub const QUOTE_MAX: usize = 200;

/// `s` for an error message: at most [`QUOTE_MAX`] characters, control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_MAX).collect();
    if s.chars().nth(QUOTE_MAX).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

/// The target of the first `rel="next"` link among `Link` header values (RFC 8288, as
/// distribution and the OCI spec send it: `</v2/a/tags/list?n=2&last=b>; rel="next"`), as
/// written, not yet resolved.
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    values.into_iter().flat_map(|v| v.split(',')).find_map(|l| {
        let (target, params) = l.trim().split_once(';')?;
        let next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").is_some_and(|r| {
                r.trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        let t = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        (next && !t.is_empty()).then_some(t)
    })
}

/// Resolve a server-given URL (`Location`, `Link`) against `base` (`https://host[:port]`): an
/// absolute `http(s)://` URL as it is, a path from the host's root, anything else relative to
/// the host's root too (what distribution's clients do). `None` when the result is not a URL.
pub fn resolve(base: &str, loc: &str) -> Option<String> {
    let loc = loc.trim();
    let s = if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.to_string()
    } else if loc.starts_with('/') {
        format!("{base}{loc}")
    } else {
        format!("{base}/{loc}")
    };
    reqwest::Url::parse(&s).ok().map(String::from)
}

/// Whether `url` is on the same origin (scheme, host and port) as `base`: the registry the
/// user named. Only those requests carry the user's credentials or the registry's tokens
/// (docs/auth.md, "Credentials stay with their host").
pub fn same_origin(base: &str, url: &str) -> bool {
    let (Ok(a), Ok(b)) = (reqwest::Url::parse(base), reqwest::Url::parse(url)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str()
            .zip(b.host_str())
            .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A parsed `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte position.
    pub first: u64,
    /// Last byte position (inclusive), at least `first`.
    pub last: u64,
    /// The whole length, when known; more than `last`.
    pub total: Option<u64>,
}

/// Parse a `Content-Range` of a 206 answer; `None` when malformed or inconsistent (a last
/// byte before the first, a total not past the last byte, numbers that do not fit in u64).
pub fn content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes ")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last) = (num(first)?, num(last)?);
    let total = match total.trim() {
        "*" => None,
        t => Some(num(t)?),
    };
    if last < first || total.is_some_and(|t| t <= last) {
        return None;
    }
    Some(ContentRange { first, last, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link([r#"</v2/a/tags/list?n=2&last=b>; rel="next""#]),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link([r#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#]),
            Some("https://x/next")
        );
        assert_eq!(next_link(["<>; rel=next", "garbage", ";;;", "<a>"]), None);
        assert_eq!(next_link([r#"<b>; rel="prefetch next""#]), Some("b"));
    }

    #[test]
    fn origins() {
        let base = "http://127.0.0.1:5000";
        assert!(same_origin(
            base,
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x"
        ));
        assert!(!same_origin(
            base,
            "http://127.0.0.1:5001/v2/a/blobs/uploads/x"
        ));
        assert!(!same_origin(base, "http://localhost:5000/v2/"));
        assert!(!same_origin(base, "https://127.0.0.1:5000/v2/"));
        assert!(same_origin(
            "https://r.example",
            "https://R.example:443/v2/"
        ));
        assert!(!same_origin(base, "not a url"));
        assert_eq!(
            resolve(base, "/v2/a/blobs/uploads/x?_state=1").as_deref(),
            Some("http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=1")
        );
        assert_eq!(resolve(base, "http://[::1"), None);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            content_range("bytes 5-9/10"),
            Some(ContentRange {
                first: 5,
                last: 9,
                total: Some(10)
            })
        );
        assert_eq!(content_range("bytes 5-9/*").unwrap().total, None);
        for bad in [
            "bytes 9-5/10",
            "bytes 5-9/9",
            "bytes 5-99999999999999999999999/*",
            "bytes -5/10",
            "bytes 5-9",
            "items 5-9/10",
            "bytes +5-9/10",
        ] {
            assert_eq!(content_range(bad), None, "{bad}");
        }
        assert_eq!(
            content_range("bytes 0-18446744073709551614/18446744073709551615")
                .unwrap()
                .last,
            u64::MAX - 1
        );
    }

    #[test]
    fn quotes_are_bounded() {
        let q = quote(&"x".repeat(100_000));
        assert!(q.len() < QUOTE_MAX + 10, "{}", q.len());
        assert_eq!(quote("a\r\nb"), r#""a\r\nb""#);
    }
}
