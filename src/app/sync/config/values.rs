//! The typed values of `mirror.yaml`. Each is checked and compiled inside its own `Deserialize`
//! impl, so an error carries the line and column of the value that caused it, and what the
//! file yields is ready to use: no string is parsed a second time later.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::engine::referrers::ArtifactTypeFilter;
use crate::engine::rules::Rule;
use crate::model::platform::PlatformFilter;
use crate::model::reference::ImageRef;

/// `layout-ref-name:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutRefName {
    /// `v1`.
    Tag,
    /// `quay.io/org/app:v1`.
    Full,
}

/// Copy rules (`always-copy:` / `never-copy:`), each parsed where it is written.
#[derive(Debug, Clone, Default)]
pub struct RuleList(pub Vec<Rule>);

impl<'de> Deserialize<'de> for RuleList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RuleList(
            OneOrMany::<RuleValue>::deserialize(d)?
                .0
                .into_iter()
                .map(|r| r.0)
                .collect(),
        ))
    }
}

struct RuleValue(Rule);

impl<'de> Deserialize<'de> for RuleValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.trim()
            .parse()
            .map(RuleValue)
            .map_err(|e: crate::engine::rules::RuleError| de::Error::custom(e.to_string()))
    }
}

/// Artifact-type globs (`referrers-artifact-types:`): each checked where it is written, then
/// compiled into one filter.
#[derive(Debug, Clone, Default)]
pub struct TypeList {
    /// The globs as written (empty: every type).
    pub globs: Vec<String>,
    /// The compiled filter.
    pub filter: ArtifactTypeFilter,
}

impl<'de> Deserialize<'de> for TypeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let globs: Vec<String> = OneOrMany::<TypeText>::deserialize(d)?
            .0
            .into_iter()
            .map(|t| t.0)
            .collect();
        let filter = ArtifactTypeFilter::parse(&globs).map_err(de::Error::custom)?;
        Ok(TypeList { globs, filter })
    }
}

/// One artifact-type glob, checked on its own so an error points at that element.
struct TypeText(String);

impl<'de> Deserialize<'de> for TypeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ArtifactTypeFilter::parse(std::slice::from_ref(&s)).map_err(de::Error::custom)?;
        Ok(TypeText(s))
    }
}

/// `USER:PASSWORD` after `${VAR}` expansion. Its `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials(pub String);

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.0.split_once(':').map_or("", |(u, _)| u);
        write!(f, "Credentials({user:?}, <redacted>)")
    }
}

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Expanded::deserialize(d)?.0;
        if !v.contains(':') {
            return Err(de::Error::custom(
                "credentials must look like USER:PASSWORD",
            ));
        }
        Ok(Credentials(v))
    }
}

/// Per-image concurrency, 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs(pub usize);

impl<'de> Deserialize<'de> for Jobs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if !(1..=64).contains(&n) {
            return Err(de::Error::custom(format!("jobs must be 1..=64, not {n}")));
        }
        Ok(Jobs(n as usize))
    }
}

/// `limit-rate:` in bytes per second, written as for `--limit-rate` (`20M`, `512k`, `20Mi`) or
/// as a number of bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub u64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate such as 20M, 512k or 20Mi (bytes per second)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                crate::transport::rate::parse_rate(v)
                    .map(Rate)
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// Platform patterns (a list, or one comma-separated string), compiled.
#[derive(Debug, Clone, Default)]
pub struct Platforms {
    /// The patterns as written, one per element (empty: all platforms).
    pub patterns: Vec<String>,
    /// The compiled filter.
    pub filter: PlatformFilter,
}

impl<'de> Deserialize<'de> for Platforms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let patterns: Vec<String> = OneOrMany::<PlatformText>::deserialize(d)?
            .0
            .into_iter()
            .flat_map(|p| p.0)
            .collect();
        let filter = PlatformFilter::parse(&patterns).map_err(de::Error::custom)?;
        Ok(Platforms { patterns, filter })
    }
}

/// One list element of `platforms:` (itself possibly comma-separated), checked on its own so
/// an error points at that element.
struct PlatformText(Vec<String>);

impl<'de> Deserialize<'de> for PlatformText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parts: Vec<String> = s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        PlatformFilter::parse(&parts).map_err(de::Error::custom)?;
        Ok(PlatformText(parts))
    }
}

/// One value, or a list of them (patterns, platforms). Each element is checked where it is,
/// so errors point at the element.
pub(super) struct OneOrMany<T>(pub(super) Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany<T>, E> {
                use serde::de::IntoDeserializer;
                let one = T::deserialize(v.into_deserializer())?;
                Ok(OneOrMany(vec![one]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany<T>, A::Error> {
                let mut out = vec![];
                while let Some(s) = seq.next_element::<T>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string with `${VAR}` expanded from the environment.
pub struct Expanded(pub String);

impl<'de> Deserialize<'de> for Expanded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand(&raw, |k| std::env::var(k).ok())
            .map(Expanded)
            .map_err(de::Error::custom)
    }
}

/// Expand `${NAME}` and `${NAME:-default}`; `$${` is a literal `${`. Other `$` are kept.
pub fn expand(s: &str, get: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i]);
            out.push('{');
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid variable name {name:?} in {s:?}"));
        }
        match (get(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (in {s:?}; write ${{{name}:-default}} for a default)"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn repo_ref<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<(ImageRef, String), D::Error> {
    let text = Expanded::deserialize(d)?.0;
    // `registry.example.com` or `host:5000` alone: a whole registry, not a repository (its
    // port would otherwise read as a tag).
    let bare = text
        .strip_prefix("docker://")
        .unwrap_or(&text)
        .trim_end_matches('/');
    let layout = bare.starts_with("oci:") || bare.starts_with("oci-archive:");
    if !layout && !bare.contains('/') && crate::model::reference::looks_like_host(bare) {
        return Err(de::Error::custom(match key {
            "source" => format!(
                "source {text:?} names a registry, not a repository: to mirror every repository of a registry (or of one organisation), write the entry as `source-registry: {bare}` and give its targets with `target-prefix: REGISTRY[/PATH]` (docs/sync.md, \"Discovery\")"
            ),
            _ => format!(
                "{key} {text:?} names a registry, not a repository: write `target-prefix: {bare}` (on the entry or under `defaults:`) to mirror each source repository under it (docs/sync.md, \"Prefix mapping\")"
            ),
        }));
    }
    let r: ImageRef = text
        .parse()
        .map_err(|e| de::Error::custom(format!("{e}")))?;
    if crate::model::reference::names_tag_or_digest(&text) {
        return Err(de::Error::custom(format!(
            "{key} {text:?} names a tag or digest: give the repository only and list tags under `tags:`"
        )));
    }
    Ok((r, text))
}

/// A validated source repository.
#[derive(Debug, Clone)]
pub struct Source {
    /// The reference (its tag is meaningless here).
    pub reference: ImageRef,
    /// As written, after expansion.
    pub text: String,
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (reference, text) = repo_ref(d, "source")?;
        Ok(Source { reference, text })
    }
}

/// A validated target repository or layout.
#[derive(Debug, Clone)]
pub struct Target {
    /// The reference (its tag is meaningless here).
    pub reference: ImageRef,
    /// As written, after expansion.
    pub text: String,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (reference, text) = repo_ref(d, "target")?;
        Ok(Target { reference, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let env = |k: &str| match k {
            "A" => Some("x".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("r/${A}/b", env).unwrap(), "r/x/b");
        assert_eq!(expand("${B:-dflt}", env).unwrap(), "dflt");
        assert_eq!(expand("${EMPTY:-d}", env).unwrap(), "d");
        assert_eq!(expand("$${A} $x ^a$", env).unwrap(), "${A} $x ^a$");
        assert!(expand("${B}", env).unwrap_err().contains("B is not set"));
        assert!(expand("${A", env).is_err());
        assert!(expand("${1x}", env).is_err());
    }

    #[test]
    fn references_must_not_name_a_tag() {
        assert!(crate::model::reference::names_tag_or_digest(
            "reg:5000/a/b:v1"
        ));
        assert!(crate::model::reference::names_tag_or_digest(
            "a/b@sha256:00"
        ));
        assert!(crate::model::reference::names_tag_or_digest(
            "oci:/tmp/x:v1"
        ));
        assert!(!crate::model::reference::names_tag_or_digest(
            "reg:5000/a/b"
        ));
        assert!(!crate::model::reference::names_tag_or_digest("oci:/tmp/x"));
    }
}

/// `require-signature:` public key files (one path or a list), each read and parsed where it is
/// written (paths relative to the working directory), so a bad key is a configuration error
/// with its line.
#[derive(Debug, Clone, Default)]
pub struct KeyList(pub Vec<crate::engine::signature::PublicKey>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(KeyList(
            OneOrMany::<KeyFile>::deserialize(d)?
                .0
                .into_iter()
                .map(|k| k.0)
                .collect(),
        ))
    }
}

struct KeyFile(crate::engine::signature::PublicKey);

impl<'de> Deserialize<'de> for KeyFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use std::io::Read as _;
        let path = String::deserialize(d)?;
        let max = crate::engine::signature::keys::MAX_KEY_FILE;
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(max as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| de::Error::custom(format!("public key {path}: {e}")))?;
        crate::engine::signature::PublicKey::from_pem(&bytes, &path)
            .map(KeyFile)
            .map_err(|e| de::Error::custom(e.0))
    }
}
