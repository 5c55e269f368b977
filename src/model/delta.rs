//! The air-gap delta files (docs/air-gap.md, docs/json-output.md): what the far side holds
//! ([`Inventory`], written by `mirror inventory`, and the near side's ledger of shipped bundles,
//! the same shape), and what a bundle carries ([`BundleManifest`]).
//!
//! Every file carries a `checksum`: SHA-256 over its canonical JSON with `checksum` set to the
//! empty string. A file that was damaged or edited by hand is refused by name when it is loaded,
//! so a delta is never computed against a claim nobody made.
//!
//! Repositories are named by [`repository_key`]: `host[:port]/path` for a registry repository,
//! `oci:<absolute path>` for a layout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::digest::Digest;
use crate::model::prune::{PlannedDeletion, PrunedTag};
use crate::model::reference::ImageRef;

/// `format` of an inventory.
pub const INVENTORY_FORMAT: &str = "sparse-mirror.inventory.v1";
/// `format` of a ledger.
pub const LEDGER_FORMAT: &str = "sparse-mirror.ledger.v1";
/// `format` of a bundle manifest.
pub const BUNDLE_FORMAT: &str = "sparse-mirror.bundle.v1";
/// The bundle manifest's file name inside a bundle directory.
pub const BUNDLE_FILE: &str = "bundle.json";

/// What a file claims to be, and why it was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeltaFileError {
    /// Not JSON of the expected shape.
    #[error("{path}: not a {expected} file: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The format expected.
        expected: &'static str,
        /// serde's message.
        reason: String,
    },
    /// Another format or version.
    #[error(
        "{path}: format {found:?} is not {expected:?} (written by another version of mirror?)"
    )]
    Format {
        /// The file.
        path: String,
        /// The format expected.
        expected: &'static str,
        /// The format found.
        found: String,
    },
    /// The checksum does not match the content.
    #[error("{path}: checksum mismatch (the file says {stated}, its content hashes to {actual}); it was damaged or edited")]
    Checksum {
        /// The file.
        path: String,
        /// The checksum in the file.
        stated: String,
        /// The checksum of its content.
        actual: String,
    },
}

/// The key a repository is known by in the delta files: `host[:port]/path` or `oci:<path>`.
pub fn repository_key(r: &ImageRef) -> String {
    match r {
        ImageRef::Registry(r) => r.name(),
        ImageRef::Layout(l) => {
            let abs = std::path::absolute(&l.path).unwrap_or_else(|_| l.path.clone());
            format!("oci:{}", abs.display())
        }
    }
}

/// The registry part of a repository key (`None` for a layout).
pub fn registry_of(key: &str) -> Option<&str> {
    if key.starts_with("oci:") {
        return None;
    }
    key.split_once('/').map(|(h, _)| h)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch, for `created` fields.
pub fn utc_timestamp(unix_secs: u64) -> String {
    let c = crate::model::time::civil(unix_secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year,
        c.month,
        c.day,
        c.seconds / 3_600,
        c.seconds % 3_600 / 60,
        c.seconds % 60
    )
}

/// Whether a registry accepts an index whose children are not all present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SparseIndex {
    /// Probed: it accepted a probe index with a missing child.
    Accepted,
    /// Probed: it refused it with a missing-child error.
    Rejected,
    /// Not probed, or the answer settled nothing.
    #[default]
    Unknown,
}

/// One registry's facts, as the inventory found them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFacts {
    /// `host[:port]`.
    pub registry: String,
    /// Whether it takes sparse indexes (`--probe-sparse`).
    pub sparse_index: SparseIndex,
}

/// A tag and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagEntry {
    /// The tag.
    pub tag: String,
    /// The digest it named.
    pub digest: Digest,
}

/// A manifest or blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Ledger: the bundle that shipped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

/// What one repository holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// [`repository_key`].
    pub name: String,
    /// Tags, sorted.
    pub tags: Vec<TagEntry>,
    /// Manifests found (reachable from the tags and present), sorted by digest.
    pub manifests: Vec<Object>,
    /// Blobs found present (HEAD), sorted by digest.
    pub blobs: Vec<Object>,
}

/// `mirror inventory`'s file, and the near side's ledger (`format` tells which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// [`INVENTORY_FORMAT`] or [`LEDGER_FORMAT`].
    pub format: String,
    /// When it was taken (RFC 3339, UTC).
    pub created: String,
    /// `mirror <version>`.
    pub tool: String,
    /// Ledger: the bundles recorded, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<String>,
    /// Per registry.
    pub registries: Vec<RegistryFacts>,
    /// Per repository, sorted by name.
    pub repositories: Vec<Repository>,
    /// Ledger: tags bundles planned to delete (`--prune`; read by `model/far_tags.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PrunedTag>,
    /// `sha256:<hex>` of the canonical JSON with this field empty.
    pub checksum: String,
}

/// How a file is told apart and checked.
pub trait Checksummed: Serialize + for<'de> Deserialize<'de> {
    /// The `checksum` field.
    fn checksum_mut(&mut self) -> &mut String;
    /// The `format` field.
    fn format(&self) -> &str;

    /// Set `checksum` from the content; returns the pretty JSON to write.
    fn seal(&mut self) -> Vec<u8> {
        *self.checksum_mut() = String::new();
        let canonical = serde_json::to_vec(self).expect("serialisable");
        *self.checksum_mut() = Digest::sha256_of(&canonical).to_string();
        let mut out = serde_json::to_vec_pretty(self).expect("serialisable");
        out.push(b'\n');
        out
    }

    /// Parse and check format and checksum; `path` names the file in errors.
    fn open(bytes: &[u8], path: &Path, expected: &[&'static str]) -> Result<Self, DeltaFileError>
    where
        Self: Sized,
    {
        let p = path.display().to_string();
        let mut v: Self = serde_json::from_slice(bytes).map_err(|e| DeltaFileError::Parse {
            path: p.clone(),
            expected: expected[0],
            reason: e.to_string(),
        })?;
        if !expected.contains(&v.format()) {
            return Err(DeltaFileError::Format {
                path: p,
                expected: expected[0],
                found: v.format().to_string(),
            });
        }
        let stated = std::mem::take(v.checksum_mut());
        let canonical = serde_json::to_vec(&v).expect("serialisable");
        let actual = Digest::sha256_of(&canonical).to_string();
        if stated != actual {
            return Err(DeltaFileError::Checksum {
                path: p,
                stated,
                actual,
            });
        }
        *v.checksum_mut() = stated;
        Ok(v)
    }
}

impl Checksummed for Inventory {
    fn checksum_mut(&mut self) -> &mut String {
        &mut self.checksum
    }
    fn format(&self) -> &str {
        &self.format
    }
}

impl Inventory {
    /// An empty file of `format`.
    pub fn new(format: &str, created: String, tool: String) -> Self {
        Inventory {
            format: format.to_string(),
            created,
            tool,
            bundles: vec![],
            registries: vec![],
            repositories: vec![],
            pruned: vec![],
            checksum: String::new(),
        }
    }

    /// Whether this is a ledger.
    pub fn is_ledger(&self) -> bool {
        self.format == LEDGER_FORMAT
    }

    /// Sort everything and merge duplicate repositories, objects and tags, so the same content
    /// always serialises (and hashes) the same.
    pub fn normalise(&mut self) {
        let mut repos: BTreeMap<String, Repository> = BTreeMap::new();
        for r in self.repositories.drain(..) {
            let e = repos.entry(r.name.clone()).or_insert_with(|| Repository {
                name: r.name.clone(),
                tags: vec![],
                manifests: vec![],
                blobs: vec![],
            });
            e.tags.extend(r.tags);
            e.manifests.extend(r.manifests);
            e.blobs.extend(r.blobs);
        }
        for r in repos.values_mut() {
            // A tag names what the newest entry says (a ledger appends each bundle's tags).
            r.tags.reverse();
            r.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
            r.tags.dedup_by(|a, b| a.tag == b.tag);
            for v in [&mut r.manifests, &mut r.blobs] {
                // The first claim (the oldest bundle) wins.
                v.sort_by(|a, b| a.digest.as_str().cmp(b.digest.as_str()));
                v.dedup_by(|a, b| a.digest == b.digest);
            }
        }
        self.repositories = repos.into_values().collect();
        self.registries.sort_by(|a, b| a.registry.cmp(&b.registry));
        self.registries.dedup_by(|a, b| a.registry == b.registry);
    }

    /// What this file says about `registry`'s sparse-index acceptance.
    pub fn sparse_index(&self, registry: &str) -> SparseIndex {
        self.registries
            .iter()
            .find(|r| r.registry == registry)
            .map_or(SparseIndex::Unknown, |r| r.sparse_index)
    }
}

/// Who said a blob is on the far side: an inventory entry or a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// `inventory` or `ledger`.
    pub kind: String,
    /// The file, as given on the command line.
    pub file: String,
    /// The file's `created`.
    pub created: String,
    /// The file's checksum.
    pub checksum: String,
    /// The repository it listed the blob under.
    pub repository: String,
    /// Ledger: the bundle that shipped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.bundle {
            Some(b) => write!(
                f,
                "{} {} lists it under {} as shipped by bundle {}",
                self.kind, self.file, self.repository, b
            ),
            None => write!(
                f,
                "{} {} (taken {}) lists it under {}",
                self.kind, self.file, self.created, self.repository
            ),
        }
    }
}

/// Where a blob the far side holds can be found for one target repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Who said so.
    pub claim: Claim,
    /// `Some(repository)`: another repository of the same registry holds it; the apply mounts it
    /// from there.
    pub mount_from: Option<String>,
}

/// Every blob the far side is said to hold, from inventories and ledgers.
#[derive(Debug, Clone, Default)]
pub struct FarSide {
    /// repository key → digest → (size, claim).
    repos: BTreeMap<String, BTreeMap<Digest, (u64, Claim)>>,
    /// registry → repositories it has in these files.
    by_registry: BTreeMap<String, BTreeSet<String>>,
    /// registry → sparse-index facts.
    sparse: BTreeMap<String, SparseIndex>,
    /// What the delta is computed against.
    pub basis: Vec<Basis>,
}

/// One file a delta was computed against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    /// `inventory` or `ledger`.
    pub kind: String,
    /// The file, as given.
    pub file: String,
    /// Its `created`.
    pub created: String,
    /// Its checksum.
    pub checksum: String,
}

impl FarSide {
    /// Add a loaded inventory or ledger; `file` is the path as given.
    pub fn add(&mut self, inv: &Inventory, file: &str) {
        let kind = if inv.is_ledger() {
            "ledger"
        } else {
            "inventory"
        };
        self.basis.push(Basis {
            kind: kind.into(),
            file: file.into(),
            created: inv.created.clone(),
            checksum: inv.checksum.clone(),
        });
        for r in &inv.registries {
            let e = self.sparse.entry(r.registry.clone()).or_default();
            if *e == SparseIndex::Unknown {
                *e = r.sparse_index;
            }
        }
        for repo in &inv.repositories {
            if let Some(reg) = registry_of(&repo.name) {
                self.by_registry
                    .entry(reg.to_string())
                    .or_default()
                    .insert(repo.name.clone());
            }
            let m = self.repos.entry(repo.name.clone()).or_default();
            for b in &repo.blobs {
                m.entry(b.digest.clone()).or_insert_with(|| {
                    (
                        b.size,
                        Claim {
                            kind: kind.into(),
                            file: file.into(),
                            created: inv.created.clone(),
                            checksum: inv.checksum.clone(),
                            repository: repo.name.clone(),
                            bundle: b.bundle.clone(),
                        },
                    )
                });
            }
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.basis.is_empty()
    }

    /// Whether the far side holds `digest` for `repository`: in it, or (for a registry) in
    /// another repository of the same registry, to be mounted from there.
    pub fn lookup(&self, repository: &str, digest: &Digest) -> Option<Known> {
        if let Some((_, c)) = self.repos.get(repository).and_then(|m| m.get(digest)) {
            return Some(Known {
                claim: c.clone(),
                mount_from: None,
            });
        }
        let reg = registry_of(repository)?;
        for other in self.by_registry.get(reg)? {
            if let Some((_, c)) = self.repos.get(other).and_then(|m| m.get(digest)) {
                return Some(Known {
                    claim: c.clone(),
                    mount_from: Some(other.clone()),
                });
            }
        }
        None
    }

    /// Every digest [`FarSide::lookup`] finds for `repository`.
    pub fn digests_for(&self, repository: &str) -> BTreeSet<Digest> {
        let mut out: BTreeSet<Digest> = self
            .repos
            .get(repository)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(reg) = registry_of(repository) {
            for other in self.by_registry.get(reg).into_iter().flatten() {
                if let Some(m) = self.repos.get(other) {
                    out.extend(m.keys().cloned());
                }
            }
        }
        out
    }

    /// What these files say about `registry`'s sparse-index acceptance.
    pub fn sparse_index(&self, registry: &str) -> SparseIndex {
        self.sparse.get(registry).copied().unwrap_or_default()
    }
}

/// One image in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleImage {
    /// Where it was read on the near side.
    pub source: String,
    /// Where the apply pushes it (`host/repo:tag`, `host/repo@digest`, or `oci:…`).
    pub target: String,
    /// [`repository_key`] of the target.
    pub repository: String,
    /// The root digest (the source's index, unmodified).
    pub digest: Digest,
    /// The `org.opencontainers.image.ref.name` of its entry in the bundle's `index.json`.
    pub layout_ref: String,
    /// The blobs it needs that the bundle leaves out (see [`BundleManifest::left_out`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Digest>,
}

/// A blob the bundle does not carry, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    /// The blob.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// The target repository that needs it.
    pub repository: String,
    /// Who said the far side has it.
    pub claimed_by: Claim,
    /// Another repository of the same registry to mount it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_from: Option<String>,
}

/// One volume of a packed bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// File name, next to `bundle.json`.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// `sha256:<hex>` of the volume file.
    pub sha256: Digest,
}

/// Sizes, for dry runs and the docs' measurements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Manifests carried.
    pub manifests: u64,
    /// Their bytes.
    pub manifest_bytes: u64,
    /// Blobs carried.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Blobs left out.
    pub left_out: u64,
    /// Their bytes.
    pub left_out_bytes: u64,
}

impl Totals {
    /// What a full bundle of the same images would carry.
    pub fn full_bytes(&self) -> u64 {
        self.manifest_bytes + self.blob_bytes + self.left_out_bytes
    }
    /// What this one carries.
    pub fn delta_bytes(&self) -> u64 {
        self.manifest_bytes + self.blob_bytes
    }
}

/// `bundle.json`: what a bundle holds and where each image goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// A unique id (the ledger records it).
    pub id: String,
    /// When it was sealed (RFC 3339, UTC).
    pub created: String,
    /// `mirror <version>`.
    pub tool: String,
    /// The inventories and ledgers the delta was computed against (empty: a full bundle).
    pub computed_against: Vec<Basis>,
    /// The images, in the order they are applied.
    pub images: Vec<BundleImage>,
    /// Blobs left out, sorted by repository then digest.
    pub left_out: Vec<LeftOut>,
    /// The layout directory next to `bundle.json`, when not packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// The tar volumes, in order, when packed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// `--prune`: the near side's deletion plan for the far side, applied by
    /// `mirror bundle apply --prune` after the images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prune: Vec<PlannedDeletion>,
    /// Sizes.
    pub totals: Totals,
    /// `sha256:<hex>` of the canonical JSON with this field empty.
    pub checksum: String,
}

impl Checksummed for BundleManifest {
    fn checksum_mut(&mut self) -> &mut String {
        &mut self.checksum
    }
    fn format(&self) -> &str {
        &self.format
    }
}

#[cfg(test)]
mod tests;
