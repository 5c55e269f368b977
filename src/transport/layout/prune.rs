//! Removing refs from an OCI layout and collecting its garbage (`mirror sync --prune` on an
//! `oci:` target, `mirror gc oci:DIR`).
//!
//! - [`Layout::remove_refs`] drops `index.json` entries by ref name, only where the entry still
//!   names the digest the caller planned with, under the same lock and temp-file + rename as
//!   every other `index.json` write. Blobs are not touched: a ref never owns its blobs.
//! - [`Layout::gc`] marks every manifest and blob reachable from `index.json` (index → present
//!   children, image or artifact manifest → config and layers) and sweeps the rest of
//!   `blobs/<alg>/`. It holds the `index.json` lock for the whole mark and sweep, so no copy can
//!   commit a new ref meanwhile. A copy that is still writing blobs has not committed its ref
//!   yet: blobs newer than `min_age` are kept (and listed) for that reason. Temp files left by
//!   killed writers (`.tmp-*`, older than `min_age`) go too. A manifest that is present but
//!   cannot be parsed stops the collection: what it references is unknown, so nothing is
//!   deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::files::io_err;
use super::{Layout, REF_NAME};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{ManifestView, RawManifest, MAX_MANIFEST_BYTES};

/// What happened to one ref [`Layout::remove_refs`] was asked to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefRemoval {
    /// Removed from `index.json`.
    Removed,
    /// No entry had this ref name.
    Absent,
    /// The entry names another digest now: left alone.
    Changed(Digest),
}

/// A blob file found by [`Layout::gc`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// What [`Layout::gc`] found (and, unless a dry run, deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcReport {
    /// The layout.
    pub layout: String,
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Manifests reachable from `index.json` (present).
    pub reachable_manifests: usize,
    /// Blobs reachable (present), manifests included.
    pub reachable_blobs: usize,
    /// Blobs nothing reachable references: deleted (dry run: would be).
    pub orphaned: Vec<GcBlob>,
    /// Their bytes.
    pub orphaned_bytes: u64,
    /// Orphaned blobs newer than the minimum age: kept (a copy may still be writing).
    pub recent: Vec<GcBlob>,
    /// Temp files of killed writers: deleted (dry run: would be).
    pub temp_files: Vec<String>,
    /// Their bytes.
    pub temp_bytes: u64,
}

/// Every manifest and blob reachable from a set of roots.
#[derive(Debug, Clone, Default)]
pub struct Reachable {
    /// Manifests present and read.
    pub manifests: BTreeSet<Digest>,
    /// Everything referenced (manifests, configs, layers), present or not.
    pub blobs: BTreeSet<Digest>,
}

impl Layout {
    /// `index.json` entries: ref name (if any), digest and media type, in file order.
    pub fn refs(&self) -> Result<Vec<(Option<String>, Digest, String)>> {
        Ok(self
            .entries()?
            .into_iter()
            .map(|(n, d)| (n, d.digest, d.media_type))
            .collect())
    }

    /// Remove the entries named `ref_name` that still name `digest`, under the lock. One
    /// answer per request, in order.
    pub fn remove_refs(&self, refs: &[(String, Digest)]) -> Result<Vec<RefRemoval>> {
        if refs.is_empty() {
            return Ok(vec![]);
        }
        let lock = self.lock_index()?;
        let mut entries = self.read_index()?;
        let name_of = |e: &serde_json::Value| {
            e.get("annotations")
                .and_then(|a| a.get(REF_NAME))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let digest_of = |e: &serde_json::Value| {
            e.get("digest")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse::<Digest>().ok())
        };
        let mut out = vec![];
        for (name, digest) in refs {
            let found: Vec<Option<Digest>> = entries
                .iter()
                .filter(|e| name_of(e).as_deref() == Some(name.as_str()))
                .map(digest_of)
                .collect();
            out.push(match found.iter().find(|d| d.as_ref() != Some(digest)) {
                _ if found.is_empty() => RefRemoval::Absent,
                Some(Some(other)) => RefRemoval::Changed(other.clone()),
                Some(None) => RefRemoval::Changed(digest.clone()),
                None => RefRemoval::Removed,
            });
        }
        let before = entries.len();
        entries.retain(|e| {
            let n = name_of(e);
            let d = digest_of(e);
            !refs.iter().any(|(name, digest)| {
                n.as_deref() == Some(name.as_str()) && d.as_ref() == Some(digest)
            })
        });
        if entries.len() != before {
            self.write_index(entries)?;
        }
        drop(lock);
        Ok(out)
    }

    /// Read a manifest blob by digest, or `None` when it is not in the layout (sparse).
    pub async fn manifest_if_present(&self, d: &Digest, hint: &str) -> Result<Option<RawManifest>> {
        if !self.blob_path(d).exists() {
            return Ok(None);
        }
        let bytes = self.read_verified(d, MAX_MANIFEST_BYTES).await?;
        let hint = Some(hint).filter(|h| !h.is_empty());
        RawManifest::from_bytes(bytes, d.clone(), hint)
            .map(Some)
            .map_err(|source| Error::Manifest {
                what: format!("manifest {d} in {}", self.describe_path()),
                source,
            })
    }

    fn describe_path(&self) -> String {
        format!("oci:{}", self.root.display())
    }

    /// Everything reachable from `roots` (digest, media type): present manifests are read and
    /// followed; absent ones (a sparse index's unselected children) end the walk there.
    pub async fn reachable(&self, roots: &[(Digest, String)]) -> Result<Reachable> {
        let mut r = Reachable::default();
        let mut stack: Vec<(Digest, String)> = roots.to_vec();
        while let Some((d, media_type)) = stack.pop() {
            if !r.blobs.insert(d.clone()) && r.manifests.contains(&d) {
                continue;
            }
            let Some(m) = self.manifest_if_present(&d, &media_type).await? else {
                continue;
            };
            r.manifests.insert(d.clone());
            let view = m.view().map_err(|source| Error::Manifest {
                what: format!(
                    "manifest {d} in {} (what it references is unknown, so nothing is collected)",
                    self.describe_path()
                ),
                source,
            })?;
            match view {
                ManifestView::Index { manifests, .. } => {
                    for c in manifests {
                        if !r.manifests.contains(&c.digest) {
                            stack.push((c.digest, c.media_type));
                        }
                    }
                }
                ManifestView::Image { config, layers, .. } => {
                    r.blobs.insert(config.digest);
                    r.blobs.extend(layers.into_iter().map(|l| l.digest));
                }
            }
        }
        Ok(r)
    }

    /// Collect the blobs nothing reachable from `index.json` references (see the module docs).
    /// `dry_run`: list them, delete nothing.
    pub async fn gc(&self, dry_run: bool, min_age: Duration) -> Result<GcReport> {
        let lock = self.lock_index()?;
        let roots: Vec<(Digest, String)> =
            self.refs()?.into_iter().map(|(_, d, m)| (d, m)).collect();
        let reach = self.reachable(&roots).await?;
        let mut report = GcReport {
            layout: self.describe_path(),
            dry_run,
            reachable_manifests: reach.manifests.len(),
            ..GcReport::default()
        };
        let now = SystemTime::now();
        let old = |meta: &std::fs::Metadata| {
            meta.modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_none_or(|age| age >= min_age)
        };
        let mut doomed: Vec<PathBuf> = vec![];
        let blobs_dir = self.root.join("blobs");
        let mut found: BTreeMap<Digest, (PathBuf, std::fs::Metadata)> = BTreeMap::new();
        for alg in read_dir(&blobs_dir)? {
            if !alg.1.is_dir() {
                continue;
            }
            for (path, meta) in read_dir(&alg.0)? {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with(".tmp-") {
                    if old(&meta) {
                        report.temp_bytes += meta.len();
                        report.temp_files.push(path.display().to_string());
                        doomed.push(path);
                    }
                    continue;
                }
                let alg_name = alg.0.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // Files that are not `<alg>/<hex>` blobs are not ours to judge.
                if let Ok(d) = format!("{alg_name}:{name}").parse::<Digest>() {
                    if meta.is_file() {
                        found.insert(d, (path, meta));
                    }
                }
            }
        }
        for (d, (path, meta)) in found {
            if reach.blobs.contains(&d) {
                report.reachable_blobs += 1;
                continue;
            }
            let b = GcBlob {
                digest: d,
                size: meta.len(),
            };
            if old(&meta) {
                report.orphaned_bytes += b.size;
                report.orphaned.push(b);
                doomed.push(path);
            } else {
                report.recent.push(b);
            }
        }
        if !dry_run {
            for p in doomed {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(format!("removing {}", p.display()))(e)),
                }
            }
        }
        drop(lock);
        Ok(report)
    }
}

/// The entries of a directory with their metadata (not following links); none when it is
/// missing.
fn read_dir(dir: &std::path::Path) -> Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_err(format!("listing {}", dir.display()))(e)),
    };
    let mut out = vec![];
    for e in rd {
        let e = e.map_err(io_err(format!("listing {}", dir.display())))?;
        let meta = std::fs::symlink_metadata(e.path())
            .map_err(io_err(format!("reading {}", e.path().display())))?;
        out.push((e.path(), meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests;
