//! `target-prefix:`: where an image goes when the configuration names a registry prefix
//! instead of a target repository.
//!
//! The target is the prefix, `/`, then the source's repository path as Docker normalises it
//! (the path after the registry host): `docker.io/library/nginx` (also written `nginx` or
//! `library/nginx`) → `PREFIX/library/nginx`, `quay.io/org/app` → `PREFIX/org/app`,
//! `127.0.0.1:5000/team/app` → `PREFIX/team/app`. The rule is the same for every source
//! registry; the source host is never part of the target.

use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::values::{Expanded, Target};
use crate::model::reference::{parse_registry_path, ImageRef, RegistryPathError, RegistryRef};

/// A validated `target-prefix`: `REGISTRY[/PATH]`, no tag, no trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPrefix {
    /// The registry host\[:port\].
    pub registry: String,
    /// The path under it (empty for the registry's root).
    pub path: String,
}

impl TargetPrefix {
    /// Parse `REGISTRY[/PATH]`. The first component must be a registry host (it has a `.` or a
    /// `:`, or is `localhost`), as Docker decides it: `mirror/x` would be a Docker Hub
    /// repository, not a registry.
    pub fn parse(text: &str) -> Result<TargetPrefix, String> {
        let t = text.trim();
        if t.starts_with("oci:") || t.starts_with("oci-archive:") {
            return Err(format!(
                "target-prefix {text:?}: a prefix is a registry path (REGISTRY[/PATH]); for an OCI layout write `target: oci:DIR` with `layout-ref-name: full`"
            ));
        }
        match parse_registry_path(t) {
            Ok((registry, path)) => Ok(TargetPrefix { registry, path }),
            Err(RegistryPathError::NotAHost(host)) => Err(format!(
                "target-prefix {text:?}: {host:?} is not a registry host (write REGISTRY[/PATH], e.g. registry.internal/mirror)"
            )),
            Err(RegistryPathError::NamesTagOrDigest) => Err(format!(
                "target-prefix {text:?} names a tag or digest: give REGISTRY[/PATH] only"
            )),
            Err(RegistryPathError::Invalid(reason)) => {
                Err(format!("target-prefix {text:?}: {reason}"))
            }
        }
    }

    /// The target repository for a source repository (see the module documentation).
    pub fn map(&self, source: &RegistryRef) -> String {
        self.map_path(&source.repository)
    }

    /// The target repository for a source repository path (`library/nginx`, `org/app`).
    pub fn map_path(&self, repository: &str) -> String {
        if self.path.is_empty() {
            format!("{}/{repository}", self.registry)
        } else {
            format!("{}/{}/{repository}", self.registry, self.path)
        }
    }

    /// The target for `source`, as a parsed [`Target`]. A layout source has no repository
    /// path to map.
    pub fn target_for(&self, source: &ImageRef) -> Result<Target, String> {
        let ImageRef::Registry(r) = source else {
            return Err(format!(
                "target-prefix {self} needs a registry source (an OCI layout has no repository path to map): write `target:`"
            ));
        };
        self.target_for_path(&r.repository)
    }

    /// The target for a source repository path.
    pub fn target_for_path(&self, repository: &str) -> Result<Target, String> {
        let text = self.map_path(repository);
        let reference: ImageRef =
            text.parse()
                .map_err(|e: crate::model::reference::ReferenceError| {
                    format!(
                        "target-prefix {self} maps {repository} to an invalid name: {}",
                        e.reason
                    )
                })?;
        Ok(Target { reference, text })
    }
}

impl std::fmt::Display for TargetPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.registry)
        } else {
            write!(f, "{}/{}", self.registry, self.path)
        }
    }
}

impl<'de> Deserialize<'de> for TargetPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        TargetPrefix::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    fn mapped(prefix: &str, source: &str) -> String {
        TargetPrefix::parse(prefix)
            .unwrap()
            .target_for(&src(source))
            .unwrap()
            .text
    }

    #[test]
    fn docker_hub_names_are_normalised_before_mapping() {
        for s in [
            "nginx",
            "library/nginx",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
        ] {
            if s.starts_with("index.") {
                // Not a Docker Hub alias in this reference grammar: its own registry host.
                assert_eq!(
                    mapped("registry.internal/mirror", s),
                    "registry.internal/mirror/library/nginx"
                );
                continue;
            }
            assert_eq!(
                mapped("registry.internal/mirror", s),
                "registry.internal/mirror/library/nginx",
                "{s}"
            );
        }
        assert_eq!(
            mapped("registry.internal/mirror", "bitnami/redis"),
            "registry.internal/mirror/bitnami/redis"
        );
    }

    #[test]
    fn other_registries_map_their_path_after_the_host() {
        assert_eq!(
            mapped(
                "registry.internal/mirror",
                "quay.io/prometheus/node-exporter"
            ),
            "registry.internal/mirror/prometheus/node-exporter"
        );
        assert_eq!(
            mapped("127.0.0.1:5000/", "ghcr.io/a/b/c"),
            "127.0.0.1:5000/a/b/c"
        );
        assert_eq!(
            mapped("localhost:5000/m/n", "127.0.0.1:5001/team/app"),
            "localhost:5000/m/n/team/app"
        );
        let t = TargetPrefix::parse("registry.internal/mirror")
            .unwrap()
            .target_for(&src("quay.io/org/app"))
            .unwrap();
        match t.reference {
            ImageRef::Registry(r) => {
                assert_eq!(r.registry, "registry.internal");
                assert_eq!(r.repository, "mirror/org/app");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(TargetPrefix::parse("mirror/x")
            .unwrap_err()
            .contains("not a registry host"));
        assert!(TargetPrefix::parse("reg.io/m:v1").is_err());
        assert!(TargetPrefix::parse("oci:/tmp/x")
            .unwrap_err()
            .contains("layout-ref-name"));
        assert!(TargetPrefix::parse("reg.io/UPPER").is_err());
        assert!(TargetPrefix::parse("reg.io/m")
            .unwrap()
            .target_for(&src("oci:/tmp/l"))
            .unwrap_err()
            .contains("registry source"));
    }
}
