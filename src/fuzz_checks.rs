//! Property checks for the parsers that read untrusted input, shared by the cargo-fuzz targets
//! in `fuzz/` and by plain `#[test]` loops here (which run in every `cargo test`, on stable).
//!
//! Each check takes arbitrary input, must never panic on its own, and panics when a property
//! is broken:
//! - [`reference`]: parsing never panics; a parsed registry reference names a host that forms a
//!   valid URL with its repository, and prints to text that parses back to the same value.
//! - [`platform`]: parsing `--platform` values never panics; every pattern prints to text that
//!   parses back; a literal pattern matches the platform it spells.
//! - [`manifest`]: the lenient manifest view never panics on any bytes and media-type hint; an
//!   accepted manifest has a view of its kind, and the planner handles it without panicking.
//! - [`response`]: the parsers of registry responses (`Retry-After`, `Link`, `Location`,
//!   `Content-Range`, `WWW-Authenticate`, rate-limit headers, token JSON) never panic on any
//!   bytes; what they return is in range: a retry wait never exceeds the policy's cap, a next
//!   link is non-empty text of the input and resolves to a URL or nothing, a content range has
//!   first ≤ last < total, a token lifetime is within 1 s ..= 24 h.
//!
//! Crashes the fuzzer found are kept as unit tests below (`regressions`).

use bytes::Bytes;

use crate::engine::plan::{self, Inputs};
use crate::engine::select::{PlatformlessPolicy, Selector};
use crate::model::digest::Digest;
use crate::model::manifest::{ManifestView, RawManifest};
use crate::model::media;
use crate::model::platform::{Platform, PlatformFilter, PlatformPattern};
use crate::model::reference::ImageRef;

/// Reference parser properties (see the module docs).
pub fn reference(input: &str) {
    let Ok(parsed) = input.parse::<ImageRef>() else {
        return;
    };
    let text = parsed.to_string();
    let again = text
        .parse::<ImageRef>()
        .unwrap_or_else(|e| panic!("{input:?} parsed, its text {text:?} does not: {e}"));
    assert_eq!(again, parsed, "{input:?} → {text:?} parses differently");
    if let ImageRef::Registry(r) = &parsed {
        let url = format!(
            "https://{}/v2/{}/manifests/{}",
            r.api_host(),
            r.repository,
            r.reference()
        );
        let u = reqwest::Url::parse(&url)
            .unwrap_or_else(|e| panic!("{input:?} parsed, but {url:?} is not a URL: {e}"));
        let given = r.api_host();
        let (host, port) = match given.rsplit_once(':') {
            Some((h, p))
                if !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (h, p.parse::<u16>().ok())
            }
            _ => (given, Some(443)),
        };
        let url_host = u.host_str().unwrap_or_default();
        let v6 = |h: &str| {
            h.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        };
        let same_host = url_host.eq_ignore_ascii_case(host)
            || v6(url_host).is_some_and(|a| Some(a) == v6(host));
        assert!(
            same_host && u.port_or_known_default() == port,
            "{input:?}: registry {given:?} becomes URL host {url_host:?} port {:?}",
            u.port_or_known_default()
        );
        assert_eq!(
            u.path(),
            format!("/v2/{}/manifests/{}", r.repository, r.reference()),
            "{input:?}: the URL path changed"
        );
    }
}

/// Platform pattern parser properties (see the module docs).
pub fn platform(input: &str) {
    let Ok(filter) = PlatformFilter::parse(&[input]) else {
        return;
    };
    for p in filter.includes().iter().chain(filter.excludes()) {
        let again: PlatformPattern = p.as_str().parse().unwrap_or_else(|e| {
            panic!("{input:?}: pattern {:?} does not reparse: {e}", p.as_str())
        });
        assert_eq!(again.is_literal(), p.is_literal());
        if p.is_literal() {
            let (head, version) = p
                .as_str()
                .split_once(':')
                .map_or((p.as_str(), None), |(h, v)| (h, Some(v)));
            let mut parts = head.split('/');
            let named = Platform {
                os: parts.next().unwrap_or_default().into(),
                architecture: parts.next().unwrap_or_default().into(),
                variant: parts.next().map(str::to_string),
                os_version: version.map(str::to_string),
                ..Platform::default()
            };
            assert!(
                p.matches(&named),
                "{input:?}: literal pattern {:?} does not match the platform it names ({named})",
                p.as_str()
            );
        }
    }
    for p in [
        "linux/amd64",
        "linux/arm/v7",
        "unknown/unknown",
        "windows/amd64:10.0.1",
    ] {
        let mut parts = p.split([':', '/']);
        let platform = Platform {
            os: parts.next().unwrap_or_default().into(),
            architecture: parts.next().unwrap_or_default().into(),
            ..Platform::default()
        };
        let _ = filter.select(&platform);
    }
}

/// Response parser properties (see the module docs). The whole input is offered to each parser:
/// as one header value, as header lines (`name: value`), and as a token server's body.
pub fn response(data: &[u8]) {
    use crate::auth::{parse_challenge, TokenResponse, MAX_TOKEN_TTL_SECS};
    use crate::transport::registry::{headers, RateLimit};
    use crate::transport::retry::{parse_retry_after, RetryPolicy};
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    let text = String::from_utf8_lossy(data);
    let policy = RetryPolicy::default();
    let lines: Vec<&str> = text.split(['\n', '\r']).collect();
    for v in std::iter::once(&*text).chain(lines.iter().copied()) {
        if let Some(d) = parse_retry_after(v) {
            let e = crate::error::Error::from(crate::error::RegistryError {
                method: "GET".into(),
                url: "u".into(),
                status: 503,
                errors: vec![],
                body: None,
                retry_after: Some(d),
            });
            // What a refused Retry-After says to the user formats any parsed value.
            assert!(d.to_string().contains("Retry-After: "), "{v:?}");
            assert!(!d.when().is_empty(), "{v:?}");
            assert!(
                policy.delay(1, &e) <= policy.cap,
                "{v:?}: a wait over the cap"
            );
        }
        if let Some(r) = headers::content_range(v) {
            assert!(r.first <= r.last, "{v:?}: {r:?}");
            assert!(r.total.is_none_or(|t| t > r.last), "{v:?}: {r:?}");
        }
        let _ = parse_challenge(v);
        let q = headers::quote(v);
        assert!(
            q.chars().count() <= headers::QUOTE_MAX * 12 + 8,
            "{v:?}: quote too long"
        );
    }
    if let Some(t) = headers::next_link(lines.iter().copied()) {
        assert!(
            !t.is_empty() && text.contains(t),
            "{t:?} is not from the input"
        );
        for base in ["http://127.0.0.1:5000", "https://registry.example"] {
            if let Some(u) = headers::resolve(base, t) {
                assert!(reqwest::Url::parse(&u).is_ok(), "{u:?}");
                // The registry's own origin is always its own; a resolved URL may or may not be.
                let _ = headers::same_origin(base, &u);
                assert!(headers::same_origin(base, base));
            }
        }
    }
    let mut h = HeaderMap::new();
    for l in &lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.trim().as_bytes()),
            HeaderValue::from_bytes(v.trim().as_bytes()),
        ) {
            h.append(k, v);
        }
    }
    let _ = RateLimit::from_headers(&h);
    if let Some(t) = TokenResponse::parse(data) {
        let ttl = t.ttl();
        assert!((1..=MAX_TOKEN_TTL_SECS).contains(&ttl), "ttl {ttl}");
        let _ = t.into_token();
    }
}

const HINTS: [Option<&str>; 8] = [
    None,
    Some(media::OCI_INDEX),
    Some(media::OCI_MANIFEST),
    Some(media::DOCKER_LIST),
    Some(media::DOCKER_MANIFEST),
    Some(media::DOCKER_SCHEMA1_SIGNED),
    Some("application/octet-stream"),
    Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
];

/// Manifest view properties (see the module docs). The first byte picks the media-type hint.
pub fn manifest(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let hint = HINTS[pick as usize % HINTS.len()];
    let bytes = Bytes::copy_from_slice(body);
    let digest = Digest::sha256_of(&bytes);
    let Ok(m) = RawManifest::from_bytes(bytes, digest, hint) else {
        return;
    };
    let view = m
        .view()
        .unwrap_or_else(|e| panic!("accepted, but its view fails: {e}"));
    if m.is_index() {
        assert!(
            matches!(view, ManifestView::Index { .. }),
            "an index without an index view"
        );
    }
    if let ManifestView::Index { manifests, .. } = &view {
        for d in manifests {
            let _ = d.attestation_subject();
            let _ = d.is_foreign();
        }
    }
    let fetched = Default::default();
    let absent = Default::default();
    let root_platform = Platform::default();
    let inputs = Inputs {
        fetched: &fetched,
        absent: &absent,
        root_platform: Some(&root_platform),
        source_ref: "fuzz",
    };
    for patterns in [&[][..], &["linux/amd64"][..], &["!linux/*"][..]] {
        let sel = Selector {
            platforms: PlatformFilter::parse(patterns).expect("fixed patterns parse"),
            platformless: PlatformlessPolicy::Skip,
            ..Selector::all()
        };
        let _ = plan::plan(&m, &sel, &inputs);
    }
}

#[cfg(test)]
mod tests {
    //! The fuzz targets as plain tests: every corpus seed in `fuzz/corpus/<target>/`, then
    //! seeded random mutations of them (byte flips, insertions from a dictionary of the
    //! grammar's special characters, deletions, splices).

    use super::*;
    use std::path::Path;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const TOKENS: [&str; 24] = [
        "/",
        ":",
        "@",
        "!",
        ",",
        "*",
        "?",
        "[",
        "]",
        "{",
        "}",
        "\\",
        ".",
        "-",
        "_",
        " ",
        "\"",
        "sha256:",
        "oci:",
        "docker://",
        "linux/amd64",
        "\u{212a}",
        "\u{0}",
        "%2F",
    ];
    const JSON_TOKENS: [&str; 14] = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "1",
        "\"manifests\":[",
        "\"config\":{",
        "\"mediaType\":\"application/vnd.oci.image.index.v1+json\",",
        "\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",",
        "\"schemaVersion\":1,",
    ];

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds
    }

    fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
        let mut v = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(v.len() + 1);
            match rng.below(5) {
                0 if !v.is_empty() => {
                    let i = at.min(v.len() - 1);
                    v[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let t = tokens[rng.below(tokens.len())].as_bytes();
                    v.splice(at..at, t.iter().copied());
                }
                2 if !v.is_empty() => {
                    let end = (at + 1 + rng.below(8)).min(v.len());
                    v.drain(at.min(end)..end);
                }
                3 => {
                    let other = &seeds[rng.below(seeds.len())];
                    let from = rng.below(other.len());
                    let piece = &other[from..(from + rng.below(32)).min(other.len())];
                    v.splice(at..at, piece.iter().copied());
                }
                _ => v.push(rng.below(256) as u8),
            }
        }
        v
    }

    fn run(target: &str, rounds: usize, tokens: &[&str], check: impl Fn(&[u8])) {
        let seeds = corpus(target);
        for s in &seeds {
            check(s);
        }
        let mut rng = Rng(0x5eed_0000 + target.len() as u64);
        for _ in 0..rounds {
            check(&mutate(&mut rng, &seeds, tokens));
        }
    }

    const RESPONSE_TOKENS: [&str; 24] = [
        "<",
        ">",
        ";",
        ",",
        " rel=",
        "\"next\"",
        "bytes ",
        "-",
        "/",
        "*",
        " GMT",
        "Sun, 06 Nov ",
        "18446744073709551615",
        "400000000000",
        "\"expires_in\":",
        "{",
        "}",
        "\"",
        "Bearer realm=",
        "http://",
        "\n",
        "link: ",
        "ratelimit-remaining: ",
        "\u{ff}",
    ];

    fn text(f: fn(&str)) -> impl Fn(&[u8]) {
        move |b| f(&String::from_utf8_lossy(b))
    }

    #[test]
    fn fuzz_reference_loop() {
        run("reference", 10_000, &TOKENS, text(reference));
    }

    #[test]
    fn fuzz_platform_loop() {
        run("platform", 10_000, &TOKENS, text(platform));
    }

    #[test]
    fn fuzz_response_loop() {
        run("response", 20_000, &RESPONSE_TOKENS, response);
    }

    #[test]
    fn fuzz_manifest_loop() {
        run("manifest", 3_000, &JSON_TOKENS, manifest);
    }

    mod regressions {
        //! Inputs the fuzz loops found, kept as tests (each one failed before its fix).

        use super::super::reference;
        use crate::model::reference::ImageRef;

        /// A registry that is not a host: it parsed, and the URL built from it did not.
        #[test]
        fn registry_that_is_not_a_host() {
            for input in [
                "\u{fffd}ci:/t:v2",
                "[:1]:5000/adir:v1t",
                "exa mple.com/a:v1",
            ] {
                reference(input);
                assert!(input.parse::<ImageRef>().is_err(), "{input:?}");
            }
        }

        /// Found by cargo-fuzz: an `xn--` label that is not valid punycode passed the label
        /// rules, and the URL parser refused the host (the whole input, as libFuzzer saved it).
        #[test]
        fn invalid_punycode_label() {
            let input = "reregi1reNgio.dc1ieregi1regio.dc1ker.deio.r.io.er.io.r.io.i.do.io.r.ioio.r.io.ik.cdeor.ior.io.r.io.er.io.r.io.i.doc.r.io.er.io.r.io.i.dockr.io.r.io.XN--i43/o/o";
            reference(input);
            assert!(input.parse::<ImageRef>().is_err());
        }

        /// A numeric host: URL parsers read `127` as 0.0.0.127, so a copy would have gone to
        /// another address than the one typed.
        #[test]
        fn numeric_host_is_refused() {
            for input in ["127:5000/a/b/c:v1", "10.1.010.1/a", "a.0x10/b"] {
                reference(input);
                assert!(input.parse::<ImageRef>().is_err(), "{input:?}");
            }
            reference("127.0.0.1:5000/a/b/c:v1");
            assert!("127.0.0.1:5000/a".parse::<ImageRef>().is_ok());
        }

        /// IPv6 hosts are compared as addresses (`[::0]` is `[::]`).
        #[test]
        fn ipv6_host_normalisation() {
            reference("[::0]:5000/a:v1");
            reference("[::1]/a");
        }
    }
}
