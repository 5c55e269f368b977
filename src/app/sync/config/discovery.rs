//! `source-registry:` entries: a registry or organisation whose repositories are found through
//! the registry's catalog (`GET /v2/_catalog`) when the run starts, filtered by
//! `repositories: {regex, exclude}`, and mirrored under a `target-prefix` (see `prefix.rs`).
//!
//! ```yaml
//! images:
//!   - source-registry: registry.example.com/team   # REGISTRY or REGISTRY/ORG
//!     repositories: {regex: '^team/app', exclude: ['-test$']}
//!     target-prefix: registry.internal/mirror      # or under defaults:
//!     tags: {semver: ">=1"}                        # applied to each repository
//! ```

use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::image::{ImageConfig, ImageSettings};
use super::prefix::TargetPrefix;
use super::tag_rules::Patterns;
use super::values::{Expanded, Source};
use crate::app::sync::tags::TagRules;
use crate::model::reference::{parse_registry_path, ImageRef, RegistryPathError, RegistryRef};

/// `REGISTRY[/ORG]`: where repositories are discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRegistry {
    /// The registry host\[:port\] as written in references (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The organisation (path prefix) whose repositories are taken; empty for all.
    pub org: String,
}

impl SourceRegistry {
    /// Parse `REGISTRY[/ORG]`; the first component must be a registry host.
    pub fn parse(text: &str) -> Result<SourceRegistry, String> {
        match parse_registry_path(text) {
            Ok((registry, org)) => Ok(SourceRegistry { registry, org }),
            Err(RegistryPathError::NotAHost(host)) => Err(format!(
                "source-registry {text:?}: {host:?} is not a registry host (write REGISTRY or REGISTRY/ORG, e.g. quay.io/prometheus)"
            )),
            Err(RegistryPathError::NamesTagOrDigest) => Err(format!(
                "source-registry {text:?} names a tag or digest: give REGISTRY or REGISTRY/ORG"
            )),
            Err(RegistryPathError::Invalid(reason)) => {
                Err(format!("source-registry {text:?}: {reason}"))
            }
        }
    }

    /// A reference in this registry, for opening its client.
    pub fn client_ref(&self) -> RegistryRef {
        RegistryRef {
            registry: self.registry.clone(),
            repository: if self.org.is_empty() {
                "catalog".into()
            } else {
                self.org.clone()
            },
            tag: None,
            digest: None,
        }
    }
}

impl std::fmt::Display for SourceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.org.is_empty() {
            f.write_str(&self.registry)
        } else {
            write!(f, "{}/{}", self.registry, self.org)
        }
    }
}

impl<'de> Deserialize<'de> for SourceRegistry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        SourceRegistry::parse(&text).map_err(de::Error::custom)
    }
}

/// `repositories: {regex, exclude}`: which discovered repositories to take. Patterns are
/// unanchored searches over the repository path (`team/app`, without the registry).
#[derive(Debug, Clone, Default)]
pub struct RepoFilter {
    /// Keep repositories matching any (none: all).
    pub regex: Vec<regex::Regex>,
    /// Drop repositories matching any.
    pub exclude: Vec<regex::Regex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoFilterMap {
    regex: Option<Patterns>,
    exclude: Option<Patterns>,
}

impl<'de> Deserialize<'de> for RepoFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = RepoFilterMap::deserialize(d)?;
        Ok(RepoFilter {
            regex: m.regex.map(|p| p.0).unwrap_or_default(),
            exclude: m.exclude.map(|p| p.0).unwrap_or_default(),
        })
    }
}

impl RepoFilter {
    /// Whether `repo` is taken.
    pub fn matches(&self, repo: &str) -> bool {
        (self.regex.is_empty() || self.regex.iter().any(|r| r.is_match(repo)))
            && !self.exclude.iter().any(|r| r.is_match(repo))
    }
}

/// One `source-registry:` entry, compiled, waiting for its catalog.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The `images:` index of the entry in the file.
    pub entry: usize,
    /// How many concrete images precede it in `Config::images`: the discovered
    /// repositories are inserted there, so the run keeps file order.
    pub position: usize,
    /// Where to look.
    pub source: SourceRegistry,
    /// Which repositories to take.
    pub repositories: RepoFilter,
    /// Where they go.
    pub prefix: TargetPrefix,
    /// Tag rules, applied to each repository.
    pub tags: TagRules,
    /// The effective settings.
    pub settings: ImageSettings,
    /// The 1-based line of the entry.
    pub line: Option<usize>,
}

impl Discovery {
    /// Whether a catalog name lies in the organisation and passes the filter.
    pub fn takes(&self, repo: &str) -> bool {
        let in_org = self.source.org.is_empty()
            || repo
                .strip_prefix(self.source.org.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        in_org && self.repositories.matches(repo)
    }

    /// The image entry for one discovered repository.
    pub fn image(&self, repo: &str) -> Result<ImageConfig, String> {
        let text = format!("{}/{repo}", self.source.registry);
        let reference: ImageRef = text
            .parse()
            .map_err(|e: crate::model::reference::ReferenceError| e.to_string())?;
        Ok(ImageConfig {
            source: Source { reference, text },
            target: self.prefix.target_for_path(repo)?,
            tags: self.tags.clone(),
            settings: self.settings.clone(),
            line: self.line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_registries_parse() {
        assert_eq!(
            SourceRegistry::parse("127.0.0.1:5000").unwrap(),
            SourceRegistry {
                registry: "127.0.0.1:5000".into(),
                org: String::new()
            }
        );
        assert_eq!(
            SourceRegistry::parse("quay.io/prometheus/").unwrap().org,
            "prometheus"
        );
        assert!(SourceRegistry::parse("team/app")
            .unwrap_err()
            .contains("not a registry host"));
        assert!(SourceRegistry::parse("quay.io/Team").is_err());
    }
}
