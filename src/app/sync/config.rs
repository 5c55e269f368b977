//! `mirror.yaml`: the declarative configuration of `mirror sync`.
//!
//! Read with `serde_yaml_ng` (a maintained fork of `serde_yaml`, which is unmaintained). Every
//! check that can be made without the network happens while deserialising, inside the
//! `Deserialize` impl of the value concerned, so the YAML library attaches the key path and the
//! line and column: `mirror.yaml:12:14: images[3].tags: invalid regex …`. Nothing runs when the
//! file has an error. `${VAR}` (and `${VAR:-default}`) is expanded in repository names, tag
//! lists, digests and credentials; an unset variable without a default is an error.
//!
//! ```yaml
//! defaults:
//!   platforms: [linux/amd64, linux/arm64]
//!   on-reject: fail
//! registries:
//!   registry.example.com:
//!     credentials: "${MIRROR_USER}:${MIRROR_PASSWORD}"
//! images:
//!   - source: docker.io/library/nginx
//!     target: registry.example.com/mirror/nginx
//!     tags: {semver: ">=1.26 <2", exclude: ["-perl$"]}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::app::sync::tags::{SemverRange, TagItem, TagRules};
use crate::engine::copy::OnReject;
use crate::engine::select::PlatformlessPolicy;
use crate::model::digest::Digest;
use crate::model::platform::PlatformFilter;
use crate::model::reference::ImageRef;

/// A configuration error, located in the file where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, starting with the key path (`images[3].tags: …`).
    pub message: String,
    /// The offending line of the file, when known.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message)?,
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message)?,
            _ => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let (Some(s), Some(l)) = (&self.snippet, self.line) {
            write!(f, "\n  {l:>4} | {s}")?;
            if let Some(c) = self.column {
                write!(f, "\n       | {}^", " ".repeat(c.saturating_sub(1)))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Settings every image inherits.
    #[serde(default)]
    pub defaults: Overrides,
    /// Connection settings per registry host (as written in references, e.g. `docker.io`).
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryConfig>,
    /// What to mirror.
    pub images: Vec<ImageConfig>,
}

/// Settings that `defaults:` gives and each image may override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Overrides {
    /// Platform patterns, as for `mirror copy --platform` (a list, or one comma-separated string).
    pub platforms: Option<Platforms>,
    /// Copy BuildKit attestation manifests of selected platforms (default true).
    pub attestations: Option<bool>,
    /// Index entries without a platform: `copy` (default) or `skip`.
    pub platformless: Option<PlatformlessPolicy>,
    /// When the target refuses a sparse index: `fail` (default), `filter` or `full`.
    pub on_reject: Option<OnReject>,
    /// Concurrent blob transfers for one image (default 8; the run-wide cap is `--jobs`).
    pub jobs: Option<Jobs>,
    /// Entries copied whatever the platform filter says (as `--always-copy`).
    pub always_copy: Option<RuleList>,
    /// Entries never copied (as `--never-copy`; wins over `always-copy`).
    pub never_copy: Option<RuleList>,
    /// Copy OCI referrers (signatures, SBOMs) of the copied manifests (as `--referrers`).
    pub referrers: Option<bool>,
    /// Only referrers of these artifact types (globs; implies `referrers`).
    pub referrers_artifact_types: Option<TypeList>,
    /// Copy cosign-style `sha256-<hex>.sig/.att/.sbom` tags (as `--digest-tags`).
    pub digest_tags: Option<bool>,
    /// Copy foreign / non-distributable layers from their URLs (as `--include-foreign-layers`).
    pub include_foreign_layers: Option<bool>,
    /// Ref names written into an OCI layout target: `tag` (default) or `full`
    /// (`REGISTRY/REPO:TAG`, so many repositories can share one layout).
    pub layout_ref_name: Option<LayoutRefName>,
}

/// One `images:` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageConfig {
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: tags go under `tags:`.
    pub source: Source,
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: the source tags are kept.
    pub target: Target,
    /// Which tags (and digests) to mirror.
    pub tags: TagRules,
    /// Overrides of `defaults.platforms`.
    pub platforms: Option<Platforms>,
    /// Override of `defaults.attestations`.
    pub attestations: Option<bool>,
    /// Override of `defaults.platformless`.
    pub platformless: Option<PlatformlessPolicy>,
    /// Override of `defaults.on-reject`.
    pub on_reject: Option<OnReject>,
    /// Override of `defaults.jobs`.
    pub jobs: Option<Jobs>,
    /// Override of `defaults.always-copy`.
    pub always_copy: Option<RuleList>,
    /// Override of `defaults.never-copy`.
    pub never_copy: Option<RuleList>,
    /// Override of `defaults.referrers`.
    pub referrers: Option<bool>,
    /// Override of `defaults.referrers-artifact-types`.
    pub referrers_artifact_types: Option<TypeList>,
    /// Override of `defaults.digest-tags`.
    pub digest_tags: Option<bool>,
    /// Override of `defaults.include-foreign-layers`.
    pub include_foreign_layers: Option<bool>,
    /// Override of `defaults.layout-ref-name`.
    pub layout_ref_name: Option<LayoutRefName>,
}

/// `layout-ref-name:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutRefName {
    /// `v1`.
    Tag,
    /// `quay.io/org/app:v1`.
    Full,
}

/// Copy rules (`always-copy:` / `never-copy:`), each checked where it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleList(pub Vec<String>);

impl<'de> Deserialize<'de> for RuleList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RuleList(
            OneOrMany::<RuleText>::deserialize(d)?
                .0
                .into_iter()
                .map(|r| r.0)
                .collect(),
        ))
    }
}

struct RuleText(String);

impl<'de> Deserialize<'de> for RuleText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::engine::rules::Rules::parse(std::slice::from_ref(&s), &[] as &[String])
            .map_err(|e| de::Error::custom(e.to_string()))?;
        Ok(RuleText(s))
    }
}

/// Artifact-type globs (`referrers-artifact-types:`), each checked where it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeList(pub Vec<String>);

impl<'de> Deserialize<'de> for TypeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TypeList(
            OneOrMany::<TypeText>::deserialize(d)?
                .0
                .into_iter()
                .map(|r| r.0)
                .collect(),
        ))
    }
}

struct TypeText(String);

impl<'de> Deserialize<'de> for TypeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::engine::referrers::ArtifactTypeFilter::parse(std::slice::from_ref(&s))
            .map_err(|e| de::Error::custom(e.to_string()))?;
        Ok(TypeText(s))
    }
}

/// Settings for one registry host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryConfig {
    /// Talk plain HTTP (loopback hosts always do).
    #[serde(default)]
    pub plain_http: bool,
    /// Verify TLS certificates (default true).
    pub tls_verify: Option<bool>,
    /// `USER:PASSWORD`, usually from the environment: `"${REG_USER}:${REG_PASSWORD}"`.
    pub credentials: Option<Credentials>,
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

/// Validated platform patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platforms(pub Vec<String>);

impl<'de> Deserialize<'de> for Platforms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list: Vec<String> = OneOrMany::<PlatformText>::deserialize(d)?
            .0
            .into_iter()
            .flat_map(|p| p.0)
            .collect();
        PlatformFilter::parse(&list).map_err(|e| de::Error::custom(e.to_string()))?;
        Ok(Platforms(list))
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
        PlatformFilter::parse(&parts).map_err(|e| de::Error::custom(e.to_string()))?;
        Ok(PlatformText(parts))
    }
}

/// One value, or a list of them (patterns, platforms). Each element is checked where it is,
/// so errors point at the element.
struct OneOrMany<T>(Vec<T>);

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

/// A list of compiled regular expressions (`regex:` / `exclude:`; one string or a list).
#[derive(Debug, Clone)]
pub struct Patterns(pub Vec<regex::Regex>);

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = OneOrMany::<Pattern>::deserialize(d)?.0;
        Ok(Patterns(list.into_iter().map(|p| p.0).collect()))
    }
}

/// One regular expression, compiled where it is read.
struct Pattern(regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = String::deserialize(d)?;
        regex::Regex::new(&p).map(Pattern).map_err(|e| {
            let first = e.to_string();
            let reason = first.lines().last().unwrap_or(&first).trim();
            let reason = reason.trim_start_matches("error: ");
            de::Error::custom(format!("invalid regex {p:?}: {reason}"))
        })
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

/// Whether the text names a tag or digest explicitly (after the last `/`).
fn names_tag_or_digest(text: &str) -> bool {
    let t = text.strip_prefix("docker://").unwrap_or(text);
    if let Some(path) = t.strip_prefix("oci:") {
        return path.contains('@')
            || path
                .rsplit_once(':')
                .is_some_and(|(_, tag)| !tag.contains('/'));
    }
    t.contains('@') || t.rsplit('/').next().is_some_and(|last| last.contains(':'))
}

fn repo_ref<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<(ImageRef, String), D::Error> {
    let text = Expanded::deserialize(d)?.0;
    let r: ImageRef = text
        .parse()
        .map_err(|e| de::Error::custom(format!("{e}")))?;
    if names_tag_or_digest(&text) {
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

fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

impl<'de> Deserialize<'de> for TagItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        let (tag, pin) = match text.split_once('@') {
            Some((t, dg)) => {
                let dg: Digest = dg
                    .parse()
                    .map_err(|e| de::Error::custom(format!("{text:?}: {e}")))?;
                (t.to_string(), Some(dg))
            }
            None => (text.clone(), None),
        };
        if !is_valid_tag(&tag) {
            return Err(de::Error::custom(format!(
                "{tag:?} is not a valid tag (letters, digits, '_', '.', '-'; at most 128); write TAG or TAG@DIGEST"
            )));
        }
        Ok(TagItem { tag, pin })
    }
}

impl<'de> Deserialize<'de> for SemverRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SemverRange::parse(&text).map_err(de::Error::custom)
    }
}

/// A digest after `${VAR}` expansion.
struct DigestText(Digest);

impl<'de> Deserialize<'de> for DigestText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        text.parse()
            .map(DigestText)
            .map_err(|e| de::Error::custom(format!("{text:?}: {e}")))
    }
}

/// The mapping form of `tags:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TagMap {
    #[serde(default)]
    list: Vec<TagItem>,
    regex: Option<Patterns>,
    exclude: Option<Patterns>,
    semver: Option<SemverRange>,
    latest: Option<u32>,
    #[serde(default)]
    digests: Vec<DigestText>,
}

impl<'de> Deserialize<'de> for TagRules {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagRules;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a list of tags, or a mapping with list/regex/exclude/semver/latest/digests",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagRules, A::Error> {
                let mut list = vec![];
                while let Some(t) = seq.next_element::<TagItem>()? {
                    list.push(t);
                }
                if list.is_empty() {
                    return Err(de::Error::custom("the tag list is empty"));
                }
                Ok(TagRules {
                    list,
                    ..TagRules::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TagRules, A::Error> {
                let m = TagMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if m.latest == Some(0) {
                    return Err(de::Error::custom("latest must be at least 1"));
                }
                let rules = TagRules {
                    list: m.list,
                    regex: m.regex.map(|p| p.0).unwrap_or_default(),
                    exclude: m.exclude.map(|p| p.0).unwrap_or_default(),
                    semver: m.semver,
                    latest: m.latest.map(|n| n as usize),
                    digests: m.digests.into_iter().map(|d| d.0).collect(),
                };
                if rules.list.is_empty() && rules.digests.is_empty() && !rules.needs_listing() {
                    return Err(de::Error::custom(
                        "tags selects nothing: give `list`, `regex`, `semver`, `latest` or `digests` (`exclude` only removes)",
                    ));
                }
                Ok(rules)
            }
        }
        d.deserialize_any(V)
    }
}

/// The effective settings of one image (defaults merged with its overrides).
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// Platform patterns (empty: all).
    pub platforms: Vec<String>,
    /// Copy attestations of selected platforms.
    pub attestations: bool,
    /// Entries without a platform.
    pub platformless: PlatformlessPolicy,
    /// Sparse rejection policy.
    pub on_reject: OnReject,
    /// Per-image blob concurrency.
    pub jobs: usize,
    /// `always-copy` rules.
    pub always_copy: Vec<String>,
    /// `never-copy` rules.
    pub never_copy: Vec<String>,
    /// Copy referrers.
    pub referrers: bool,
    /// Referrer artifact-type globs.
    pub artifact_types: Vec<String>,
    /// Copy digest tags.
    pub digest_tags: bool,
    /// Copy foreign layers.
    pub include_foreign: bool,
    /// Layout ref-name form.
    pub layout_ref_name: LayoutRefName,
}

impl Config {
    /// Merge `defaults:` with image `i`'s overrides.
    pub fn settings(&self, i: usize) -> ImageSettings {
        let img = &self.images[i];
        let d = &self.defaults;
        ImageSettings {
            platforms: img
                .platforms
                .as_ref()
                .or(d.platforms.as_ref())
                .map(|p| p.0.clone())
                .unwrap_or_default(),
            attestations: img.attestations.or(d.attestations).unwrap_or(true),
            platformless: img
                .platformless
                .or(d.platformless)
                .unwrap_or(PlatformlessPolicy::Copy),
            on_reject: img.on_reject.or(d.on_reject).unwrap_or(OnReject::Fail),
            jobs: img.jobs.or(d.jobs).map_or(8, |j| j.0),
            always_copy: img
                .always_copy
                .as_ref()
                .or(d.always_copy.as_ref())
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            never_copy: img
                .never_copy
                .as_ref()
                .or(d.never_copy.as_ref())
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            referrers: img.referrers.or(d.referrers).unwrap_or(false),
            artifact_types: img
                .referrers_artifact_types
                .as_ref()
                .or(d.referrers_artifact_types.as_ref())
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            digest_tags: img.digest_tags.or(d.digest_tags).unwrap_or(false),
            include_foreign: img
                .include_foreign_layers
                .or(d.include_foreign_layers)
                .unwrap_or(false),
            layout_ref_name: img
                .layout_ref_name
                .or(d.layout_ref_name)
                .unwrap_or(LayoutRefName::Tag),
        }
    }
}

/// Read and validate a configuration file. Errors carry the file, line, column and key path.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        column: None,
        message: format!("cannot read the configuration: {e}"),
        snippet: None,
    })?;
    parse(&file, &text)
}

/// Parse configuration text (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let cfg: Config = serde_yaml_ng::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        if let Some(l) = &loc {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(m) = message.strip_suffix(&suffix) {
                message = m.to_string();
            }
        }
        let line = loc.as_ref().map(|l| l.line());
        ConfigError {
            file: file.to_string(),
            line,
            column: loc.as_ref().map(|l| l.column()),
            message,
            snippet: line
                .and_then(|l| text.lines().nth(l - 1))
                .map(str::to_string),
        }
    })?;
    for (i, img) in cfg.images.iter().enumerate() {
        let err = |message: String| {
            let line = entry_line(text, i);
            ConfigError {
                file: file.to_string(),
                line,
                column: None,
                message: format!("images[{i}]: {message}"),
                snippet: line
                    .and_then(|l| text.lines().nth(l - 1))
                    .map(str::to_string),
            }
        };
        let st = cfg.settings(i);
        if let Err(e) = crate::engine::rules::Rules::parse(&st.always_copy, &st.never_copy) {
            return Err(err(format!("always-copy / never-copy: {e}")));
        }
        if matches!(img.target.reference, ImageRef::Layout(_)) && !img.tags.digests.is_empty() {
            return Err(err(format!(
                "`tags.digests` pins need a registry target; an OCI layout ({}) records images by tag: write them as TAG@DIGEST under `tags.list`",
                img.target.text
            )));
        }
    }
    if cfg.images.is_empty() {
        return Err(ConfigError {
            file: file.to_string(),
            line: None,
            column: None,
            message: "`images:` is empty: nothing to mirror".into(),
            snippet: None,
        });
    }
    Ok(cfg)
}

/// Best effort: the 1-based line of the `i`-th item of the top-level block sequence `images:`.
pub fn entry_line(text: &str, i: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "images:" || l.starts_with("images:"))?;
    let mut indent: Option<usize> = None;
    let mut n = 0;
    for (k, l) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = l.len() - trimmed.len();
        if ind == 0 && !trimmed.starts_with('-') {
            return None;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => indent = Some(ind),
                Some(x) if x != ind => continue,
                _ => {}
            }
            if n == i {
                return Some(k + 1);
            }
            n += 1;
        }
    }
    None
}

/// Where the per-run manifest cache lives by default: `$XDG_CACHE_HOME/sparse-mirror/manifests`
/// or `~/.cache/sparse-mirror/manifests`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("sparse-mirror").join("manifests"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> ConfigError {
        parse("m.yaml", yaml).expect_err("should fail")
    }

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
    fn full_config_and_overrides() {
        let cfg = parse(
            "m.yaml",
            r#"
defaults:
  platforms: [linux/amd64, linux/arm64]
  on-reject: full
  jobs: 3
registries:
  reg.local:5000:
    credentials: "u:p"
images:
  - source: reg.local:5000/a
    target: oci:/tmp/x
    tags: [3.20, "1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
  - source: docker.io/library/nginx
    target: reg.local:5000/mirror/nginx
    tags:
      semver: ">=1.24 <2"
      exclude: -rc
      latest: 2
    platforms: linux/amd64
    attestations: false
    platformless: skip
    referrers-artifact-types: ["application/spdx+json"]
    never-copy: media-type=application/vnd.example.*
    layout-ref-name: full
"#,
        )
        .unwrap();
        assert_eq!(cfg.images.len(), 2);
        assert_eq!(
            cfg.images[0].tags.list[0].tag, "3.20",
            "a YAML float stays the tag text"
        );
        assert!(cfg.images[0].tags.list[1].pin.is_some());
        let s0 = cfg.settings(0);
        assert_eq!(s0.platforms, vec!["linux/amd64", "linux/arm64"]);
        assert_eq!(
            (s0.on_reject, s0.jobs, s0.attestations),
            (OnReject::Full, 3, true)
        );
        let s1 = cfg.settings(1);
        assert_eq!(s1.platforms, vec!["linux/amd64"]);
        assert!(!s1.attestations);
        assert_eq!(s1.platformless, PlatformlessPolicy::Skip);
        assert_eq!(s1.artifact_types, vec!["application/spdx+json"]);
        assert_eq!(s1.never_copy, vec!["media-type=application/vnd.example.*"]);
        assert_eq!(s1.layout_ref_name, LayoutRefName::Full);
        assert!(!s0.referrers && !s0.digest_tags && s0.never_copy.is_empty());
        assert!(format!("{:?}", cfg.registries).contains("<redacted>"));
        assert!(!format!("{:?}", cfg.registries).contains("\"p\""));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n    jobz: 3\n");
        assert_eq!((e.line, e.column), (Some(5), Some(5)));
        assert!(
            e.message.contains("images[0]") && e.message.contains("jobz"),
            "{e}"
        );
        assert!(e.to_string().starts_with("m.yaml:5:5: "), "{e}");
        let e = err("images:\n  - source: a/b\n    target: c/d\n    tags:\n      regex: 'v('\n");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(
            e.message.contains("images[0].tags") && e.message.contains("invalid regex"),
            "{e}"
        );
        let e = err("images:\n  - source: a/b\n    target: c/d\n    tags:\n      semver: '>=x'\n");
        assert!(e.message.contains("semver"), "{e}");
        let e = err("images:\n  - source: a/b:v1\n    target: c/d\n    tags: [v1]\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("names a tag"), "{e}");
        let e = err(
            "images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n    platforms: [linux]\n",
        );
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("platform"), "{e}");
        let e = err("images:\n  - source: a/b\n    target: c/d\n");
        assert!(e.message.contains("missing field `tags`"), "{e}");
        let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: {exclude: x}\n");
        assert!(e.message.contains("selects nothing"), "{e}");
        let e = err(
            "images:\n  - source: ${NOPE_NOT_SET_ANYWHERE}/b\n    target: c/d\n    tags: [a]\n",
        );
        assert!(
            e.message.contains("NOPE_NOT_SET_ANYWHERE is not set"),
            "{e}"
        );
        assert_eq!(e.line, Some(2));
        let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n  - source: a/c\n    target: oci:/x\n    tags:\n      digests: [\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]\n");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.starts_with("images[1]:"), "{e}");
        let e = err("defaults:\n  always-copy: [colour=blue]\nimages:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(
            e.message.contains("always-copy") && e.message.contains("invalid rule"),
            "{e}"
        );
        let e = err("defaults:\n  on-reject: maybe\nimages: []\n");
        assert!(
            e.message.contains("on-reject") || e.message.contains("maybe"),
            "{e}"
        );
    }

    #[test]
    fn entry_lines() {
        let t =
            "# c\nimages:\n  - source: a\n    tags:\n      - x\n  # gap\n  - source: b\nother: 1\n";
        assert_eq!(entry_line(t, 0), Some(3));
        assert_eq!(entry_line(t, 1), Some(7));
        assert_eq!(entry_line(t, 2), None);
    }
}
