//! From the sync file to [`Mapping`]s, exactly as the run maps sources to targets: the
//! references are already normalised (`nginx` is `docker.io/library/nginx`), `target:` and
//! `target-prefix:` are already applied (`config/prefix.rs`), and `source-registry:` entries
//! are already expanded into one image per repository (`sync/discover.rs`). A discovery
//! without `repositories:` filters maps its whole namespace (`quay.io/team` →
//! `PREFIX/team`), so repositories created later are covered too; with filters, each
//! discovered repository maps on its own.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::app::client_config::model::{join, Access, Mapping};
use crate::app::sync::config::{Config, Discovery, RegistryConfig};
use crate::model::reference::ImageRef;

/// Where one `source-registry:` entry's repositories landed in `Config::images` after
/// discovery.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// Their positions in `Config::images`.
    pub range: Range<usize>,
    /// The registry host.
    pub registry: String,
    /// The organisation (empty: the whole registry).
    pub org: String,
    /// The target prefix (`registry`, `path`).
    pub prefix: (String, String),
    /// No `repositories:` filter: the whole namespace maps.
    pub whole: bool,
}

/// The ranges of `discoveries` (taken from the configuration before discovery) given how many
/// repositories each found, in file order.
pub fn discovered(discoveries: &[Discovery], found: &[usize]) -> Vec<Discovered> {
    let mut offset = 0;
    discoveries
        .iter()
        .zip(found)
        .map(|(d, &n)| {
            let start = d.position + offset;
            offset += n;
            Discovered {
                range: start..start + n,
                registry: d.source.registry.clone(),
                org: d.source.org.clone(),
                prefix: (d.prefix.registry.clone(), d.prefix.path.clone()),
                whole: d.repositories.regex.is_empty() && d.repositories.exclude.is_empty(),
            }
        })
        .collect()
}

/// How clients reach `host`, from the sync file's `registries:` and what the run learnt:
/// `plain_http_seen` is true when the mirror's own client settled on plain HTTP (a loopback
/// registry without `plain-http: true`).
pub fn access(
    registries: &BTreeMap<String, RegistryConfig>,
    host: &str,
    plain_http_seen: bool,
) -> Result<Access, String> {
    let rc = registries.get(host).cloned().unwrap_or_default();
    let mut a = Access {
        plain_http: rc.plain_http || plain_http_seen,
        skip_verify: rc.tls_verify == Some(false),
        ..Access::default()
    };
    if let Some(dir) = &rc.cert_dir {
        let (ca, pairs) = cert_files(dir)?;
        a.ca_files = ca;
        a.client_pairs = pairs;
    }
    Ok(a)
}

/// A client certificate and its key.
pub type CertPair = (PathBuf, PathBuf);

/// The `*.crt` files and `NAME.cert` + `NAME.key` pairs of a certs.d-style directory, as
/// absolute paths in name order (the same files `auth/tls.rs` reads for the run).
pub fn cert_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<CertPair>), String> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| format!("certificate directory {}: {e}", dir.display()))?;
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading certificate directory {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut ca = vec![];
    let mut pairs = vec![];
    for p in names {
        match p.extension().and_then(|e| e.to_str()) {
            Some("crt") => ca.push(p),
            Some("cert") if p.with_extension("key").is_file() => {
                let key = p.with_extension("key");
                pairs.push((p, key));
            }
            _ => {}
        }
    }
    Ok((ca, pairs))
}

/// The mappings of `cfg` (after discovery), in file order, and the entries left out (OCI
/// layouts). `access` says how clients reach a registry host.
pub fn mappings(
    cfg: &Config,
    discovered: &[Discovered],
    access: &dyn Fn(&str) -> Access,
) -> (Vec<Mapping>, Vec<String>) {
    let mut out: Vec<Mapping> = vec![];
    let mut left_out = vec![];
    for (i, img) in cfg.images.iter().enumerate() {
        let (ImageRef::Registry(src), ImageRef::Registry(dst)) =
            (&img.source.reference, &img.target.reference)
        else {
            left_out.push(format!(
                "{} → {}: an OCI layout, which no client pulls from: left out of the client configuration",
                img.source.text, img.target.text
            ));
            continue;
        };
        let (source_path, mirror_path, namespace) =
            match discovered.iter().find(|d| d.whole && d.range.contains(&i)) {
                Some(d) => (
                    d.org.clone(),
                    join(&d.prefix.1, &d.org)
                        .trim_start_matches('/')
                        .to_string(),
                    true,
                ),
                None => (src.repository.clone(), dst.repository.clone(), false),
            };
        let existing = out.iter_mut().find(|m| {
            m.source_registry == src.registry
                && m.source_path == source_path
                && m.namespace == namespace
                && m.mirror_registry == dst.registry
                && m.mirror_path == mirror_path
        });
        match existing {
            Some(m) => m.images.push(i),
            None => out.push(Mapping {
                source_registry: src.registry.clone(),
                source_path,
                namespace,
                mirror_registry: dst.registry.clone(),
                mirror_path,
                source_access: access(&src.registry),
                mirror_access: access(&dst.registry),
                images: vec![i],
            }),
        }
    }
    (out, left_out)
}
