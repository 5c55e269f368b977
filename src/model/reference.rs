//! Image references: `[docker://]REGISTRY/REPO[:TAG][@DIGEST]` and `oci:DIR[:TAG|@DIGEST]`.
//!
//! Parsing is pure (no I/O) and normalises registry references the way Docker does: no registry
//! means `docker.io`, a single-component Docker Hub name gets `library/`, and no tag or digest
//! means `latest`. Errors show the offending part.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::model::digest::Digest;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host serving Docker Hub's API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A reference to an image in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// Registry host\[:port\], e.g. `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/alpine`.
    pub repository: String,
    /// Tag, if given (or `latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// Digest, if given.
    pub digest: Option<Digest>,
}

/// A reference to an image in an OCI image layout directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub path: PathBuf,
    /// `org.opencontainers.image.ref.name` to select or write.
    pub tag: Option<String>,
    /// A digest to select.
    pub digest: Option<Digest>,
    /// `oci-archive:`: the path is a tar file holding the layout.
    pub archive: bool,
}

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A registry repository.
    Registry(RegistryRef),
    /// An OCI image layout directory.
    Layout(LayoutRef),
}

/// A reference that cannot be parsed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid reference {input:?}: {reason}")]
pub struct ReferenceError {
    /// What the user typed.
    pub input: String,
    /// What is wrong, naming the offending part.
    pub reason: String,
}

/// Whether the first path component names a registry host rather than a Docker Hub namespace
/// (Docker's rule: it has a `.` or a `:`, or is `localhost`).
pub fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Whether the text names a tag or digest explicitly (`@`, or a `:` after the last `/`; for
/// `oci:PATH`, a `:TAG` whose tag has no `/`).
pub fn names_tag_or_digest(text: &str) -> bool {
    let t = text.strip_prefix("docker://").unwrap_or(text);
    if let Some(path) = t.strip_prefix("oci:") {
        return path.contains('@')
            || path
                .rsplit_once(':')
                .is_some_and(|(_, tag)| !tag.contains('/'));
    }
    t.contains('@') || t.rsplit('/').next().is_some_and(|last| last.contains(':'))
}

/// Why a `REGISTRY[/PATH]` text (a sync `target-prefix` or `source-registry`) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryPathError {
    /// The first component is not a registry host.
    NotAHost(String),
    /// The text names a tag or digest.
    NamesTagOrDigest,
    /// A component breaks the reference grammar.
    Invalid(String),
}

/// Parse `REGISTRY[/PATH]` (no tag, no digest) into the host and the path below it, with the
/// same grammar as references.
pub fn parse_registry_path(text: &str) -> Result<(String, String), RegistryPathError> {
    let t = text.trim().trim_end_matches('/');
    let t = t.strip_prefix("docker://").unwrap_or(t);
    let (host, path) = t.split_once('/').unwrap_or((t, ""));
    if !looks_like_host(host) {
        return Err(RegistryPathError::NotAHost(host.to_string()));
    }
    if path.contains(['@', ':']) {
        return Err(RegistryPathError::NamesTagOrDigest);
    }
    // Check the grammar with a repository under it, as a reference would have it.
    let probe = if path.is_empty() {
        format!("{host}/x")
    } else {
        format!("{host}/{path}/x")
    };
    match parse_registry(&probe) {
        Ok(_) => Ok((host.to_string(), path.to_string())),
        Err(e) => Err(RegistryPathError::Invalid(e)),
    }
}

/// Whether `t` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

/// `host[:port]`, as Docker's reference grammar has it: dot-separated labels of letters, digits
/// and inner '-' (or a bracketed IPv6 address), and an optional decimal port 1-65535.
fn is_valid_registry(r: &str) -> bool {
    let (host, port) = match r.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, rest)) => {
                if addr.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match rest {
                    "" => return true,
                    _ => match rest.strip_prefix(':') {
                        Some(p) => ("", Some(p)),
                        None => return false,
                    },
                }
            }
            None => return false,
        },
        None => match r.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (r, None),
        },
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    });
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // A host whose last label is a number is an IPv4 address to URL parsers ("127" is
    // 0.0.0.127, "1.010" is octal): accept only a plain dotted quad then.
    let numeric = |l: &str| {
        !l.is_empty()
            && (l.bytes().all(|b| b.is_ascii_digit())
                || l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x")))
    };
    let dotted_quad = host.split('.').count() == 4
        && host.split('.').all(|l| {
            l.bytes().all(|b| b.is_ascii_digit())
                && l.parse::<u8>().is_ok()
                && (l == "0" || !l.starts_with('0'))
        });
    let last_numeric = host.rsplit('.').next().is_some_and(numeric);
    // Last, the URL parser the client uses must keep the host as written (it rejects, for
    // example, `xn--` labels that are not valid punycode).
    let url_keeps_it = || {
        reqwest::Url::parse(&format!("https://{host}/"))
            .ok()
            .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(host)))
            .unwrap_or(false)
    };
    port_ok
        && (r.starts_with('[')
            || (!host.is_empty()
                && host.split('.').all(label)
                && (!last_numeric || dotted_quad)
                && url_keeps_it()))
}

fn is_valid_repo_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
    {
        return false;
    }
    !c.contains("..") && !c.contains("___") && !c.contains("._") && !c.contains("_.")
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ReferenceError {
            input: input.to_string(),
            reason,
        };
        if let Some(rest) = input.strip_prefix("oci:") {
            return parse_layout(rest).map(ImageRef::Layout).map_err(err);
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            return parse_layout(rest)
                .map(|l| ImageRef::Layout(LayoutRef { archive: true, ..l }))
                .map_err(err);
        }
        let rest = input.strip_prefix("docker://").unwrap_or(input);
        if let Some((scheme, _)) = rest.split_once("://") {
            return Err(err(format!(
                "unknown transport {scheme:?}: use docker://REGISTRY/REPO[:TAG] or oci:DIR[:TAG]"
            )));
        }
        parse_registry(rest).map(ImageRef::Registry).map_err(err)
    }
}

fn parse_layout(rest: &str) -> Result<LayoutRef, String> {
    let (path, tag, digest) = if let Some((p, d)) = rest.rsplit_once('@') {
        let d = d
            .parse::<Digest>()
            .map_err(|e| format!("the part after '@' is not a digest: {e}"))?;
        (p, None, Some(d))
    } else {
        match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => {
                if !is_valid_tag(t) {
                    return Err(format!(
                        "{t:?} is not a valid tag (letters, digits, '_', '.', '-'; at most 128)"
                    ));
                }
                (p, Some(t.to_string()), None)
            }
            _ => (rest, None, None),
        }
    };
    if path.is_empty() {
        return Err("the layout directory is empty: use oci:DIR[:TAG]".into());
    }
    Ok(LayoutRef {
        path: PathBuf::from(path),
        tag,
        digest,
        archive: false,
    })
}

fn parse_registry(rest: &str) -> Result<RegistryRef, String> {
    let (name_tag, digest) = match rest.split_once('@') {
        Some((n, d)) => (
            n,
            Some(
                d.parse::<Digest>()
                    .map_err(|e| format!("the part after '@' is not a digest: {e}"))?,
            ),
        ),
        None => (rest, None),
    };
    // A tag is after the last ':' that comes after the last '/'.
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => {
            let t = &name_tag[last_slash + i + 1..];
            if !is_valid_tag(t) {
                return Err(format!(
                    "{t:?} is not a valid tag (letters, digits, '_', '.', '-'; at most 128)"
                ));
            }
            (&name_tag[..last_slash + i], Some(t.to_string()))
        }
        None => (name_tag, None),
    };
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, remainder)) if looks_like_host(first) => {
            (first.to_string(), remainder.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if !is_valid_registry(&registry) {
        return Err(format!(
            "registry {registry:?} is not a valid host[:port] (letters, digits, '-' and '.', or [IPv6]; port 1-65535)"
        ));
    }
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => registry,
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    for comp in repository.split('/') {
        if !is_valid_repo_component(comp) {
            return Err(format!(
                "repository component {comp:?} is invalid (lowercase letters, digits and single separators . _ __ -)"
            ));
        }
    }
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Ok(RegistryRef {
        registry,
        repository,
        tag,
        digest,
    })
}

impl RegistryRef {
    /// The host to talk to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }
    /// The reference to use in URLs: the digest if given, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }
    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
    /// Whether the host is a loopback address (plain HTTP is used there by default).
    pub fn is_loopback(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    &self.registry
                }
            });
        host == "localhost"
            || host.starts_with("127.")
            || host == "[::1]"
            || host.ends_with(".localhost")
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.archive { "oci-archive" } else { "oci" };
        write!(f, "{scheme}:{}", self.path.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => r.fmt(f),
            ImageRef::Layout(l) => l.fmt(f),
        }
    }
}

impl ImageRef {
    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ImageRef::Registry(r) => r.tag.as_deref(),
            ImageRef::Layout(l) => l.tag.as_deref(),
        }
    }
    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            ImageRef::Registry(r) => r.digest.as_ref(),
            ImageRef::Layout(l) => l.digest.as_ref(),
        }
    }
    /// What to fetch: the digest if given, else the tag (`latest` when neither is given).
    pub fn reference(&self) -> String {
        match self {
            ImageRef::Registry(r) => r.reference(),
            ImageRef::Layout(l) => l
                .digest
                .as_ref()
                .map(|d| d.to_string())
                .or(l.tag.clone())
                .unwrap_or_else(|| "latest".into()),
        }
    }
    /// The reference with the digest replaced, and the tag dropped: `name@digest`.
    pub fn with_digest(&self, d: &Digest) -> String {
        match self {
            ImageRef::Registry(r) => format!("{}@{d}", r.name()),
            ImageRef::Layout(l) => format!(
                "{}@{d}",
                LayoutRef {
                    tag: None,
                    digest: None,
                    ..l.clone()
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(s: &str) -> RegistryRef {
        match s.parse::<ImageRef>().unwrap() {
            ImageRef::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn docker_normalisation() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("docker://alpine:3.20", "docker.io/library/alpine:3.20"),
            ("user/app", "docker.io/user/app:latest"),
            ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
            ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1"),
            ("localhost/app", "localhost/app:latest"),
            ("ghcr.io/org/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "ghcr.io/org/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("quay.io/a/b:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "quay.io/a/b:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ];
        for (input, want) in cases {
            assert_eq!(reg(input).to_string(), want, "{input}");
        }
        assert_eq!(reg("alpine").api_host(), DOCKER_HUB_API);
        assert!(reg("127.0.0.1:5000/a").is_loopback());
        assert!(reg("localhost:5000/a").is_loopback());
        assert!(!reg("example.com/a").is_loopback());
    }

    #[test]
    fn errors_name_the_part() {
        for (input, needle) in [
            ("Alpine", "\"Alpine\""),
            ("a/b:bad tag", "\"bad tag\""),
            ("a@sha256:xyz", "not a digest"),
            ("ftp://x/y", "unknown transport \"ftp\""),
            ("a//b", "\"\""),
            ("", "empty"),
            ("exa mple.com/a", "registry \"exa mple.com\""),
            ("\u{fffd}ci:/t:v2", "is not a valid host"),
            ("host:99999/a", "\"host:99999\""),
            ("host:/a", "\"host:\""),
            ("-bad.com/a", "\"-bad.com\""),
            ("127:5000/a", "\"127:5000\""),
            ("10.1.010.1/a", "\"10.1.010.1\""),
            ("[:1]:5000/a", "\"[:1]:5000\""),
            ("io.XN--i43/o/o", "\"io.XN--i43\""),
        ] {
            let e = input.parse::<ImageRef>().unwrap_err().to_string();
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn registry_paths() {
        let ok = |t: &str| parse_registry_path(t).unwrap();
        assert_eq!(
            ok("registry.internal/mirror/"),
            ("registry.internal".into(), "mirror".into())
        );
        assert_eq!(
            ok("docker://127.0.0.1:5000"),
            ("127.0.0.1:5000".into(), String::new())
        );
        assert_eq!(
            parse_registry_path("mirror/x"),
            Err(RegistryPathError::NotAHost("mirror".into()))
        );
        assert_eq!(
            parse_registry_path("quay.io/org:v1"),
            Err(RegistryPathError::NamesTagOrDigest)
        );
        assert!(matches!(
            parse_registry_path("quay.io/Org"),
            Err(RegistryPathError::Invalid(_))
        ));
        assert!(names_tag_or_digest("oci:/srv/layout:v1"));
        assert!(!names_tag_or_digest("oci:/srv/lay:out/dir"));
        assert!(is_valid_tag("v1.2_3-rc") && !is_valid_tag(".v1") && !is_valid_tag(""));
    }

    #[test]
    fn layouts() {
        let ImageRef::Layout(l) = "oci:/tmp/x:v1".parse().unwrap() else {
            panic!()
        };
        assert_eq!(
            (l.path.to_str().unwrap(), l.tag.as_deref()),
            ("/tmp/x", Some("v1"))
        );
        let ImageRef::Layout(l) = "oci:rel/dir".parse().unwrap() else {
            panic!()
        };
        assert_eq!((l.path.to_str().unwrap(), l.tag), ("rel/dir", None));
        let ImageRef::Layout(l) =
            "oci:./d@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .unwrap()
        else {
            panic!()
        };
        assert!(l.digest.is_some());
        assert!("oci:".parse::<ImageRef>().is_err());
        let ImageRef::Layout(l) = "oci-archive:/mnt/usb/app.tar:v1".parse().unwrap() else {
            panic!()
        };
        assert!(l.archive);
        assert_eq!(l.to_string(), "oci-archive:/mnt/usb/app.tar:v1");
    }
}
